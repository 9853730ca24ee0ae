package iam

// SDKSafeJSON exposes sdkSafeJSON to the external tests.
var SDKSafeJSON = sdkSafeJSON

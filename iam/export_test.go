package iam

// SDKSafeJSON exposes sdkSafeJSON to the external tests.
var SDKSafeJSON = sdkSafeJSON

// S256 exposes the PKCE transform.
var S256 = s256

package auth

// DisableCache turns off v's verified-token cache, so benchmarks measure
// the signature check itself.
func DisableCache(v *Verifier) { v.noCache = true }

package auth

import (
	"errors"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Error kinds returned (wrapped) by [Verifier.Verify]. They classify why a
// token was refused, for logs and metrics only: a request with a refused
// token is a guest request and the client is never told which kind it was.
// Every error Verify returns matches exactly one of them with errors.Is.
var (
	// ErrMissing means no token was presented (empty string or a bare "Bearer").
	ErrMissing = errors.New("no token")
	// ErrMalformed means the token is not a well-formed compact JWS (segments,
	// base64url, JSON, size).
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm means the token's alg is not an accepted asymmetric
	// algorithm (none, HS*, unknown), or does not match its key.
	ErrAlgorithm = errors.New("token algorithm not accepted")
	// ErrUnknownKey means no trusted key has the token's kid, even after a
	// JWKS refresh (or the refresh was rate limited).
	ErrUnknownKey = errors.New("token signed with an unknown key")
	// ErrKeyFetch means the JWKS could not be fetched and no keys are cached.
	ErrKeyFetch = errors.New("signing keys unavailable")
	// ErrSignature means the signature does not verify with the trusted key.
	ErrSignature = errors.New("bad token signature")
	// ErrExpired means exp is in the past (beyond the leeway), or absent.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid means nbf is in the future (beyond the leeway).
	ErrNotYetValid = errors.New("token not valid yet")
	// ErrIssuer means iss is absent or differs from the configured issuer.
	ErrIssuer = errors.New("bad token issuer")
	// ErrAudience means an audience is configured and aud does not contain it.
	ErrAudience = errors.New("bad token audience")
	// ErrClaims means another claim is invalid (e.g. exp of the wrong type).
	ErrClaims = errors.New("invalid token claims")
)

// kinds lists the error kinds with their short log names, in the order
// [Reason] tests them.
var kinds = []struct {
	err  error
	name string
}{
	{ErrMissing, "missing"},
	{ErrMalformed, "malformed"},
	{ErrAlgorithm, "algorithm"},
	{ErrUnknownKey, "unknown_key"},
	{ErrKeyFetch, "key_fetch"},
	{ErrSignature, "signature"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrIssuer, "issuer"},
	{ErrAudience, "audience"},
	{ErrClaims, "claims"},
}

// Reason returns a short, stable, lower-case name for the kind of a Verify
// error ("expired", "signature", "unknown_key", …), suitable as a log field;
// "" for nil and "other" for an error that is not a Verify error.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}

// classify maps an error of the jwt parser (and of the key lookup it called)
// to one of the kinds above. header is the token's decoded header (nil if
// unknown), claims the decoded (unverified) claims when available.
func classify(err error, header map[string]any, claims jwt.MapClaims) error {
	alg, _ := header["alg"].(string)
	kid, hasKID := header["kid"]
	if _, ok := kid.(string); hasKID && !ok {
		return ErrMalformed
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	case alg == "" || !allowedAlg(alg):
		return ErrAlgorithm
	case errors.Is(err, errFetch):
		return ErrKeyFetch
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return ErrUnknownKey
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if errors.Is(err, jwt.ErrInvalidKeyType) {
			return ErrAlgorithm // e.g. ES256 header with an RSA key
		}
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// keyfunc refused the key for this alg (JWK alg mismatch).
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if _, ok := claims["exp"]; !ok {
			return ErrExpired
		}
		if _, ok := claims["iss"]; !ok {
			return ErrIssuer
		}
		return ErrAudience // the only other claim we require
	default:
		return ErrClaims
	}
}

// Package auth verifies the IAM's JWT access tokens for the handler.
//
// A [Verifier] checks a token's signature against trusted keys — static keys
// (the embedded development issuer) and/or the IAM's JWKS, fetched lazily on
// first use, cached, and refetched on an unknown kid at most once per rate
// limit window — and then its iss, aud, exp and nbf claims. Only asymmetric
// algorithms are accepted. Refused tokens come back with a classified error
// (see [Reason]) for logs; callers treat every refused token as a guest.
//
// [Discover] reads an issuer's OpenID Connect discovery document.
package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults applied by [New] to zero Config fields.
const (
	DefaultLeeway           = 60 * time.Second
	DefaultRefreshRateLimit = 5 * time.Second
	DefaultCacheTTL         = time.Hour
	DefaultFetchTimeout     = 10 * time.Second
)

// MaxTokenBytes bounds the size of a token Verify will parse.
const MaxTokenBytes = 16 << 10

// algorithms are the JWS algorithms a token may be signed with. Everything
// else — none, HS256/384/512 and unknown names — is refused.
var algorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

func allowedAlg(alg string) bool {
	for _, a := range algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// Config configures a [Verifier]. Issuer and at least one of JWKSURL or Keys
// are required.
type Config struct {
	// Issuer is the exact iss every token must carry.
	Issuer string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// JWKSURL is the IAM's JWKS (the discovery jwks_uri). Empty means only
	// Keys are trusted and no HTTP is ever done.
	JWKSURL string
	// Keys are static trusted public keys by kid (*rsa.PublicKey,
	// *ecdsa.PublicKey or ed25519.PublicKey), e.g. the embedded issuer's.
	// They are consulted before the JWKS and never refreshed.
	Keys map[string]crypto.PublicKey
	// HTTPClient fetches the JWKS; nil means http.DefaultClient. Each fetch is
	// bounded by DefaultFetchTimeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp and nbf; 0 means
	// DefaultLeeway (60 s), a negative value means none.
	Leeway time.Duration
	// RefreshRateLimit is the minimum time between two JWKS fetches; 0 means
	// DefaultRefreshRateLimit.
	RefreshRateLimit time.Duration
	// CacheTTL is the age after which a cached JWKS is refetched in the
	// background on next use (so removed keys stop being trusted); 0 means
	// DefaultCacheTTL.
	CacheTTL time.Duration
}

// Verifier verifies tokens. It is safe for concurrent use and holds no
// goroutine of its own (a JWKS fetch runs only while a Verify needs it).
type Verifier struct {
	now   func() time.Time
	cache tokenCache
	keys  *keyStore
	// noCache turns the verified-token cache off (benchmarks of the
	// signature path).
	noCache bool
	issuer  string
	parser  *jwt.Parser
	kf      keyfunc.Keyfunc
}

// New returns a Verifier for cfg. It does no I/O: the JWKS is fetched by the
// first Verify that needs it. It fails only on an invalid Config.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("new verifier: issuer is required")
	}
	if cfg.JWKSURL == "" && len(cfg.Keys) == 0 {
		return nil, errors.New("new verifier: a JWKS URL or static keys are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.RefreshRateLimit <= 0 {
		cfg.RefreshRateLimit = DefaultRefreshRateLimit
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	store, err := newKeyStore(cfg.Keys, cfg.JWKSURL, cfg.HTTPClient, cfg.Now, cfg.RefreshRateLimit, cfg.CacheTTL, DefaultFetchTimeout)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Storage: store})
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{now: cfg.Now, keys: store, issuer: cfg.Issuer, parser: jwt.NewParser(opts...), kf: kf}, nil
}

// Issuer returns the issuer tokens must carry.
func (v *Verifier) Issuer() string { return v.issuer }

// Verify verifies token — raw, or as an Authorization header value
// "Bearer <token>" — and returns its claims. JSON numbers in the claims are
// float64 (encoding/json's default), objects map[string]any, arrays []any.
//
// A token is accepted only if it is a compact JWS signed by a trusted key
// with RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA (never none or
// HS*), its iss equals the configured issuer, its
// aud contains the configured audience (when set), it has an exp not in the
// past and no nbf in the future (both within the leeway).
//
// Every error wraps exactly one of the Err* kinds of this package (see
// [Reason]); its text may include the library's detail, for logs only.
// ctx bounds waiting for a JWKS fetch.
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	token = strings.TrimSpace(token)
	if len(token) > 6 && strings.EqualFold(token[:6], "bearer") && (token[6] == ' ' || token[6] == '\t') {
		token = strings.TrimSpace(token[7:])
	} else if strings.EqualFold(token, "bearer") {
		token = ""
	}
	if token == "" {
		return nil, fmt.Errorf("verify token: %w", ErrMissing)
	}
	if len(token) > MaxTokenBytes {
		return nil, fmt.Errorf("verify token: %w: %d bytes", ErrMalformed, len(token))
	}
	now := v.now()
	snap, stale := v.keys.current(now)
	if claims, ok := v.cache.get(token, now, snap, stale); ok && !v.noCache {
		return claims, nil
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, v.kf.KeyfuncCtx(ctx))
	if err != nil {
		var header map[string]any
		if tok != nil {
			header = tok.Header
		}
		return nil, fmt.Errorf("verify token: %w: %w", classify(err, header, claims), err)
	}
	v.cache.put(token, claims, now, snap)
	return map[string]any(claims), nil
}

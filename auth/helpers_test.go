package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const testIssuer = "https://iam.test"

// signer is a signing key with its kid and JWS algorithm.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

func (s signer) public() crypto.PublicKey { return s.key.Public() }

// keyCache shares generated keys between tests (RSA generation is slow).
var keyCache sync.Map

func newSigner(tb testing.TB, kid string, method jwt.SigningMethod) signer {
	tb.Helper()
	cacheKey := kid + "/" + family(method.Alg())
	if k, ok := keyCache.Load(cacheKey); ok {
		s := k.(signer)
		s.method = method
		return s
	}
	var key crypto.Signer
	var err error
	switch method.Alg() {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		tb.Fatalf("newSigner: unsupported %s", method.Alg())
	}
	if err != nil {
		tb.Fatal(err)
	}
	stored, _ := keyCache.LoadOrStore(cacheKey, signer{kid: kid, method: method, key: key})
	s := stored.(signer)
	s.method = method
	return s
}

// family names the key type an algorithm needs.
func family(alg string) string {
	switch alg[:2] {
	case "RS", "PS":
		return "RSA"
	}
	return alg
}

// mint signs claims with s, setting the kid header when s.kid is not empty.
func mint(tb testing.TB, s signer, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// validClaims returns claims that pass a verifier for testIssuer and
// audience "base" at time now.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":     testIssuer,
		"aud":     []string{"base", "other"},
		"sub":     "acme/alice",
		"owner":   "acme",
		"iat":     now.Unix(),
		"nbf":     now.Unix(),
		"exp":     now.Add(time.Hour).Unix(),
		"isAdmin": true,
		"orgs":    []map[string]string{{"org": "acme", "role": "admin"}},
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksServer is a real HTTP JWKS endpoint whose key set can be replaced
// (rotation) and which counts the fetches it answers.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	delay   time.Duration

	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(tb testing.TB, keys ...signer) *jwksServer {
	tb.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(tb, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	tb.Cleanup(s.Close)
	return s
}

// setKeys replaces the served key set with the public keys of keys.
func (s *jwksServer) setKeys(tb testing.TB, keys ...signer) {
	tb.Helper()
	store := jwkset.NewMemoryStorage()
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: k.kid, ALG: jwkset.ALG(k.method.Alg()), USE: jwkset.UseSig,
		}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.KeyWrite(context.Background(), j); err != nil {
			tb.Fatal(err)
		}
	}
	body, err := store.JSONPublic(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	s.setBody(http.StatusOK, body)
}

func (s *jwksServer) setBody(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// jsonBody marshals v or fails the test.
func jsonBody(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// failTransport fails the test on any HTTP request.
type failTransport struct{ tb testing.TB }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.tb.Errorf("unexpected HTTP request: %s %s", r.Method, r.URL)
	return nil, http.ErrNotSupported
}

// srvlessClient returns an HTTP client that must never be used.
func srvlessClient(tb testing.TB) *http.Client { return &http.Client{Transport: failTransport{tb}} }

// jwkFor returns the public JWK of s as a JSON object.
func jwkFor(tb testing.TB, s signer) map[string]any {
	tb.Helper()
	j, err := jwkset.NewJWKFromKey(s.public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: s.kid}})
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(jsonBody(tb, j.Marshal()), &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

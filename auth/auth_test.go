package auth_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hanzoai/base/auth"
)

// newVerifier returns a verifier for testIssuer/"base" on the JWKS of srv
// with the test clock.
func newVerifier(tb testing.TB, srv *jwksServer, clk *clock, mod ...func(*auth.Config)) *auth.Verifier {
	tb.Helper()
	cfg := auth.Config{
		Issuer:     testIssuer,
		Audience:   "base",
		JWKSURL:    srv.URL + "/jwks",
		HTTPClient: srv.Client(),
		Now:        clk.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	v, err := auth.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestVerifyAcceptsAsymmetricAlgorithms(t *testing.T) {
	clk := newClock()
	methods := []jwt.SigningMethod{
		jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodRS512,
		jwt.SigningMethodPS256, jwt.SigningMethodPS384, jwt.SigningMethodPS512,
		jwt.SigningMethodES256, jwt.SigningMethodES384, jwt.SigningMethodES512,
		jwt.SigningMethodEdDSA,
	}
	// One key per family (RSA generation is slow), one kid per algorithm.
	var signers []signer
	for _, m := range methods {
		s := newSigner(t, "k-"+family(m.Alg()), m)
		s.kid = "k-" + m.Alg()
		signers = append(signers, s)
	}
	srv := newJWKSServer(t, signers...)
	v := newVerifier(t, srv, clk)
	for _, s := range signers {
		t.Run(s.method.Alg(), func(t *testing.T) {
			tok := mint(t, s, validClaims(clk.Now()))
			for _, presented := range []string{tok, "Bearer " + tok, "bearer  " + tok + " "} {
				claims, err := v.Verify(t.Context(), presented)
				if err != nil {
					t.Fatalf("Verify(%.20q…) = %v", presented, err)
				}
				if got, want := claims["sub"], "acme/alice"; got != want {
					t.Errorf("sub = %v, want %v", got, want)
				}
				if got, want := claims["exp"], float64(clk.Now().Add(time.Hour).Unix()); got != want {
					t.Errorf("exp = %#v, want float64 %v", got, want)
				}
				if got := claims["isAdmin"]; got != true {
					t.Errorf("isAdmin = %#v, want true", got)
				}
				orgs, ok := claims["orgs"].([]any)
				if !ok || len(orgs) != 1 || orgs[0].(map[string]any)["role"] != "admin" {
					t.Errorf("orgs = %#v", claims["orgs"])
				}
			}
		})
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", got)
	}
}

func TestVerifyRejects(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	good := newSigner(t, "good", jwt.SigningMethodRS256)
	ec := newSigner(t, "ec", jwt.SigningMethodES256)
	forged := signer{kid: "good", method: jwt.SigningMethodRS256, key: newSigner(t, "forger", jwt.SigningMethodRS256).key}
	srv := newJWKSServer(t, good, ec)
	v := newVerifier(t, srv, clk)

	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims(now)
		mod(c)
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(good.public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(now))
		tok.Header["kid"] = "good"
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	noneTok := func(kid bool) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(now))
		if kid {
			tok.Header["kid"] = "good"
		}
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := mint(t, good, validClaims(now))
	parts := strings.Split(valid, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	// Payload swapped for another, signature kept: must not verify.
	tampered := parts[0] + "." + b64(jsonBody(t, with(func(c jwt.MapClaims) { c["isAdmin"] = true; c["sub"] = "acme/mallory" }))) + "." + parts[2]
	// ES256 header pointing at the RSA key, signed with the EC key.
	algSwap := mint(t, signer{kid: "good", method: jwt.SigningMethodES256, key: ec.key}, validClaims(now))

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", auth.ErrMissing},
		{"bare bearer", "Bearer ", auth.ErrMissing},
		{"forged key same kid", mint(t, forged, validClaims(now)), auth.ErrSignature},
		{"tampered payload", tampered, auth.ErrSignature},
		{"truncated signature", valid[:len(valid)-10], auth.ErrSignature},
		{"alg none", noneTok(true), auth.ErrAlgorithm},
		{"alg none no kid", noneTok(false), auth.ErrAlgorithm},
		{"alg none no signature", strings.TrimSuffix(noneTok(true), "."), auth.ErrMalformed},
		{"HS256 with public key PEM", hs(pubPEM), auth.ErrAlgorithm},
		{"HS256 with public key DER", hs(pubDER), auth.ErrAlgorithm},
		{"ES256 header on RSA key", algSwap, auth.ErrAlgorithm},
		{"unknown alg", b64([]byte(`{"alg":"XS999","kid":"good"}`)) + "." + parts[1] + "." + parts[2], auth.ErrAlgorithm},
		{"kid not a string", b64([]byte(`{"alg":"RS256","kid":["good"]}`)) + "." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"missing alg", b64([]byte(`{"kid":"good"}`)) + "." + parts[1] + "." + parts[2], auth.ErrAlgorithm},
		{"expired beyond leeway", mint(t, good, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-61 * time.Second).Unix() })), auth.ErrExpired},
		{"no exp", mint(t, good, with(func(c jwt.MapClaims) { delete(c, "exp") })), auth.ErrExpired},
		{"not yet valid", mint(t, good, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), auth.ErrNotYetValid},
		{"wrong issuer", mint(t, good, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), auth.ErrIssuer},
		{"issuer with trailing slash", mint(t, good, with(func(c jwt.MapClaims) { c["iss"] = testIssuer + "/" })), auth.ErrIssuer},
		{"no issuer", mint(t, good, with(func(c jwt.MapClaims) { delete(c, "iss") })), auth.ErrIssuer},
		{"wrong audience", mint(t, good, with(func(c jwt.MapClaims) { c["aud"] = "other-app" })), auth.ErrAudience},
		{"no audience", mint(t, good, with(func(c jwt.MapClaims) { delete(c, "aud") })), auth.ErrAudience},
		{"exp wrong type", mint(t, good, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), auth.ErrClaims},
		{"unknown kid", mint(t, newSigner(t, "stranger", jwt.SigningMethodRS256), validClaims(now)), auth.ErrUnknownKey},
		{"two segments", parts[0] + "." + parts[1], auth.ErrMalformed},
		{"four segments", valid + ".x", auth.ErrMalformed},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"bad json payload", parts[0] + "." + b64([]byte(`{"iss":`)) + "." + parts[2], auth.ErrMalformed},
		{"payload not an object", parts[0] + "." + b64([]byte(`[1,2]`)) + "." + parts[2], auth.ErrMalformed},
		{"huge", strings.Repeat("a", auth.MaxTokenBytes+1), auth.ErrMalformed},
		{"garbage", "not a token", auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(t.Context(), tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %v", claims)
			}
			if claims != nil {
				t.Errorf("claims = %v, want nil on error", claims)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v (reason %q), want %v", err, auth.Reason(err), tt.want)
			}
			if auth.Reason(err) == "other" || auth.Reason(err) == "" {
				t.Errorf("Reason(%v) = %q", err, auth.Reason(err))
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newSigner(t, "good", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	claims := func(exp, nbf time.Duration) jwt.MapClaims {
		c := validClaims(now)
		c["exp"], c["nbf"] = now.Add(exp).Unix(), now.Add(nbf).Unix()
		return c
	}
	tests := []struct {
		name     string
		leeway   time.Duration
		exp, nbf time.Duration
		want     error
	}{
		{"default leeway covers expired 59s ago", 0, -59 * time.Second, -time.Hour, nil},
		{"default leeway covers nbf 59s ahead", 0, time.Hour, 59 * time.Second, nil},
		{"default leeway stops at 60s", 0, -61 * time.Second, -time.Hour, auth.ErrExpired},
		{"negative means none", -1, -time.Second, -time.Hour, auth.ErrExpired},
		{"negative means none for nbf", -1, time.Hour, time.Second, auth.ErrNotYetValid},
		{"custom leeway", 5 * time.Second, -4 * time.Second, -time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, srv, clk, func(c *auth.Config) { c.Leeway = tt.leeway })
			_, err := v.Verify(t.Context(), mint(t, k, claims(tt.exp, tt.nbf)))
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyWithoutAudienceConfigured(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "good", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	v := newVerifier(t, srv, clk, func(c *auth.Config) { c.Audience = "" })
	c := validClaims(clk.Now())
	delete(c, "aud")
	if _, err := v.Verify(t.Context(), mint(t, k, c)); err != nil {
		t.Fatalf("token without aud refused with no audience configured: %v", err)
	}
}

func TestVerifyTokenWithoutKid(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "good", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	v := newVerifier(t, srv, clk)
	anon := signer{method: k.method, key: k.key}
	if _, err := v.Verify(t.Context(), mint(t, anon, validClaims(clk.Now()))); err != nil {
		t.Fatalf("token without kid signed by a trusted key: %v", err)
	}
	other := signer{method: k.method, key: newSigner(t, "forger", jwt.SigningMethodRS256).key}
	if _, err := v.Verify(t.Context(), mint(t, other, validClaims(clk.Now()))); !errors.Is(err, auth.ErrSignature) {
		t.Fatalf("token without kid signed by an untrusted key: err = %v, want ErrSignature", err)
	}
}

func TestStaticKeysNeverUseHTTP(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "static", jwt.SigningMethodRS256)
	client := srvlessClient(t)
	v, err := auth.New(t.Context(), auth.Config{
		Issuer:     testIssuer,
		Keys:       map[string]crypto.PublicKey{"static": k.public()},
		HTTPClient: client,
		Now:        clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(t.Context(), mint(t, k, validClaims(clk.Now())))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims["owner"] != "acme" {
		t.Errorf("owner = %v", claims["owner"])
	}
	_, err = v.Verify(t.Context(), mint(t, newSigner(t, "stranger", jwt.SigningMethodRS256), validClaims(clk.Now())))
	if !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("unknown kid: err = %v, want ErrUnknownKey", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	k := newSigner(t, "static", jwt.SigningMethodRS256)
	tests := []struct {
		name string
		cfg  auth.Config
	}{
		{"no issuer", auth.Config{JWKSURL: "https://iam.test/jwks"}},
		{"no keys", auth.Config{Issuer: testIssuer}},
		{"nil static key", auth.Config{Issuer: testIssuer, Keys: map[string]crypto.PublicKey{"x": nil}}},
		{"unsupported static key", auth.Config{Issuer: testIssuer, Keys: map[string]crypto.PublicKey{"x": []byte("secret")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.New(t.Context(), tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	if _, err := auth.New(t.Context(), auth.Config{Issuer: testIssuer, Keys: map[string]crypto.PublicKey{"k": k.public()}}); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestReason(t *testing.T) {
	if got := auth.Reason(nil); got != "" {
		t.Errorf("Reason(nil) = %q", got)
	}
	if got := auth.Reason(errors.New("x")); got != "other" {
		t.Errorf("Reason(other) = %q", got)
	}
	if got := auth.Reason(auth.ErrExpired); got != "expired" {
		t.Errorf("Reason(ErrExpired) = %q", got)
	}
}

package auth_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hanzoai/base/auth"
)

func TestNewDoesNotTouchTheNetwork(t *testing.T) {
	k := newSigner(t, "a", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	// A listener that accepts connections and never answers: a blocking
	// fetch in New would hang here.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, url := range []string{srv.URL + "/jwks", "http://" + ln.Addr().String() + "/jwks"} {
		start := time.Now()
		if _, err := auth.New(t.Context(), auth.Config{Issuer: testIssuer, JWKSURL: url}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("New(%s) took %v", url, d)
		}
	}
	if got := srv.fetches.Load(); got != 0 {
		t.Fatalf("New fetched the JWKS %d times, want 0 (lazy)", got)
	}
}

func TestJWKSRotationAndRateLimit(t *testing.T) {
	clk := newClock()
	a := newSigner(t, "a", jwt.SigningMethodRS256)
	b := newSigner(t, "b", jwt.SigningMethodES256)
	stranger := newSigner(t, "stranger", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, a)
	v := newVerifier(t, srv, clk, func(c *auth.Config) { c.RefreshRateLimit = 5 * time.Second })

	verify := func(s signer) error {
		t.Helper()
		_, err := v.Verify(t.Context(), mint(t, s, validClaims(clk.Now())))
		return err
	}
	wantFetches := func(n int64) {
		t.Helper()
		if got := srv.fetches.Load(); got != n {
			t.Fatalf("JWKS fetched %d times, want %d", got, n)
		}
	}

	wantFetches(0)
	if err := verify(a); err != nil {
		t.Fatalf("first token: %v", err)
	}
	wantFetches(1)
	for range 10 {
		if err := verify(a); err != nil {
			t.Fatal(err)
		}
	}
	wantFetches(1) // cached

	// The IAM rotates: b replaces a. Enough time has passed since the
	// first fetch, so the unknown kid triggers one refetch.
	clk.Advance(6 * time.Second)
	srv.setKeys(t, b)
	if err := verify(b); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	wantFetches(2)
	// The refetched set replaced the cache: a is gone.
	if err := verify(a); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("removed key: err = %v, want ErrUnknownKey", err)
	}
	wantFetches(2) // rate limited: within 5 s of the last fetch

	// A flood of unknown kids within the window costs no fetch.
	for range 20 {
		if err := verify(stranger); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("unknown kid: err = %v", err)
		}
	}
	wantFetches(2)
	clk.Advance(4 * time.Second)
	verify(stranger)
	wantFetches(2)

	// After the window, one more fetch, then rate limited again.
	clk.Advance(2 * time.Second)
	for range 5 {
		if err := verify(stranger); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("unknown kid: err = %v", err)
		}
	}
	wantFetches(3)
	if err := verify(b); err != nil {
		t.Fatalf("known key after refetch: %v", err)
	}
	wantFetches(3)
}

func TestJWKSConcurrentColdStartFetchesOnce(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "a", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	srv.delay = 100 * time.Millisecond
	v := newVerifier(t, srv, clk)
	tok := mint(t, k, validClaims(clk.Now()))

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			if _, err := v.Verify(t.Context(), tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify: %v", err)
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("64 concurrent cold verifications fetched the JWKS %d times, want 1", got)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "a", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	srv.setBody(http.StatusInternalServerError, []byte(`<html>oops</html>`))
	v := newVerifier(t, srv, clk)
	tok := mint(t, k, validClaims(clk.Now()))

	for range 5 {
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, auth.ErrKeyFetch) {
			t.Fatalf("err = %v, want ErrKeyFetch", err)
		}
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("failing JWKS fetched %d times within the window, want 1", got)
	}

	// The IAM recovers; after the window the next request succeeds.
	srv.setKeys(t, k)
	clk.Advance(auth.DefaultRefreshRateLimit + time.Second)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}

	// A later outage keeps the cached keys working.
	srv.setBody(http.StatusBadGateway, nil)
	clk.Advance(auth.DefaultRefreshRateLimit + time.Second)
	stranger := newSigner(t, "stranger", jwt.SigningMethodRS256)
	if _, err := v.Verify(t.Context(), mint(t, stranger, validClaims(clk.Now()))); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("unknown kid during outage: err = %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("cached key during outage: %v", err)
	}
}

func TestJWKSSkipsUnusableKeys(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "a", jwt.SigningMethodRS256)
	srv := newJWKSServer(t)
	// A set with a symmetric key, an encryption key, a broken key and one
	// good RSA key: only the good one is trusted.
	good := jwkFor(t, k)
	srv.setBody(http.StatusOK, jsonBody(t, map[string]any{"keys": []any{
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": good["n"], "e": good["e"]},
		map[string]any{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
		good,
	}}))
	v := newVerifier(t, srv, clk)
	if _, err := v.Verify(t.Context(), mint(t, k, validClaims(clk.Now()))); err != nil {
		t.Fatalf("good key: %v", err)
	}
	enc := signer{kid: "enc", method: k.method, key: k.key}
	if _, err := v.Verify(t.Context(), mint(t, enc, validClaims(clk.Now()))); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("enc key: err = %v, want ErrUnknownKey", err)
	}
	hmacTok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(clk.Now()))
	hmacTok.Header["kid"] = "hmac"
	s, _ := hmacTok.SignedString([]byte("secret"))
	if _, err := v.Verify(t.Context(), s); !errors.Is(err, auth.ErrAlgorithm) {
		t.Fatalf("oct key: err = %v, want ErrAlgorithm", err)
	}
}

func TestJWKSCacheTTLRefreshesInBackground(t *testing.T) {
	clk := newClock()
	a := newSigner(t, "a", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, a)
	v := newVerifier(t, srv, clk, func(c *auth.Config) { c.CacheTTL = time.Minute })
	tok := func() string { return mint(t, a, validClaims(clk.Now())) }
	if _, err := v.Verify(t.Context(), tok()); err != nil {
		t.Fatal(err)
	}
	// The IAM revokes a. Once the cache is stale, the next use still
	// succeeds (stale-while-revalidate) and refreshes in the background.
	srv.setKeys(t, newSigner(t, "b", jwt.SigningMethodRS256))
	clk.Advance(2 * time.Minute)
	if _, err := v.Verify(t.Context(), tok()); err != nil {
		t.Fatalf("stale cache: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok())
		if errors.Is(err, auth.ErrUnknownKey) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still trusted after the background refresh: err = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

func TestVerifyHonoursContextWhileFetching(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "a", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	srv.delay = 500 * time.Millisecond
	v := newVerifier(t, srv, clk)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, mint(t, k, validClaims(clk.Now())))
	if !errors.Is(err, auth.ErrKeyFetch) {
		t.Fatalf("err = %v, want ErrKeyFetch", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("Verify waited %v after its context ended", d)
	}
	// The fetch it started completes for later requests.
	time.Sleep(600 * time.Millisecond)
	if _, err := v.Verify(t.Context(), mint(t, k, validClaims(clk.Now()))); err != nil {
		t.Fatalf("after the fetch completed: %v", err)
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
}

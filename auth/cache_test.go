package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hanzoai/base/auth"
)

// TestCacheNeverOutlivesToken verifies a token repeatedly (cache hits) and
// checks that once it expires the cached result is not served: the token is
// refused exactly as without the cache.
func TestCacheNeverOutlivesToken(t *testing.T) {
	clk := newClock()
	k := newSigner(t, "k1", jwt.SigningMethodRS256)
	srv := newJWKSServer(t, k)
	v := newVerifier(t, srv, clk)
	claims := validClaims(clk.Now())
	claims["exp"] = clk.Now().Add(30 * time.Second).Unix()
	tok := mint(t, k, claims)
	for i := 0; i < 3; i++ {
		got, err := v.Verify(t.Context(), tok)
		if err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
		if got["sub"] != "acme/alice" {
			t.Fatalf("sub = %v", got["sub"])
		}
	}
	clk.Advance(30*time.Second + auth.DefaultLeeway + time.Second)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("after expiry: err = %v, want ErrExpired", err)
	}
	// A tampered copy of a cached token is not a cache hit.
	clk2 := newClock()
	v2 := newVerifier(t, srv, clk2)
	good := mint(t, k, validClaims(clk2.Now()))
	if _, err := v2.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	bad := good[:len(good)-4] + "AAAA"
	if bad == good {
		bad = good[:len(good)-4] + "BBBB"
	}
	if _, err := v2.Verify(t.Context(), bad); err == nil {
		t.Fatal("tampered token accepted")
	}
}

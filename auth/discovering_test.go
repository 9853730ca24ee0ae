package auth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hanzoai/base/auth"
)

// TestDiscoveringVerifierRecovers starts with the IAM down: tokens are
// refused (ErrKeyFetch) and nothing is retried within the interval; once the
// IAM answers, the next attempt discovers it and the same token verifies.
func TestDiscoveringVerifierRecovers(t *testing.T) {
	k := newSigner(t, "k1", jwt.SigningMethodRS256)
	jwks := newJWKSServer(t, k)
	var up atomic.Bool
	var discoveries atomic.Int32
	var iam *httptest.Server
	iam = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		discoveries.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": testIssuer, "jwks_uri": jwks.URL, "authorization_endpoint": iam.URL + "/authorize",
		})
	}))
	t.Cleanup(iam.Close)

	v := auth.NewDiscovering(iam.URL, auth.Config{})
	tok := mint(t, k, validClaims(time.Now()))
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, auth.ErrKeyFetch) {
		t.Fatalf("IAM down: err = %v, want ErrKeyFetch", err)
	}
	up.Store(true)
	// Within the retry interval the failure is remembered, not retried.
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, auth.ErrKeyFetch) {
		t.Fatalf("within retry interval: err = %v, want ErrKeyFetch", err)
	}
	if n := discoveries.Load(); n != 0 {
		t.Fatalf("discovery retried within the interval (%d)", n)
	}
	deadline := time.Now().Add(auth.DefaultDiscoveryRetry + 3*time.Second)
	for {
		claims, err := v.Verify(t.Context(), tok)
		if err == nil {
			if claims["sub"] != "acme/alice" {
				t.Fatalf("sub = %v", claims["sub"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("IAM back up but tokens still refused: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d, err := v.Document(t.Context())
	if err != nil || d.AuthorizationEndpoint != iam.URL+"/authorize" {
		t.Fatalf("Document = %+v, %v", d, err)
	}
	if n := discoveries.Load(); n != 1 {
		t.Fatalf("discoveries = %d, want 1", n)
	}
}

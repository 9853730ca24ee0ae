package iam_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

func TestHandler(t *testing.T) {
	d := openIssuer(t, t.TempDir(), "http://127.0.0.1:8090")
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()

	get := func(t *testing.T, method, path string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if method != http.MethodHead && resp.StatusCode != http.StatusNoContent {
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("%s %s: body is not JSON (%v): %q", method, path, err, body)
			}
		}
		return resp, m
	}

	t.Run("discovery", func(t *testing.T) {
		for _, path := range []string{iam.PathDiscovery, iam.PathIAMDiscovery} {
			resp, doc := get(t, http.MethodGet, path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s: not CORS-open", path)
			}
			want := map[string]any{
				"issuer":                        "http://127.0.0.1:8090",
				"jwks_uri":                      "http://127.0.0.1:8090/v1/iam/.well-known/jwks",
				"authorization_endpoint":        "http://127.0.0.1:8090/v1/iam/oauth/authorize",
				"token_endpoint":                "http://127.0.0.1:8090/v1/iam/oauth/token",
				"userinfo_endpoint":             "http://127.0.0.1:8090/v1/iam/oauth/userinfo",
				"introspection_endpoint":        "http://127.0.0.1:8090/v1/iam/oauth/introspect",
				"revocation_endpoint":           "http://127.0.0.1:8090/v1/iam/oauth/revoke",
				"end_session_endpoint":          "http://127.0.0.1:8090/v1/iam/oauth/logout",
				"device_authorization_endpoint": "http://127.0.0.1:8090/v1/iam/oauth/device",
			}
			for k, v := range want {
				if doc[k] != v {
					t.Errorf("%s: %s = %v, want %v", path, k, doc[k], v)
				}
			}
			for k, v := range map[string]string{
				"response_types_supported":              `["code"]`,
				"code_challenge_methods_supported":      `["S256"]`,
				"token_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post","none"]`,
				"id_token_signing_alg_values_supported": `["RS256"]`,
			} {
				if got := string(mustJSON(t, doc[k])); got != v {
					t.Errorf("%s: %s = %s, want %s", path, k, got, v)
				}
			}
		}
	})

	t.Run("jwks", func(t *testing.T) {
		for _, path := range []string{iam.PathJWKS, iam.PathRootJWKS} {
			resp, doc := get(t, http.MethodGet, path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
			keys, _ := doc["keys"].([]any)
			if len(keys) != 1 {
				t.Fatalf("%s: keys = %v", path, doc["keys"])
			}
			k := keys[0].(map[string]any)
			if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] != d.KeyID() {
				t.Errorf("%s: key = %v", path, k)
			}
			if _, ok := k["d"]; ok {
				t.Fatalf("%s: JWKS leaks the private exponent", path)
			}
			n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
			e, _ := base64.RawURLEncoding.DecodeString(k["e"].(string))
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if !pub.Equal(d.PublicKeys()[d.KeyID()]) {
				t.Errorf("%s: served key differs from PublicKeys()", path)
			}
		}
	})

	t.Run("head and preflight", func(t *testing.T) {
		if resp, _ := get(t, http.MethodHead, iam.PathJWKS); resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD: status %d", resp.StatusCode)
		}
		if resp, _ := get(t, http.MethodOptions, iam.PathDiscovery); resp.StatusCode != http.StatusNoContent {
			t.Errorf("OPTIONS: status %d", resp.StatusCode)
		}
	})

	errorsTests := []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, iam.PathJWKS, http.StatusMethodNotAllowed},
		{http.MethodGet, iam.PathAuthorize, http.StatusNotImplemented},
		{http.MethodPost, iam.PathToken, http.StatusNotImplemented},
		{http.MethodGet, iam.PathUserinfo, http.StatusNotImplemented},
		{http.MethodPost, iam.PathIntrospect, http.StatusNotImplemented},
		{http.MethodPost, iam.PathRevoke, http.StatusNotImplemented},
		{http.MethodGet, iam.PathLogout, http.StatusNotImplemented},
		{http.MethodPost, iam.PathDevice, http.StatusNotImplemented},
		{http.MethodPost, iam.PathLogin, http.StatusNotImplemented},
		{http.MethodGet, "/v1/iam/nope", http.StatusNotFound},
		{http.MethodGet, "/.well-known/other", http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
	}
	for _, tt := range errorsTests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := get(t, tt.method, tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if body["code"] != float64(tt.status) || body["message"] == "" || body["error"] == "" {
				t.Errorf("envelope = %v", body)
			}
			if _, ok := body["data"].(map[string]any); !ok {
				t.Errorf("envelope data = %v", body["data"])
			}
		})
	}
}

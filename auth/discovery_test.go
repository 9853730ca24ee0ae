package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hanzoai/base/auth"
)

func TestDiscover(t *testing.T) {
	var doc any
	status := http.StatusOK
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path != auth.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(jsonBody(t, doc))
	}))
	defer srv.Close()

	good := map[string]any{
		"issuer":                   srv.URL,
		"jwks_uri":                 srv.URL + "/v1/iam/.well-known/jwks",
		"authorization_endpoint":   srv.URL + "/v1/iam/oauth/authorize",
		"token_endpoint":           srv.URL + "/v1/iam/oauth/token",
		"userinfo_endpoint":        srv.URL + "/v1/iam/oauth/userinfo",
		"end_session_endpoint":     srv.URL + "/v1/iam/oauth/logout",
		"response_types_supported": []string{"code"},
	}
	for _, endpoint := range []string{srv.URL, srv.URL + "/", srv.URL + auth.WellKnownPath} {
		doc, status, paths = good, http.StatusOK, nil
		d, err := auth.Discover(t.Context(), srv.Client(), endpoint)
		if err != nil {
			t.Fatalf("Discover(%q): %v", endpoint, err)
		}
		want := auth.Discovery{
			Issuer:                srv.URL,
			JWKSURI:               srv.URL + "/v1/iam/.well-known/jwks",
			AuthorizationEndpoint: srv.URL + "/v1/iam/oauth/authorize",
			TokenEndpoint:         srv.URL + "/v1/iam/oauth/token",
			UserinfoEndpoint:      srv.URL + "/v1/iam/oauth/userinfo",
			EndSessionEndpoint:    srv.URL + "/v1/iam/oauth/logout",
		}
		if d != want {
			t.Errorf("Discover(%q) = %+v, want %+v", endpoint, d, want)
		}
		if len(paths) != 1 || paths[0] != auth.WellKnownPath {
			t.Errorf("requested %v", paths)
		}
	}

	bad := []struct {
		name   string
		status int
		doc    any
	}{
		{"404", http.StatusNotFound, good},
		{"html", http.StatusOK, "<html>login</html>"},
		{"no issuer", http.StatusOK, map[string]any{"jwks_uri": srv.URL + "/jwks"}},
		{"no jwks_uri", http.StatusOK, map[string]any{"issuer": srv.URL}},
		{"relative jwks_uri", http.StatusOK, map[string]any{"issuer": srv.URL, "jwks_uri": "/jwks"}},
		{"non-http jwks_uri", http.StatusOK, map[string]any{"issuer": srv.URL, "jwks_uri": "file:///etc/passwd"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			doc, status = tt.doc, tt.status
			if d, err := auth.Discover(t.Context(), srv.Client(), srv.URL); err == nil {
				t.Fatalf("Discover accepted %v: %+v", tt.doc, d)
			}
		})
	}
	if _, err := auth.Discover(t.Context(), nil, "not a url"); err == nil {
		t.Fatal("Discover accepted an invalid endpoint")
	}
}

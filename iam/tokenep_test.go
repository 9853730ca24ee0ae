package iam_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
)

// TestTokenEndpointErrors: every failure of the token endpoint answers the
// RFC 6749 §5.2 code with its exact status, and a failed HTTP Basic client
// authentication carries a WWW-Authenticate challenge (a form one does not).
func TestTokenEndpointErrors(t *testing.T) {
	ti := newTestIAM(t)
	// A refresh token of scope "openid" for the up-scoping case.
	st, pw := ti.token(t, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob-password"}, "scope": {"openid"}},
		"Authorization", basic("web", "web-secret"))
	if st != 200 || pw["refresh_token"] == nil {
		t.Fatalf("password grant: %d %v", st, pw)
	}
	// A code issued to web without PKCE (a confidential client may omit it).
	webCode := func() string {
		return ti.login(t, "web", "https://web.example/cb", "", "bob", "bob-password")
	}
	verifier, challenge := pkcePair("tokenep")
	tests := []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
		error  string
		basic  bool // WWW-Authenticate: Basic expected
	}{
		{"basic, wrong secret", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", basic("web", "nope")}, 401, "invalid_client", true},
		{"basic, unknown client", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", basic("ghost", "x")}, 401, "invalid_client", true},
		{"form, wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}, "client_secret": {"nope"}}, nil, 401, "invalid_client", false},
		{"form, unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ghost"}}, nil, 401, "invalid_client", false},
		{"confidential client without its secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}}, nil, 401, "invalid_client", false},
		{"no client at all", url.Values{"grant_type": {"client_credentials"}}, nil, 401, "invalid_client", false},
		{"public client with a secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"spa"}, "client_secret": {"s"}}, nil, 401, "invalid_client", false},
		{"basic and form secret together", url.Values{"grant_type": {"client_credentials"}, "client_secret": {"web-secret"}}, []string{"Authorization", basic("web", "web-secret")}, 400, "invalid_request", false},
		{"no grant_type", url.Values{"client_id": {"spa"}}, nil, 400, "invalid_request", false},
		{"unsupported grant_type", url.Values{"grant_type": {"implicit"}, "client_id": {"spa"}}, nil, 400, "unsupported_grant_type", false},
		{"grant type not allowed for the client", url.Values{"grant_type": {"password"}, "client_id": {"spa"}, "username": {"bob"}, "password": {"bob-password"}}, nil, 400, "unauthorized_client", false},
		{"public client, client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, nil, 400, "unauthorized_client", false},
		{"client_credentials, scope not allowed", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, []string{"Authorization", basic("web", "web-secret")}, 400, "invalid_scope", false},
		{"refresh, scope not granted", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw["refresh_token"].(string)}, "scope": {"openid email"}},
			[]string{"Authorization", basic("web", "web-secret")}, 400, "invalid_scope", false},
		{"password, wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, []string{"Authorization", basic("web", "web-secret")}, 400, "invalid_grant", false},
		{"refresh, unknown token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {"spa"}}, nil, 400, "invalid_grant", false},
		{"code, verifier without a challenge", url.Values{"grant_type": {"authorization_code"}, "code": {webCode()}, "redirect_uri": {"https://web.example/cb"}, "code_verifier": {verifier}},
			[]string{"Authorization", basic("web", "web-secret")}, 400, "invalid_grant", false},
		{"code of another client", url.Values{"grant_type": {"authorization_code"}, "code": {ti.login(t, "spa", "http://127.0.0.1:9999/cb", challenge, "bob", "bob-password")},
			"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}}, []string{"Authorization", basic("web", "web-secret")}, 400, "invalid_grant", false},
		{"device code, unknown", url.Values{"grant_type": {iam.GrantDeviceCode}, "device_code": {"nope"}, "client_id": {"spa"}}, nil, 400, "invalid_grant", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ti.do(t, "POST", iam.PathToken, tt.form, tt.hdr...)
			m := jsonOf(t, body)
			if resp.StatusCode != tt.status || m["error"] != tt.error {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, m, tt.status, tt.error)
			}
			if d, _ := m["error_description"].(string); d == "" {
				t.Errorf("no error_description: %v", m)
			}
			www := resp.Header.Get("WWW-Authenticate")
			if tt.basic != strings.HasPrefix(www, "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge: %v", www, tt.basic)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("error response is cacheable: %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
	// A confidential client's code without PKCE redeems (PKCE is required
	// only of public clients and whenever a challenge was sent).
	if st, m := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {webCode()}, "redirect_uri": {"https://web.example/cb"}},
		"Authorization", basic("web", "web-secret")); st != 200 {
		t.Fatalf("confidential code without PKCE: %d %v", st, m)
	}
}

// TestDeviceFlowRefusals: a denied device answers access_denied and an
// expired device code expired_token (RFC 8628 §3.5).
func TestDeviceFlowRefusals(t *testing.T) {
	ti := newTestIAM(t, func(c *iam.Config) { c.DeviceInterval = time.Second })
	start := func() (deviceCode, userCode string) {
		_, body := ti.do(t, "POST", iam.PathDevice, url.Values{"client_id": {"spa"}})
		da := jsonOf(t, body)
		return da["device_code"].(string), da["user_code"].(string)
	}
	poll := func(dc string) (int, map[string]any) {
		return ti.token(t, url.Values{"grant_type": {iam.GrantDeviceCode}, "client_id": {"spa"}, "device_code": {dc}})
	}
	dc, uc := start()
	resp, body := ti.do(t, "POST", iam.PathDevicePage, url.Values{"user_code": {uc}, "action": {"deny"}})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "not connected") {
		t.Fatalf("deny: %d %s", resp.StatusCode, body)
	}
	if st, m := poll(dc); st != 400 || m["error"] != "access_denied" {
		t.Fatalf("denied device: %d %v", st, m)
	}
	dc, _ = start()
	ti.clock.Add(601)
	defer ti.clock.Add(-601)
	if st, m := poll(dc); st != 400 || m["error"] != "expired_token" {
		t.Fatalf("expired device code: %d %v", st, m)
	}
}

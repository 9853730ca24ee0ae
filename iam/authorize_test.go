package iam_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// TestRedirectURIMatching: redirect URIs match the registered ones
// exactly; only loopback http URIs may differ, and only in the port
// (RFC 8252 §7.3). A refused URI gets an error page, never a redirect.
func TestRedirectURIMatching(t *testing.T) {
	ti := newTestIAM(t) // spa: http://127.0.0.1:9999/cb, https://app.example/cb
	_, challenge := pkcePair("redirects")
	for _, tt := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example/cb", true},
		{"http://127.0.0.1:9999/cb", true},
		{"http://127.0.0.1:1234/cb", true},
		{"http://127.0.0.1/cb", true},
		{"", false},
		{"https://app.example/cb/", false},
		{"https://app.example/cb?x=1", false},
		{"https://app.example/cb#frag", false},
		{"https://APP.example/cb", false},
		{"https://app.example:443/cb", false},
		{"https://app.example:8443/cb", false},
		{"http://app.example/cb", false},
		{"https://app.example/CB", false},
		{"https://app.example.evil/cb", false},
		{"http://127.0.0.1:1234/other", false},
		{"http://127.0.0.1:1234/cb?x=1", false},
		{"https://127.0.0.1:9999/cb", false},
		{"http://localhost:9999/cb", false},
		{"http://[::1]:9999/cb", false},
	} {
		t.Run(tt.uri, func(t *testing.T) {
			q := url.Values{"client_id": {"spa"}, "redirect_uri": {tt.uri}, "response_type": {"code"}, "state": {"st"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			resp, _ := ti.do(t, "GET", iam.PathAuthorize+"?"+q.Encode(), nil)
			if tt.ok && resp.StatusCode != 200 || !tt.ok && resp.StatusCode != 400 {
				t.Fatalf("status %d, want ok=%v", resp.StatusCode, tt.ok)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("redirected to %s", loc)
			}
		})
	}
}

// TestStateAndNonce: state is echoed on the code redirect and on error
// redirects (with iss); nonce is echoed exactly in the ID token when sent
// and absent when not.
func TestStateAndNonce(t *testing.T) {
	ti := newTestIAM(t)
	const cb = "http://127.0.0.1:9999/cb"
	const state = "s t/ä?&=1"
	// An error redirect echoes state.
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {cb}, "response_type": {"code"}, "state": {state}}
	resp, _ := ti.do(t, "GET", iam.PathAuthorize+"?"+q.Encode(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != state || loc.Query().Get("iss") != ti.Issuer() {
		t.Fatalf("error redirect %d %s", resp.StatusCode, loc)
	}
	// Without state, none is added.
	q.Del("state")
	resp, _ = ti.do(t, "GET", iam.PathAuthorize+"?"+q.Encode(), nil)
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Has("state") {
		t.Fatalf("state invented: %s", loc)
	}

	for _, nonce := range []string{"", "n-\u00e9 +/=x"} {
		verifier, challenge := pkcePair("nonce" + nonce)
		q := url.Values{"client_id": {"spa"}, "redirect_uri": {cb}, "response_type": {"code"}, "scope": {"openid"}, "state": {state},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "username": {"bob"}, "password": {"bob-password"}}
		if nonce != "" {
			q.Set("nonce", nonce)
		}
		ti.client.Jar = nil // no SSO session: the form is posted
		resp, _ := ti.do(t, "POST", iam.PathAuthorize, q)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("state") != state {
			t.Fatalf("code redirect %d %s", resp.StatusCode, loc)
		}
		st, tok := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {loc.Query().Get("code")},
			"redirect_uri": {cb}, "code_verifier": {verifier}})
		if st != 200 {
			t.Fatalf("token: %d %v", st, tok)
		}
		idc := payload(t, tok["id_token"].(string))
		got, has := idc["nonce"]
		if nonce == "" && has || nonce != "" && got != nonce {
			t.Fatalf("nonce %q (present %v), sent %q", got, has, nonce)
		}
		sum := sha256.Sum256([]byte(tok["access_token"].(string)))
		if idc["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) {
			t.Fatalf("at_hash %v does not hash the access token", idc["at_hash"])
		}
	}
}

// TestSessionCookieFlags: the SSO session cookie is HttpOnly,
// SameSite=Lax, scoped to /v1/iam/, and Secure on TLS, behind a proxy that
// says X-Forwarded-Proto: https, or when configured; logout expires it.
func TestSessionCookieFlags(t *testing.T) {
	for _, tt := range []struct {
		name   string
		url    string // https: r.TLS is set
		hdr    map[string]string
		force  bool
		secure bool
	}{
		{"plain http", "http://iam.test", nil, false, false},
		{"tls", "https://iam.test", nil, false, true},
		{"forwarded https", "http://iam.test", map[string]string{"X-Forwarded-Proto": "https"}, false, true},
		{"forwarded http", "http://iam.test", map[string]string{"X-Forwarded-Proto": "http"}, false, false},
		{"SecureCookies", "http://iam.test", nil, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ti := newTestIAM(t, func(c *iam.Config) { c.SecureCookies = tt.force })
			_, challenge := pkcePair("cookie")
			form := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "username": {"bob"}, "password": {"bob-password"}}
			serve := func(method, path string, body string) *http.Response {
				r := httptest.NewRequest(method, tt.url+path, strings.NewReader(body))
				if body != "" {
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				for k, v := range tt.hdr {
					r.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				ti.Handler().ServeHTTP(rec, r)
				return rec.Result()
			}
			resp := serve("POST", iam.PathAuthorize, form.Encode())
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			c := cookieNamed(resp, "iam_session")
			if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/v1/iam/" || c.Secure != tt.secure || c.MaxAge <= 0 {
				t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Lax, Path=/v1/iam/, Secure=%v", c, tt.secure)
			}
			resp = serve("GET", iam.PathLogout, "")
			if c := cookieNamed(resp, "iam_session"); c == nil || c.MaxAge >= 0 || !c.HttpOnly || c.Secure != tt.secure {
				t.Fatalf("logout cookie %+v, want an expired HttpOnly cookie", c)
			}
		})
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

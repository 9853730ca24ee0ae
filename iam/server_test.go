package iam_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/store"
)

// testInit is the init_data.json of the tests (with ${VAR} placeholders).
const testInit = `{
  "organizations": [{"name": "acme", "displayName": "Acme Inc", "themeColor": "#aa3300"}],
  "applications": [
    {"name": "spa", "owner": "acme", "clientId": "spa", "redirectUris": ["http://127.0.0.1:9999/cb", "https://app.example/cb"],
     "grantTypes": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]},
    {"name": "web", "organization": "acme", "clientId": "web", "clientSecret": "${WEB_SECRET}", "redirectUris": ["https://web.example/cb"],
     "grantTypes": ["authorization_code", "refresh_token", "client_credentials", "password"], "audiences": ["urn:base"]}
  ],
  "users": [
    {"owner": "acme", "name": "alice", "password": "${ALICE_PASSWORD}", "displayName": "Alice \u00c9", "email": "alice@acme.example", "emailVerified": true, "isAdmin": true,
     "orgs": [{"org": "beta", "role": "member"}]},
    {"owner": "acme", "name": "bob", "password": "${BOB_PASSWORD:-bob-password}"}
  ]
}`

type testIAM struct {
	*iam.Server
	URL    string
	clock  *atomic.Int64 // offset in seconds
	client *http.Client
}

func newTestIAM(t testing.TB, mut ...func(*iam.Config)) *testIAM {
	t.Helper()
	return newTestIAMOn(t, openTestStore(t), mut...)
}

// newTestIAMOn is newTestIAM over the store st.
func newTestIAMOn(t testing.TB, st store.Store, mut ...func(*iam.Config)) *testIAM {
	t.Helper()
	var offset atomic.Int64
	mux := http.NewServeMux()
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	env := map[string]string{"WEB_SECRET": "web-secret", "ALICE_PASSWORD": "alice-password"}
	cfg := iam.Config{
		Store:     st,
		Issuer:    hs.URL,
		Argon2:    iam.Argon2Params{Memory: 64, Time: 1, Threads: 1},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:       func() time.Time { return time.Now().Add(time.Duration(offset.Load()) * time.Second) },
	}
	for _, m := range mut {
		m(&cfg)
	}
	srv, err := iam.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.ApplyInitData(t.Context(), []byte(testInit)); err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", srv.Handler())
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testIAM{Server: srv, URL: hs.URL, clock: &offset, client: c}
}

func (ti *testIAM) do(t testing.TB, method, path string, form url.Values, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, ti.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ti.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func jsonOf(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %q", b)
	}
	return m
}

func pkcePair(seed string) (verifier, challenge string) {
	sum := sha256.Sum256([]byte(seed))
	verifier = base64.RawURLEncoding.EncodeToString(sum[:]) + "xyz0123456"
	c := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(c[:])
}

// login runs authorize → login form and returns the code.
func (ti *testIAM) login(t testing.TB, clientID, redirect, challenge, user, password string) string {
	t.Helper()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid profile email"},
		"state": {"st"}, "nonce": {"n-1"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	resp, body := ti.do(t, "GET", iam.PathAuthorize+"?"+q.Encode(), nil)
	if resp.StatusCode == http.StatusFound { // SSO session
		return codeOf(t, resp, redirect)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), `name="password"`) {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	q.Set("username", user)
	q.Set("password", password)
	resp, body = ti.do(t, "POST", iam.PathAuthorize, q)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	return codeOf(t, resp, redirect)
}

func codeOf(t testing.TB, resp *http.Response, redirect string) string {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("redirect to %q, want %s?…", resp.Header.Get("Location"), redirect)
	}
	if loc.Query().Get("state") != "st" || loc.Query().Get("iss") == "" {
		t.Fatalf("redirect without state/iss: %s", loc)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

func (ti *testIAM) token(t testing.TB, form url.Values, hdr ...string) (int, map[string]any) {
	t.Helper()
	resp, body := ti.do(t, "POST", iam.PathToken, form, hdr...)
	return resp.StatusCode, jsonOf(t, body)
}

func payload(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	if strings.ContainsAny(parts[1], "-_") {
		t.Errorf("payload is not SDK-safe: %s", parts[1])
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, b)
}

func header(t testing.TB, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, b)
}

func TestRFC7636AppendixB(t *testing.T) {
	if got := iam.S256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("S256 = %q", got)
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	ti := newTestIAM(t)
	verifier, challenge := pkcePair("a")
	code := ti.login(t, "spa", "http://127.0.0.1:9999/cb", challenge, "alice", "alice-password")
	st, tok := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("token: %d %v", st, tok)
	}
	at, _ := tok["access_token"].(string)
	idt, _ := tok["id_token"].(string)
	if tok["token_type"] != "Bearer" || tok["refresh_token"] == nil || idt == "" {
		t.Fatalf("token response: %v", tok)
	}
	if h := header(t, at); h["typ"] != "at+jwt" || h["alg"] != "RS256" || h["kid"] == "" {
		t.Errorf("access token header %v", h)
	}
	c := payload(t, at)
	for k, want := range map[string]any{"iss": ti.URL, "sub": "acme/alice", "aud": "spa", "azp": "spa", "client_id": "spa", "owner": "acme",
		"organization": "acme", "isAdmin": true, "email": "alice@acme.example", "email_verified": true, "name": "Alice \u00c9", "scope": "openid profile email"} {
		if c[k] != want {
			t.Errorf("access claim %s = %v, want %v", k, c[k], want)
		}
	}
	orgs, _ := json.Marshal(c["orgs"])
	if string(orgs) != `[{"org":"acme","role":"admin"},{"org":"beta","role":"member"}]` {
		t.Errorf("orgs = %s", orgs)
	}
	for _, k := range []string{"exp", "iat", "nbf", "jti"} {
		if c[k] == nil {
			t.Errorf("access token lacks %s", k)
		}
	}
	ic := payload(t, idt)
	if ic["nonce"] != "n-1" || ic["aud"] != "spa" || ic["at_hash"] == nil || ic["auth_time"] == nil || ic["owner"] != "acme" {
		t.Errorf("id token claims %v", ic)
	}
	if _, ok := ic["isAdmin"]; ok {
		t.Errorf("id token carries access-token claims: %v", ic)
	}

	// Base's verifier accepts the token (JWKS through the in-process client).
	v, err := auth.New(t.Context(), auth.Config{Issuer: ti.Issuer(), JWKSURL: ti.Issuer() + iam.PathJWKS, HTTPClient: ti.LocalClient(), Audience: "spa"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(t.Context(), "Bearer "+at)
	if err != nil {
		t.Fatalf("Base refuses the IAM's token: %v", err)
	}
	if claims["isAdmin"] != true || claims["owner"] != "acme" {
		t.Errorf("Base sees %v", claims)
	}

	// Userinfo.
	resp, body := ti.do(t, "GET", iam.PathUserinfo, nil, "Authorization", "Bearer "+at)
	ui := jsonOf(t, body)
	if resp.StatusCode != 200 || ui["sub"] != "acme/alice" || ui["email"] != "alice@acme.example" {
		t.Fatalf("userinfo %d %v", resp.StatusCode, ui)
	}

	// SSO: a second authorize redirects at once.
	_, challenge2 := pkcePair("b")
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "state": {"st"},
		"code_challenge": {challenge2}, "code_challenge_method": {"S256"}}
	resp, _ = ti.do(t, "GET", iam.PathAuthorize+"?"+q.Encode(), nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("SSO authorize: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		_ = c
	}

	// Refresh rotation and reuse detection.
	rt1 := tok["refresh_token"].(string)
	st, r2 := ti.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt1}})
	if st != 200 || r2["refresh_token"] == rt1 || r2["access_token"] == nil {
		t.Fatalf("refresh: %d %v", st, r2)
	}
	rt2 := r2["refresh_token"].(string)
	st, r3 := ti.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt1}})
	if st != 400 || r3["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v", st, r3)
	}
	st, r4 := ti.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt2}})
	if st != 400 || r4["error"] != "invalid_grant" {
		t.Fatalf("family not revoked after reuse: %d %v", st, r4)
	}
	// Introspection reports the family's access tokens inactive.
	resp, body = ti.do(t, "POST", iam.PathIntrospect, url.Values{"client_id": {"spa"}, "token": {r2["access_token"].(string)}})
	if m := jsonOf(t, body); resp.StatusCode != 200 || m["active"] != false {
		t.Fatalf("introspect after reuse: %d %v", resp.StatusCode, m)
	}
}

func TestNegativeCodeRedemption(t *testing.T) {
	ti := newTestIAM(t)
	const cb = "http://127.0.0.1:9999/cb"
	redeem := func(code, redirect, verifier string) (int, map[string]any) {
		f := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code}, "redirect_uri": {redirect}}
		if verifier != "" {
			f.Set("code_verifier", verifier)
		}
		return ti.token(t, f)
	}
	verifier, challenge := pkcePair("n")
	tests := []struct {
		name  string
		run   func() (int, map[string]any)
		error string
	}{
		{"wrong verifier", func() (int, map[string]any) {
			other, _ := pkcePair("other")
			return redeem(ti.login(t, "spa", cb, challenge, "alice", "alice-password"), cb, other)
		}, "invalid_grant"},
		{"missing verifier", func() (int, map[string]any) {
			return redeem(ti.login(t, "spa", cb, challenge, "alice", "alice-password"), cb, "")
		}, "invalid_grant"},
		{"wrong redirect uri", func() (int, map[string]any) {
			return redeem(ti.login(t, "spa", cb, challenge, "alice", "alice-password"), "https://app.example/cb", verifier)
		}, "invalid_grant"},
		{"reused code", func() (int, map[string]any) {
			code := ti.login(t, "spa", cb, challenge, "alice", "alice-password")
			if st, m := redeem(code, cb, verifier); st != 200 {
				t.Fatalf("first redemption: %d %v", st, m)
			}
			return redeem(code, cb, verifier)
		}, "invalid_grant"},
		{"expired code", func() (int, map[string]any) {
			code := ti.login(t, "spa", cb, challenge, "alice", "alice-password")
			ti.clock.Add(61)
			defer ti.clock.Add(-61)
			return redeem(code, cb, verifier)
		}, "invalid_grant"},
		{"unknown code", func() (int, map[string]any) { return redeem("nope", cb, verifier) }, "invalid_grant"},
		{"confidential client, wrong secret", func() (int, map[string]any) {
			return ti.token(t, url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("web", "nope"))
		}, "invalid_client"},
		{"public client may not use client_credentials", func() (int, map[string]any) {
			return ti.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}})
		}, "unauthorized_client"},
		{"unsupported grant", func() (int, map[string]any) {
			return ti.token(t, url.Values{"grant_type": {"implicit"}, "client_id": {"spa"}})
		}, "unsupported_grant_type"},
		{"scope not allowed", func() (int, map[string]any) {
			return ti.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, "Authorization", basic("web", "web-secret"))
		}, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m := tt.run()
			if st < 400 || m["error"] != tt.error {
				t.Fatalf("got %d %v, want error %s", st, m, tt.error)
			}
		})
	}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestAuthorizeErrors(t *testing.T) {
	ti := newTestIAM(t)
	_, challenge := pkcePair("x")
	tests := []struct {
		name     string
		q        url.Values
		status   int
		redirect string // error in the redirect, "" = error page
	}{
		{"unknown client", url.Values{"client_id": {"nope"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}}, 400, ""},
		{"unregistered redirect", url.Values{"client_id": {"spa"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}, 400, ""},
		{"public client without PKCE", url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}}, 302, "invalid_request"},
		{"plain PKCE", url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "code_challenge": {challenge}, "code_challenge_method": {"plain"}}, 302, "invalid_request"},
		{"token response type", url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"token"}}, 302, "unsupported_response_type"},
		{"bad scope", url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "scope": {"openid root"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}, 302, "invalid_scope"},
		{"loopback any port", url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:1234/cb"}, "response_type": {"code"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ti.do(t, "GET", iam.PathAuthorize+"?"+tt.q.Encode(), nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.redirect != "" {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc.Query().Get("error") != tt.redirect {
					t.Fatalf("redirect %s, want error=%s", loc, tt.redirect)
				}
			} else if resp.Header.Get("Location") != "" {
				t.Fatalf("redirected to %s", resp.Header.Get("Location"))
			}
		})
	}
}

func TestForgedTokensRefused(t *testing.T) {
	ti := newTestIAM(t)
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	claims := map[string]any{"iss": ti.URL, "sub": "acme/alice", "aud": "spa", "client_id": "spa", "scope": "openid", "exp": time.Now().Add(time.Hour).Unix(), "jti": "x"}
	none := enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
	hs := enc(map[string]string{"alg": "HS256", "typ": "JWT", "kid": ti.KeyID(t.Context())}) + "." + enc(claims) + ".c2lnbmF0dXJl"
	for name, tok := range map[string]string{"none": none, "HS256": hs} {
		t.Run(name, func(t *testing.T) {
			resp, _ := ti.do(t, "GET", iam.PathUserinfo, nil, "Authorization", "Bearer "+tok)
			if resp.StatusCode != 401 {
				t.Fatalf("userinfo accepted a %s token: %d", name, resp.StatusCode)
			}
			_, body := ti.do(t, "POST", iam.PathIntrospect, url.Values{"client_id": {"spa"}, "token": {tok}})
			if jsonOf(t, body)["active"] != false {
				t.Fatalf("introspection accepted a %s token", name)
			}
		})
	}
}

func TestLoginThrottling(t *testing.T) {
	ti := newTestIAM(t)
	login := func(password string) int {
		body := `{"type":"login","application":"spa","organization":"acme","username":"bob","password":"` + password + `"}`
		req, _ := http.NewRequest("POST", ti.URL+iam.PathLogin, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := login("bob-password"); st != 200 {
		t.Fatalf("good login: %d", st)
	}
	for i := range 5 {
		if st := login("wrong"); st != 401 {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	if st := login("bob-password"); st != 429 {
		t.Fatalf("after 5 failures: %d, want 429", st)
	}
	ti.clock.Add(14 * 60)
	if st := login("bob-password"); st != 429 {
		t.Fatalf("after 14 min: %d, want 429", st)
	}
	ti.clock.Add(61)
	if st := login("bob-password"); st != 200 {
		t.Fatalf("after 15 min: %d, want 200", st)
	}
}

func TestInitDataCreateOnly(t *testing.T) {
	ti := newTestIAM(t)
	// A second application of other values changes nothing.
	changed := strings.ReplaceAll(testInit, "${ALICE_PASSWORD}", "other-password")
	if err := ti.ApplyInitData(t.Context(), []byte(changed)); err != nil {
		t.Fatal(err)
	}
	_, challenge := pkcePair("c")
	ti.login(t, "spa", "http://127.0.0.1:9999/cb", challenge, "alice", "alice-password")
	if err := ti.ApplyInitData(t.Context(), []byte(`{"users":[{"owner":"acme","name":"carol","password":"${UNSET_VAR}"}]}`)); err == nil {
		t.Fatal("an unset variable was accepted")
	}
	if err := ti.ApplyInitData(t.Context(), []byte(`{"organisations":[]}`)); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}

func TestClientCredentialsAndKeyRotation(t *testing.T) {
	ti := newTestIAM(t)
	v, err := auth.New(t.Context(), auth.Config{Issuer: ti.Issuer(), JWKSURL: ti.Issuer() + iam.PathJWKS, HTTPClient: ti.LocalClient(), Audience: "urn:base",
		RefreshRateLimit: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	grant := func(hdr ...string) string {
		f := url.Values{"grant_type": {"client_credentials"}}
		if len(hdr) == 0 {
			f.Set("client_id", "web")
			f.Set("client_secret", "web-secret")
		}
		st, m := ti.token(t, f, hdr...)
		if st != 200 {
			t.Fatalf("client_credentials: %d %v", st, m)
		}
		return m["access_token"].(string)
	}
	old := grant("Authorization", basic("web", "web-secret"))
	if c := payload(t, old); c["sub"] != "acme/web" || c["owner"] != "acme" {
		t.Fatalf("service token claims %v", c)
	}
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	oldKid := header(t, old)["kid"]
	newKid, err := ti.RotateKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fresh := grant() // client_secret_post
	if header(t, fresh)["kid"] != newKid || newKid == oldKid {
		t.Fatalf("new token kid %v, want %v (old %v)", header(t, fresh)["kid"], newKid, oldKid)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := v.Verify(t.Context(), fresh); err != nil {
		t.Fatalf("Base did not pick up the new kid: %v", err)
	}
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("old token refused after rotation: %v", err)
	}
	resp, body := ti.do(t, "GET", iam.PathJWKS, nil)
	if resp.StatusCode != 200 || strings.Count(string(body), `"kid"`) != 2 {
		t.Fatalf("JWKS after rotation: %s", body)
	}
	// The old key stays until its last token has expired (the longest
	// access lifetime, 1 h, plus 5 min), then leaves the JWKS at the next
	// reload of the ring.
	ti.clock.Add(3600 + 299)
	if _, body := ti.do(t, "GET", iam.PathJWKS, nil); !strings.Contains(string(body), oldKid.(string)) {
		t.Fatalf("old key dropped before its tokens expired: %s", body)
	}
	ti.clock.Add(2 + 30) // + KeyRefresh: the ring is reloaded every 30 s
	if _, body := ti.do(t, "GET", iam.PathJWKS, nil); strings.Contains(string(body), oldKid.(string)) || !strings.Contains(string(body), newKid) {
		t.Fatalf("old key still published after its tokens expired: %s", body)
	}
}

func TestDeviceFlow(t *testing.T) {
	ti := newTestIAM(t, func(c *iam.Config) { c.DeviceInterval = time.Second })
	resp, body := ti.do(t, "POST", iam.PathDevice, url.Values{"client_id": {"spa"}, "scope": {"openid profile"}})
	da := jsonOf(t, body)
	if resp.StatusCode != 200 || da["device_code"] == nil || da["user_code"] == nil {
		t.Fatalf("device authorization: %d %v", resp.StatusCode, da)
	}
	poll := func() (int, map[string]any) {
		return ti.token(t, url.Values{"grant_type": {iam.GrantDeviceCode}, "client_id": {"spa"}, "device_code": {da["device_code"].(string)}})
	}
	if st, m := poll(); st != 400 || m["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", st, m)
	}
	if st, m := poll(); st != 400 || m["error"] != "slow_down" {
		t.Fatalf("fast poll: %d %v", st, m)
	}
	resp, body = ti.do(t, "POST", iam.PathDevicePage, url.Values{"user_code": {strings.ToLower(da["user_code"].(string))}, "username": {"bob"}, "password": {"bob-password"}, "action": {"approve"}})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "connected") {
		t.Fatalf("device page: %d %s", resp.StatusCode, body)
	}
	ti.clock.Add(10)
	st, m := poll()
	if st != 200 || m["access_token"] == nil {
		t.Fatalf("approved poll: %d %v", st, m)
	}
	if c := payload(t, m["access_token"].(string)); c["sub"] != "acme/bob" {
		t.Fatalf("device token sub %v", c["sub"])
	}
	ti.clock.Add(10)
	if st, m := poll(); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("poll after use: %d %v", st, m)
	}
}

func TestRevokeAndLogout(t *testing.T) {
	ti := newTestIAM(t)
	verifier, challenge := pkcePair("r")
	redeem := func() map[string]any {
		code := ti.login(t, "spa", "http://127.0.0.1:9999/cb", challenge, "alice", "alice-password")
		st, m := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
			"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}})
		if st != 200 {
			t.Fatalf("token: %d %v", st, m)
		}
		return m
	}
	active := func(tok string) bool {
		_, body := ti.do(t, "POST", iam.PathIntrospect, url.Values{"client_id": {"spa"}, "token": {tok}})
		return jsonOf(t, body)["active"] == true
	}
	m := redeem()
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	if !active(at) || !active(rt) {
		t.Fatal("fresh tokens inactive")
	}
	resp, _ := ti.do(t, "POST", iam.PathRevoke, url.Values{"client_id": {"spa"}, "token": {rt}})
	if resp.StatusCode != 200 || active(rt) || active(at) {
		t.Fatalf("revoke refresh: %d, refresh active %v, access active %v", resp.StatusCode, active(rt), active(at))
	}
	// Logout with id_token_hint ends the grant and the session.
	m = redeem()
	q := url.Values{"id_token_hint": {m["id_token"].(string)}, "post_logout_redirect_uri": {"https://app.example/cb"}, "state": {"bye"}}
	resp, _ = ti.do(t, "GET", iam.PathLogout+"?"+q.Encode(), nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://app.example/cb?state=bye") {
		t.Fatalf("logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if active(m["access_token"].(string)) || active(m["refresh_token"].(string)) {
		t.Fatal("tokens active after logout")
	}
	st, r := ti.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {m["refresh_token"].(string)}})
	if st != 400 || r["error"] != "invalid_grant" {
		t.Fatalf("refresh after logout: %d %v", st, r)
	}
	// The SSO session is gone: authorize shows the login page again.
	_, challenge2 := pkcePair("s")
	aq := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "code_challenge": {challenge2}, "code_challenge_method": {"S256"}}
	resp, _ = ti.do(t, "GET", iam.PathAuthorize+"?"+aq.Encode(), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize after logout: %d", resp.StatusCode)
	}
	// Unregistered post-logout redirect.
	resp, _ = ti.do(t, "GET", iam.PathLogout+"?post_logout_redirect_uri=https://evil.example/&client_id=spa", nil)
	if resp.StatusCode != 400 {
		t.Fatalf("unregistered post_logout_redirect_uri: %d", resp.StatusCode)
	}
	if err := ti.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := ti.Audit(t.Context(), "", 100)
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit: %v %d", err, len(entries))
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Event] = true
	}
	for _, ev := range []string{"login", "code", "revoke", "logout"} {
		if !seen[ev] {
			t.Errorf("audit lacks %q events: %v", ev, seen)
		}
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	ti := newTestIAM(t)
	resp, body := ti.do(t, "GET", "/v1/iam/nope", nil)
	if resp.StatusCode != 404 || jsonOf(t, body)["code"] != float64(404) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = ti.do(t, "GET", "/api/health", nil)
	if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Fatalf("health %d %s", resp.StatusCode, body)
	}
}

package iam_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
)

// TestDiscoveryDocument: both discovery paths serve one document listing
// exactly the endpoints of spec/iam.md, the issuer every token carries and
// the required capability lists.
func TestDiscoveryDocument(t *testing.T) {
	ti := newTestIAM(t)
	base := ti.Issuer()
	want := map[string]string{
		"authorization_endpoint":        base + "/v1/iam/oauth/authorize",
		"token_endpoint":                base + "/v1/iam/oauth/token",
		"userinfo_endpoint":             base + "/v1/iam/oauth/userinfo",
		"introspection_endpoint":        base + "/v1/iam/oauth/introspect",
		"revocation_endpoint":           base + "/v1/iam/oauth/revoke",
		"end_session_endpoint":          base + "/v1/iam/oauth/logout",
		"device_authorization_endpoint": base + "/v1/iam/oauth/device",
		"jwks_uri":                      base + "/v1/iam/.well-known/jwks",
	}
	var docs [][]byte
	for _, p := range []string{"/.well-known/openid-configuration", "/v1/iam/.well-known/openid-configuration"} {
		resp, body := ti.do(t, "GET", p, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		docs = append(docs, body)
	}
	if string(docs[0]) != string(docs[1]) {
		t.Fatal("the two discovery paths serve different documents")
	}
	doc := jsonOf(t, docs[0])
	got := map[string]string{}
	for k, v := range doc {
		if strings.HasSuffix(k, "_endpoint") || strings.HasSuffix(k, "_uri") {
			got[k], _ = v.(string)
		}
	}
	if g, _ := json.Marshal(got); string(g) != jsonText(want) {
		t.Fatalf("endpoints:\n got %s\nwant %s", g, jsonText(want))
	}
	for k, w := range map[string]string{
		"issuer":                                base,
		"response_types_supported":              `["code"]`,
		"code_challenge_methods_supported":      `["S256"]`,
		"token_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post","none"]`,
	} {
		g := doc[k]
		if s, ok := g.(string); ok && s == w {
			continue
		}
		if jsonText(g) != w {
			t.Errorf("%s = %s, want %s", k, jsonText(g), w)
		}
	}
	// Every endpoint it lists is served: a wrong method is a JSON 405
	// naming the allowed ones, not the 404 of unknown paths.
	for k, u := range want {
		p := strings.TrimPrefix(u, base)
		resp, body := ti.do(t, "PUT", p, nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" || jsonOf(t, body)["code"] != float64(405) {
			t.Errorf("PUT %s (%s): %d, Allow %q", p, k, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	// The token's iss is the discovery issuer.
	st, tok := ti.token(t, url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("web", "web-secret"))
	if st != 200 || payload(t, tok["access_token"].(string))["iss"] != doc["issuer"] {
		t.Fatalf("token iss != discovery issuer: %d %v", st, tok)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCORS: the OAuth endpoints answer CORS for the applications' redirect
// and post-logout origins only, with credentials; other origins get no
// CORS headers.
func TestCORS(t *testing.T) {
	ti := newTestIAM(t)
	for _, tt := range []struct {
		method, path, origin string
		allowed              bool
	}{
		{"OPTIONS", iam.PathToken, "https://app.example", true},
		{"OPTIONS", iam.PathToken, "http://127.0.0.1:9999", true},
		{"OPTIONS", iam.PathRevoke, "https://web.example", true},
		{"OPTIONS", iam.PathLogout, "https://app.example", true},
		{"OPTIONS", iam.PathUserinfo, "https://app.example", true},
		{"OPTIONS", iam.PathIntrospect, "https://app.example", true},
		{"OPTIONS", iam.PathLogin, "https://app.example", true},
		{"OPTIONS", iam.PathToken, "https://evil.example", false},
		{"OPTIONS", iam.PathToken, "https://app.example.evil", false},
		{"OPTIONS", iam.PathToken, "http://app.example", false},
		{"POST", iam.PathToken, "https://app.example", true},
		{"POST", iam.PathToken, "https://evil.example", false},
	} {
		t.Run(tt.method+" "+tt.path+" "+tt.origin, func(t *testing.T) {
			var form url.Values
			if tt.method == "POST" {
				form = url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}, "client_secret": {"web-secret"}}
			}
			resp, _ := ti.do(t, tt.method, tt.path, form, "Origin", tt.origin, "Access-Control-Request-Method", "POST")
			acao, acac := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
			if !tt.allowed {
				if acao != "" || acac != "" {
					t.Fatalf("origin %s allowed: %q %q", tt.origin, acao, acac)
				}
				return
			}
			if acao != tt.origin || acac != "true" || !slices.Contains(resp.Header.Values("Vary"), "Origin") {
				t.Fatalf("ACAO %q ACAC %q Vary %q", acao, acac, resp.Header.Values("Vary"))
			}
			if tt.method == "OPTIONS" && (resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")) {
				t.Fatalf("preflight %d, allow-headers %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Headers"))
			}
		})
	}
}

// TestPasswordChange: the old password is required (wrong → 401, short new
// → 400), the new one works and the old one no longer does, every grant of
// the user is revoked, and the change is audited.
func TestPasswordChange(t *testing.T) {
	ti := newTestIAM(t)
	st, tok := ti.token(t, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob-password"}, "scope": {"openid"}},
		"Authorization", basic("web", "web-secret"))
	if st != 200 {
		t.Fatalf("password grant: %d %v", st, tok)
	}
	change := func(old, new string) int {
		body := `{"organization":"acme","username":"bob","oldPassword":"` + old + `","newPassword":"` + new + `"}`
		req, _ := http.NewRequest("POST", ti.URL+iam.PathPassword, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "pw-test/1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := change("wrong", "bob-password-2"); st != 401 {
		t.Fatalf("wrong old password: %d", st)
	}
	if st := change("bob-password", "short"); st != 400 {
		t.Fatalf("too short: %d", st)
	}
	if st := change("bob-password", "bob-password-2"); st != 200 {
		t.Fatalf("change: %d", st)
	}
	grant := func(pw string) int {
		st, _ := ti.token(t, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {pw}}, "Authorization", basic("web", "web-secret"))
		return st
	}
	if grant("bob-password") != 400 || grant("bob-password-2") != 200 {
		t.Fatal("the old password still works or the new one does not")
	}
	if st, m := ti.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}},
		"Authorization", basic("web", "web-secret")); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("refresh token of before the change: %d %v", st, m)
	}
	_, body := ti.do(t, "POST", iam.PathIntrospect, url.Values{"token": {tok["access_token"].(string)}}, "Authorization", basic("web", "web-secret"))
	if jsonOf(t, body)["active"] != false {
		t.Fatal("access token of before the change is active")
	}
	e := findAudit(t, ti, "password_change", "ok")
	if e.Org != "acme" || e.Username != "bob" || e.IP != "127.0.0.1" || e.UserAgent != "pw-test/1" {
		t.Fatalf("audit row %+v", e)
	}
}

// findAudit returns the newest audit entry of event/result, waiting for
// the batched writer.
func findAudit(t testing.TB, ti *testIAM, event, result string) iam.AuditEntry {
	t.Helper()
	expectAudit(t, ti, event+"/"+result)
	entries, err := ti.Audit(t.Context(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Event == event && e.Result == result {
			return e
		}
	}
	t.Fatalf("no %s/%s audit entry", event, result)
	return iam.AuditEntry{}
}

// TestAuditRows: login, failure, refresh, revoke and logout rows carry the
// time, org, user, client, IP, user agent and result.
func TestAuditRows(t *testing.T) {
	ti := newTestIAM(t)
	const ua = "audit-test/1"
	start := time.Now().Add(-time.Second)
	verifier, challenge := pkcePair("audit")
	// A failed and a good login through the login page.
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "username": {"alice"}, "password": {"nope"}}
	if resp, _ := ti.do(t, "POST", iam.PathAuthorize, q, "User-Agent", ua); resp.StatusCode != 401 {
		t.Fatalf("bad login: %d", resp.StatusCode)
	}
	q.Set("password", "alice-password")
	resp, _ := ti.do(t, "POST", iam.PathAuthorize, q, "User-Agent", ua)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	st, tok := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}}, "User-Agent", ua)
	if st != 200 {
		t.Fatalf("token: %d %v", st, tok)
	}
	st, tok = ti.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}}, "User-Agent", ua)
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, tok)
	}
	if resp, _ := ti.do(t, "POST", iam.PathRevoke, url.Values{"client_id": {"spa"}, "token": {tok["refresh_token"].(string)}}, "User-Agent", ua); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := ti.do(t, "GET", iam.PathLogout+"?client_id=spa", nil, "User-Agent", ua); resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	for _, tt := range []struct{ event, result, client string }{
		{"login", "failure", "spa"},
		{"login", "ok", "spa"},
		{"code", "ok", "spa"},
		{"refresh", "ok", "spa"},
		{"revoke", "ok", "spa"},
		{"logout", "ok", "spa"},
	} {
		e := findAudit(t, ti, tt.event, tt.result)
		if e.Org != "acme" || e.Username != "alice" || e.ClientID != tt.client || e.IP != "127.0.0.1" || e.UserAgent != ua ||
			e.Time.Before(start.Truncate(time.Second)) || e.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("%s/%s row %+v", tt.event, tt.result, e)
		}
	}
}

// TestErrorMasking: an internal failure (here: a table dropped under the
// running IAM) reaches clients as server_error or the masked envelope,
// never as the database's error text.
func TestErrorMasking(t *testing.T) {
	st := openTestStore(t)
	ti := newTestIAMOn(t, st)
	admin, err := ti.CreateUser(t.Context(), iam.User{Org: "acme", Username: "root", Password: "root-password", IsGlobalAdmin: true})
	if err != nil || !admin {
		t.Fatal(err)
	}
	_, rootTok := ti.token(t, url.Values{"grant_type": {"password"}, "username": {"root"}, "password": {"root-password"}}, "Authorization", basic("web", "web-secret"))
	_, bobTok := ti.token(t, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob-password"}}, "Authorization", basic("web", "web-secret"))
	db, err := st.Acquire(t.Context(), iam.DefaultSystemOrg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	for _, table := range []string{"iam_refresh", "iam_sessions", "iam_orgs"} {
		if _, err := db.ExecContext(t.Context(), "DROP TABLE "+table); err != nil {
			t.Fatal(err)
		}
	}
	leaks := func(body []byte) bool {
		s := strings.ToLower(string(body))
		return strings.Contains(s, "iam_") || strings.Contains(s, "table") || strings.Contains(s, "sql")
	}
	// Token endpoint: the refresh grant needs iam_refresh.
	resp, body := ti.do(t, "POST", iam.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bobTok["refresh_token"].(string)}},
		"Authorization", basic("web", "web-secret"))
	if m := jsonOf(t, body); resp.StatusCode != 500 || m["error"] != "server_error" || leaks(body) {
		t.Errorf("token: %d %s", resp.StatusCode, body)
	}
	// Login API: the session needs iam_sessions.
	req, _ := http.NewRequest("POST", ti.URL+iam.PathLogin, strings.NewReader(`{"type":"login","application":"spa","organization":"acme","username":"bob","password":"bob-password"}`))
	if r, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b := readAll(t, r)
		if r.StatusCode != 500 || leaks(b) {
			t.Errorf("login API: %d %s", r.StatusCode, b)
		}
	}
	// Admin API: creating an application reads iam_orgs.
	req, _ = http.NewRequest("POST", ti.URL+"/v1/iam/admin/orgs/acme/applications", strings.NewReader(`{"clientId":"new-app"}`))
	req.Header.Set("Authorization", "Bearer "+rootTok["access_token"].(string))
	req.Header.Set("Content-Type", "application/json")
	if r, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b := readAll(t, r)
		if r.StatusCode != 500 || leaks(b) {
			t.Errorf("admin create application: %d %s", r.StatusCode, b)
		}
	}
}

func readAll(t testing.TB, r *http.Response) []byte {
	t.Helper()
	defer r.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, r.Body); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// TestBrowserSDKSignOut replays the @hanzo/iam browser client's sign-out,
// cross-origin with credentials: revoke the refresh token, then the access
// token (each with the access token as Bearer; the second Bearer is by
// then revoked), then POST logout with the Bearer and the session cookie.
func TestBrowserSDKSignOut(t *testing.T) {
	ti := newTestIAM(t)
	const origin = "https://app.example"
	verifier, challenge := pkcePair("sdk-signout")
	code := ti.login(t, "spa", "http://127.0.0.1:9999/cb", challenge, "alice", "alice-password")
	st, tok := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("token: %d %v", st, tok)
	}
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	for _, p := range []string{iam.PathRevoke, iam.PathLogout} {
		resp, _ := ti.do(t, "OPTIONS", p, nil, "Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization")
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("preflight %s: %d %v", p, resp.StatusCode, resp.Header)
		}
	}
	for _, tt := range []struct{ token, hint string }{{rt, "refresh_token"}, {at, "access_token"}} {
		resp, body := ti.do(t, "POST", iam.PathRevoke, url.Values{"token": {tt.token}, "token_type_hint": {tt.hint}, "client_id": {"spa"}},
			"Authorization", "Bearer "+at, "Origin", origin)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("revoke %s: %d %s", tt.hint, resp.StatusCode, body)
		}
	}
	resp, body := ti.do(t, "POST", iam.PathLogout, nil, "Authorization", "Bearer "+at, "Origin", origin)
	if resp.StatusCode != 200 || jsonOf(t, body)["status"] != "ok" || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if c := cookieNamed(resp, "iam_session"); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout did not clear the session cookie: %+v", c)
	}
	for _, tk := range []string{at, rt} {
		_, body := ti.do(t, "POST", iam.PathIntrospect, url.Values{"client_id": {"spa"}, "token": {tk}})
		if jsonOf(t, body)["active"] != false {
			t.Fatal("a token is active after sign-out")
		}
	}
	_, challenge = pkcePair("after")
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if resp, _ := ti.do(t, "GET", iam.PathAuthorize+"?"+q.Encode(), nil); resp.StatusCode != 200 {
		t.Fatalf("authorize after sign-out: %d (SSO session survived)", resp.StatusCode)
	}
	// A revoked Bearer without client_id authenticates nothing.
	resp, _ = ti.do(t, "POST", iam.PathRevoke, url.Values{"token": {rt}}, "Authorization", "Bearer "+at)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
		t.Fatalf("revoke with a revoked Bearer alone: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

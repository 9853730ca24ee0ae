package iam_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// instance is one IAM process of a cluster: its own Server and listener
// over the shared store, all with the issuer of the load balancer.
type instance struct {
	srv *iam.Server
	url string
}

// newCluster starts n IAM instances over one PostgreSQL database (one
// postgres.Store each, as separate processes would have), applying the
// test init data once.
func newCluster(t *testing.T, n int) []instance {
	t.Helper()
	pg := pgURL(t)
	prefix := newPGPrefix()
	var out []instance
	issuer := ""
	for i := range n {
		st, err := openPGStore(pg, prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		mux := http.NewServeMux()
		hs := httptest.NewServer(mux)
		t.Cleanup(hs.Close)
		if issuer == "" {
			issuer = hs.URL
		}
		env := map[string]string{"WEB_SECRET": "web-secret", "ALICE_PASSWORD": "alice-password"}
		srv, err := iam.New(t.Context(), iam.Config{Store: st, Issuer: issuer,
			Argon2:    iam.Argon2Params{Memory: 64, Time: 1, Threads: 1},
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if i == 0 {
			if err := srv.ApplyInitData(t.Context(), []byte(testInit)); err != nil {
				t.Fatal(err)
			}
		}
		mux.Handle("/", srv.Handler())
		out = append(out, instance{srv: srv, url: hs.URL})
	}
	return out
}

// call sends a request to one instance with client c.
func call(t *testing.T, c *http.Client, method, u, ctype, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const formType = "application/x-www-form-urlencoded"

// TestClusterSharesState runs two IAM instances on one PostgreSQL: an SSO
// session started on A is honoured by B, 5 failed logins on A lock the
// account on B, and a refresh token rotated on B and replayed on A revokes
// the family everywhere. The store is the shared state; no Redis.
func TestClusterSharesState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	nodes := newCluster(t, 2)
	a, b := nodes[0], nodes[1]
	jar, _ := cookiejar.New(nil) // cookies are per host, not port: A's cookie goes to B
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const cb = "http://127.0.0.1:9999/cb"
	verifier, challenge := pkcePair("cluster")
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {cb}, "response_type": {"code"}, "scope": {"openid profile email"},
		"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}

	// Sign in on A.
	f := url.Values{}
	for k, v := range q {
		f[k] = v
	}
	f.Set("username", "alice")
	f.Set("password", "alice-password")
	resp, body := call(t, c, "POST", a.url+iam.PathAuthorize, formType, f.Encode())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login on A: %d %s", resp.StatusCode, body)
	}
	codeA := codeOf(t, resp, cb)

	// B sees the session: authorize redirects at once with a code.
	resp, body = call(t, c, "GET", b.url+iam.PathAuthorize+"?"+q.Encode(), "", "")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("SSO on B: %d %s", resp.StatusCode, body)
	}
	codeOf(t, resp, cb)

	// The code from A is redeemed on B; its refresh token rotates on B.
	token := func(n instance, form url.Values) (int, map[string]any) {
		resp, body := call(t, c, "POST", n.url+iam.PathToken, formType, form.Encode())
		return resp.StatusCode, jsonOf(t, body)
	}
	st, tok := token(b, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {codeA},
		"redirect_uri": {cb}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("redeem A's code on B: %d %v", st, tok)
	}
	rt1 := tok["refresh_token"].(string)
	st, r2 := token(b, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt1}})
	if st != 200 {
		t.Fatalf("refresh on B: %d %v", st, r2)
	}
	// Replaying rt1 on A is reuse: the family dies on both.
	if st, m := token(a, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt1}}); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse on A: %d %v", st, m)
	}
	if st, m := token(b, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {r2["refresh_token"].(string)}}); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("family alive on B after reuse on A: %d %v", st, m)
	}
	for _, n := range nodes {
		_, body := call(t, c, "POST", n.url+iam.PathIntrospect, formType,
			url.Values{"client_id": {"spa"}, "token": {r2["access_token"].(string)}}.Encode())
		if jsonOf(t, body)["active"] != false {
			t.Fatalf("access token of a revoked family active on %s", n.url)
		}
	}

	// Throttling: 5 failures on A → 429 on B.
	login := func(n instance, password string) int {
		body := `{"type":"login","application":"spa","organization":"acme","username":"bob","password":"` + password + `"}`
		resp, _ := call(t, http.DefaultClient, "POST", n.url+iam.PathLogin, "application/json", body)
		return resp.StatusCode
	}
	for i := range 5 {
		if st := login(a, "wrong"); st != 401 {
			t.Fatalf("failure %d on A: %d", i+1, st)
		}
	}
	if st := login(b, "bob-password"); st != http.StatusTooManyRequests {
		t.Fatalf("login on B after 5 failures on A: %d, want 429", st)
	}

	// Logout on B ends the session A started: A's cookie, replayed after
	// the logout, no longer signs the user in.
	cookies := jar.Cookies(mustURL(t, a.url+"/v1/iam/"))
	if len(cookies) == 0 {
		t.Fatal("no session cookie")
	}
	resp, _ = call(t, c, "GET", b.url+iam.PathLogout, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("logout on B: %d", resp.StatusCode)
	}
	jar.SetCookies(mustURL(t, a.url+"/v1/iam/"), cookies)
	resp, _ = call(t, c, "GET", a.url+iam.PathAuthorize+"?"+q.Encode(), "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("authorize on A after logout on B: %d, want the login page", resp.StatusCode)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

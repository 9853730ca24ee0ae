package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base"
)

// tokenAudience is the resource indicator (and so the aud) of the access tokens
// the test provider issues for Base.
const tokenAudience = "urn:base"

// providerClient is a client_credentials client of the test provider: a
// service identity whose token has sub = ID and carries Claims.
type providerClient struct {
	ID     string         `json:"client_id"`
	Secret string         `json:"client_secret"`
	Claims map[string]any `json:"claims,omitempty"`
}

// providerConfig is the OIDC_CONFIG of e2e/oidc/provider.mjs.
type providerConfig struct {
	Port     int                       `json:"port"`
	Issuer   string                    `json:"issuer,omitempty"`
	Resource string                    `json:"resource"`
	Clients  []providerClient          `json:"clients"`
	Web      map[string]any            `json:"web,omitempty"`
	Accounts map[string]map[string]any `json:"accounts,omitempty"`
}

// oidcProvider is a running e2e/oidc/provider.mjs: a real oidc-provider
// server with its own RSA signing key.
type oidcProvider struct {
	Issuer string // what its tokens carry as iss
	URL    string // where it listens (differs from Issuer for an impostor)
	KID    string // its signing key's kid

	jwks atomic.Int64 // JWKS downloads served
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

// JWKSFetches is how many times the provider has served its JWKS.
func (p *oidcProvider) JWKSFetches() int64 { return p.jwks.Load() }

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProvider runs node e2e/oidc/provider.mjs with cfg and waits until it
// listens. It is stopped at the end of the test (or earlier with Stop).
func startProvider(t *testing.T, cfg providerConfig) *oidcProvider {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "oidc/provider.mjs")
	cmd.Env = append(os.Environ(), "OIDC_CONFIG="+string(raw))
	p := &oidcProvider{URL: fmt.Sprintf("http://127.0.0.1:%d", cfg.Port), cmd: cmd, done: make(chan struct{}), logs: &syncBuffer{}}
	cmd.Stderr = p.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(p.logs, sc.Text())
			var ev map[string]string
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			switch ev["event"] {
			case "ready":
				ready <- ev
			case "jwks":
				p.jwks.Add(1)
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("provider %s (port %d) logs:\n%s", p.Issuer, cfg.Port, tail(p.logs.String(), 100))
		}
	})
	select {
	case ev := <-ready:
		p.Issuer, p.KID = ev["issuer"], ev["kid"]
	case <-p.done:
		t.Fatalf("provider.mjs exited before it was ready:\n%s", p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("provider.mjs was not ready in 30s:\n%s", p.logs.String())
	}
	return p
}

// Stop interrupts the provider and waits until it has exited, so that its
// port is free again.
func (p *oidcProvider) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// discovery fetches the provider's discovery document over HTTP.
func (p *oidcProvider) discovery(t *testing.T) map[string]any {
	t.Helper()
	var d map[string]any
	if code := fetchJSON(t, http.DefaultClient, p.URL+"/.well-known/openid-configuration", &d); code != 200 {
		t.Fatalf("discovery: status %d", code)
	}
	return d
}

// tokenRequest posts form to the provider's token endpoint and returns the
// access token.
func (p *oidcProvider) tokenRequest(t *testing.T, form url.Values) string {
	t.Helper()
	endpoint, _ := p.discovery(t)["token_endpoint"].(string)
	if endpoint == "" {
		t.Fatal("discovery has no token_endpoint")
	}
	resp, err := http.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token endpoint: status %d: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("token endpoint: status %d: %s: %s", resp.StatusCode, body.Error, body.Description)
	}
	return body.AccessToken
}

// clientToken gets an access token with the client_credentials grant.
func (p *oidcProvider) clientToken(t *testing.T, c providerClient) string {
	t.Helper()
	return p.tokenRequest(t, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.ID},
		"client_secret": {c.Secret},
	})
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	formPrompt = regexp.MustCompile(`name="prompt" value="([a-z]+)"`)
)

// userLogin logs login in the way a browser would, starting from the
// authURL Base's auth-methods hands out: the provider's authorization
// endpoint, its development login and consent pages, and the redirect back
// with a code, which is exchanged (with the PKCE verifier Base generated) at
// the token endpoint for an access token.
func userLogin(t *testing.T, srv *Server, p *oidcProvider, redirect, login string) string {
	t.Helper()
	var methods struct {
		OAuth2 struct {
			Providers []struct {
				Name, State, AuthURL, CodeVerifier string
			}
		}
	}
	if code := fetchJSON(t, http.DefaultClient, srv.URL+"/v1/collections/users/auth-methods", &methods); code != 200 {
		t.Fatalf("auth-methods: status %d", code)
	}
	if len(methods.OAuth2.Providers) != 1 || methods.OAuth2.Providers[0].Name != "iam" {
		t.Fatalf("auth-methods providers = %+v, want one named iam", methods.OAuth2.Providers)
	}
	iam := methods.OAuth2.Providers[0]
	authorize, _ := p.discovery(t)["authorization_endpoint"].(string)
	if !strings.HasPrefix(iam.AuthURL, authorize+"?") {
		t.Fatalf("authURL %q does not start with the provider's authorization_endpoint %q", iam.AuthURL, authorize)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirect) {
				return http.ErrUseLastResponse // the app's callback: stop here
			}
			return nil
		},
	}
	resp, err := browser.Get(iam.AuthURL + url.QueryEscape(redirect))
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; resp.StatusCode == 200 && step < 4; step++ {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		action, prompt := formAction.FindSubmatch(page), formPrompt.FindSubmatch(page)
		if action == nil || prompt == nil {
			t.Fatalf("%s: no interaction form in:\n%s", resp.Request.URL, page)
		}
		form := url.Values{"prompt": {string(prompt[1])}}
		if string(prompt[1]) == "login" {
			form.Set("login", login)
			form.Set("password", "any")
		}
		target, err := resp.Request.URL.Parse(html.UnescapeString(string(action[1])))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err = browser.PostForm(target.String(), form); err != nil {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("login ended with status %d at %v (%v), want a redirect to %s", resp.StatusCode, loc, err, redirect)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != iam.State {
		t.Fatalf("state = %q, want %q", q.Get("state"), iam.State)
	}
	return p.tokenRequest(t, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {q.Get("code")},
		"redirect_uri":  {redirect},
		"client_id":     {"base-web"},
		"code_verifier": {iam.CodeVerifier},
	})
}

// fetchJSON GETs u with client and decodes a JSON body into v; it returns the
// status.
func fetchJSON(t *testing.T, client *http.Client, u string, v any) int {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

// apiCall sends method path to Base with token (none when empty) and returns
// the status and the decoded JSON body.
func apiCall(t *testing.T, srv *Server, method, path, token string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// authRefresh calls auth-refresh, which answers 200 with the caller's users
// mirror record for an authenticated caller and 401 for a guest.
func authRefresh(t *testing.T, srv *Server, token string) (int, map[string]any) {
	t.Helper()
	code, body := apiCall(t, srv, http.MethodPost, "/v1/collections/users/auth-refresh", token)
	rec, _ := body["record"].(map[string]any)
	return code, rec
}

// freePortNum returns a free 127.0.0.1 port number.
func freePortNum(t *testing.T) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(freePort(t))
	var n int
	fmt.Sscan(port, &n)
	return n
}

// forge re-encodes token's claims with edit applied, keeping the original
// header and signature: a forgery the signature no longer covers.
func forge(t *testing.T, token string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// TestExternalIAM proves that IAM_ENDPOINT switches Base to an external,
// real OpenID Connect provider: tokens it issues (client_credentials and a
// browser-style authorization_code + PKCE login started from Base's own
// auth-methods) authenticate, map to orgs and superuser rights by their
// claims; forged, foreign and absent tokens are guests; the JWKS is fetched
// lazily, cached, and a key rotation is picked up by the unknown-kid refetch.
func TestExternalIAM(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node")
	_, err = os.Stat("node_modules/oidc-provider")
	need(t, err == nil, "e2e/node_modules/oidc-provider (npm ci)")

	bin := buildBase(t, t.TempDir())

	admin := providerClient{ID: "svc-admin", Secret: "admin-secret-0123456789-0123456789",
		Claims: map[string]any{"owner": "acme", "isAdmin": true, "email": "ops@acme.test", "name": "Ops"}}
	bot := providerClient{ID: "bot", Secret: "bot-secret-0123456789-0123456789-01",
		Claims: map[string]any{"organization": "globex", "email": "bot@globex.test"}}
	loner := providerClient{ID: "loner", Secret: "loner-secret-0123456789-0123456789"}
	root := providerClient{ID: "root", Secret: "root-secret-0123456789-0123456789-",
		Claims: map[string]any{"owner": "built-in", "isGlobalAdmin": true}}
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", freePortNum(t))
	cfg := providerConfig{
		Port:     freePortNum(t),
		Resource: tokenAudience,
		Clients:  []providerClient{admin, bot, loner, root},
		Web:      map[string]any{"client_id": "base-web", "redirect_uris": []string{redirect}},
		Accounts: map[string]map[string]any{"acme/alice": {"email": "alice@acme.test", "name": "Alice"}},
	}
	idp := startProvider(t, cfg)

	srv := startBase(t, bin,
		"IAM_ENDPOINT="+idp.URL,
		"IAM_AUDIENCE="+tokenAudience,
		"IAM_CLIENT_ID=base-web",
		"BASE_DEFAULT_ORG=lobby",
	)

	// The JWKS is fetched lazily: starting Base (which reads the discovery
	// document) and serving guests fetch nothing. The login follows Base's
	// auth-methods as a guest.
	if code, _ := authRefresh(t, srv, ""); code == 200 {
		t.Fatalf("auth-refresh without a token: status %d, want a refusal", code)
	}
	aliceTok := userLogin(t, srv, idp, redirect, "acme/alice")
	adminTok := idp.clientToken(t, admin)
	if n := idp.JWKSFetches(); n != 0 {
		t.Fatalf("JWKS fetched %d times before any token was verified, want 0 (lazy)", n)
	}

	// Authenticated requests: the mirror record is the caller's, in the org its
	// claims name (owner, else organization, else the sub prefix, else the
	// default org).
	usersIn := func(org string) string { return base.NewCollectionID(org, base.TypeAuth, base.UsersCollection, 0) }
	for _, tc := range []struct {
		name, token, sub, org, email, userName string
	}{
		{"owner claim", adminTok, admin.ID, "acme", "ops@acme.test", "Ops"},
		{"sub prefix (authorization code login)", aliceTok, "acme/alice", "acme", "alice@acme.test", "Alice"},
		{"organization claim", idp.clientToken(t, bot), bot.ID, "globex", "bot@globex.test", ""},
		{"default org", idp.clientToken(t, loner), loner.ID, "lobby", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, rec := authRefresh(t, srv, tc.token)
			if code != 200 {
				t.Fatalf("auth-refresh: status %d, want 200", code)
			}
			want := map[string]any{
				"id": base.UserRecordID(tc.sub), "collectionId": usersIn(tc.org), "collectionName": "users",
				"email": tc.email, "name": tc.userName,
			}
			for k, v := range want {
				if rec[k] != v {
					t.Errorf("record[%q] = %v, want %v (record %v)", k, rec[k], v, rec)
				}
			}
		})
	}
	if n := idp.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times for four tokens signed by one key, want 1 (cached)", n)
	}

	// Rights come from the claims: isAdmin makes a superuser of its own org
	// only; a platform superuser may act in any org.
	for _, tc := range []struct {
		name, token, org string
		want             int
	}{
		{"org admin", adminTok, "", 200},
		{"org admin in another org", adminTok, "globex", 403},
		{"member", aliceTok, "", 403},
		{"guest", "", "acme", 401},
		{"platform superuser", idp.clientToken(t, root), "globex", 200},
	} {
		var hdr []string
		if tc.org != "" {
			hdr = []string{"X-Org-Id", tc.org}
		}
		if code, body := apiCall(t, srv, http.MethodGet, "/v1/collections", tc.token, hdr...); code != tc.want {
			t.Errorf("%s: GET /v1/collections: status %d, want %d (%v)", tc.name, code, tc.want, body)
		}
	}
	if code, _ := apiCall(t, srv, http.MethodPost, "/v1/collections/users/auth-refresh", "", "X-Org-Id", "acme"); code != 401 {
		t.Errorf("guest of acme: auth-refresh status %d, want 401", code)
	}
	// The org admin sees the acme mirror: itself and alice, not globex's bot.
	code, list := apiCall(t, srv, http.MethodGet, "/v1/collections/users/records?sort=id", adminTok)
	if code != 200 {
		t.Fatalf("admin lists users: status %d (%v)", code, list)
	}
	var ids []string
	items, _ := list["items"].([]any)
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	wantIDs := []string{base.UserRecordID(admin.ID), base.UserRecordID("acme/alice")}
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("acme users = %v, want %v", ids, wantIDs)
	}

	// Forged and foreign tokens are guests.
	impostor := startProvider(t, providerConfig{
		Port: freePortNum(t), Issuer: idp.Issuer, Resource: tokenAudience, Clients: []providerClient{admin},
	})
	if impostor.KID == idp.KID {
		t.Fatal("two provider instances generated the same kid")
	}
	foreign := impostor.clientToken(t, admin)
	for _, tc := range []struct{ name, token string }{
		{"claims edited (isAdmin)", forge(t, aliceTok, func(c map[string]any) { c["isAdmin"] = true })},
		{"claims edited (sub)", forge(t, adminTok, func(c map[string]any) { c["sub"] = "acme/mallory" })},
		{"signature stripped", adminTok[:strings.LastIndexByte(adminTok, '.')+1]},
		{"same issuer, another key", foreign},
	} {
		if code, rec := authRefresh(t, srv, tc.token); code != 401 {
			t.Errorf("%s: auth-refresh status %d, want 401 (record %v)", tc.name, code, rec)
		}
		if code, _ := apiCall(t, srv, http.MethodGet, "/v1/collections", tc.token); code != 401 {
			t.Errorf("%s: GET /v1/collections: status %d, want 401", tc.name, code)
		}
	}
	if n := impostor.JWKSFetches(); n != 0 {
		t.Errorf("Base fetched the impostor's JWKS %d times; it must only trust IAM_ENDPOINT's", n)
	}

	// The configured audience and issuer are enforced: a Base expecting
	// another of either treats the same genuine token as a guest's.
	for _, env := range [][]string{
		{"IAM_AUDIENCE=urn:another-service"},
		{"IAM_AUDIENCE=" + tokenAudience, "IAM_ISSUER=http://127.0.0.1:1"},
	} {
		other := startBase(t, bin, append([]string{"IAM_ENDPOINT=" + idp.URL}, env...)...)
		if code, rec := authRefresh(t, other, aliceTok); code == 200 {
			t.Errorf("%v: alice's token authenticated (record %v)", env, rec)
		}
		if code, _ := apiCall(t, other, http.MethodGet, "/v1/collections", adminTok); code != 401 {
			t.Errorf("%v: admin token: GET /v1/collections: status %d, want 401", env, code)
		}
	}

	// Key rotation: the provider restarts on the same port with a new key.
	// A token signed by it has an unknown kid, which makes Base refetch the
	// JWKS (at most once per rate-limit window, so the first attempts may
	// still be refused); from then on the new key is trusted and the old,
	// no longer published, is not.
	idp.Stop()
	rotated := startProvider(t, cfg)
	if rotated.KID == idp.KID {
		t.Fatal("restarted provider kept its kid")
	}
	newTok := rotated.clientToken(t, admin)
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for attempt := 1; ; attempt++ {
		code, rec := authRefresh(t, srv, newTok)
		if code == 200 {
			t.Logf("rotated key trusted after %d attempt(s), %v", attempt, time.Since(start).Round(time.Millisecond))
			if rec["id"] != base.UserRecordID(admin.ID) {
				t.Errorf("after rotation: record %v, want id %s", rec, base.UserRecordID(admin.ID))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token signed with the rotated key was still refused after 20s (status %d)", code)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := rotated.JWKSFetches(); n < 1 {
		t.Errorf("rotated provider served its JWKS %d times, want at least 1", n)
	}
	if code, _ := apiCall(t, srv, http.MethodGet, "/v1/collections", newTok); code != 200 {
		t.Errorf("rotated admin token: GET /v1/collections: status %d, want 200", code)
	}
	if code, _ := authRefresh(t, srv, adminTok); code != 401 {
		t.Errorf("token signed with the retired key: auth-refresh status %d, want 401", code)
	}
}

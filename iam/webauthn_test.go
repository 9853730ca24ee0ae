package iam_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"github.com/hanzoai/base/iam"
)

// authenticator is a software WebAuthn authenticator (ES256, "none"
// attestation): it makes real attestation objects and signs real
// assertions, so the tests exercise go-webauthn's verification as a
// browser would.
type authenticator struct {
	origin string // the client origin it reports in clientDataJSON
	creds  []*softCredential
	uv     bool // report user verification
	synced bool // report backup eligibility and state (a synced passkey)
}

type softCredential struct {
	id     []byte
	key    *ecdsa.PrivateKey
	rpID   string
	handle []byte
	count  uint32
}

var enc = base64.RawURLEncoding

func newAuthenticator(origin string) *authenticator { return &authenticator{origin: origin, uv: true} }

func (a *authenticator) flags(extra byte) byte {
	f := byte(0x01) | extra // UP
	if a.uv {
		f |= 0x04
	}
	if a.synced {
		f |= 0x08 | 0x10 // BE, BS
	}
	return f
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// create answers a "create" begin response (publicKey options) with a new
// credential, as navigator.credentials.create would.
func (a *authenticator) create(t testing.TB, pk map[string]any) json.RawMessage {
	t.Helper()
	rp := pk["rp"].(map[string]any)
	user := pk["user"].(map[string]any)
	handle, err := enc.DecodeString(user["id"].(string))
	if err != nil {
		t.Fatalf("user.id: %v", err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := &softCredential{id: make([]byte, 32), key: key, rpID: rp["id"].(string), handle: handle}
	rand.Read(c.id)
	a.creds = append(a.creds, c)
	x, y := make([]byte, 32), make([]byte, 32)
	key.PublicKey.X.FillBytes(x)
	key.PublicKey.Y.FillBytes(y)
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		t.Fatal(err)
	}
	rpHash := sha256.Sum256([]byte(c.rpID))
	var auth bytes.Buffer
	auth.Write(rpHash[:])
	auth.WriteByte(a.flags(0x40)) // AT
	binary.Write(&auth, binary.BigEndian, c.count)
	auth.Write(make([]byte, 16)) // AAGUID
	binary.Write(&auth, binary.BigEndian, uint16(len(c.id)))
	auth.Write(c.id)
	auth.Write(cose)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"id": enc.EncodeToString(c.id), "rawId": enc.EncodeToString(c.id), "type": "public-key",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    enc.EncodeToString(clientData("webauthn.create", pk["challenge"].(string), a.origin)),
			"attestationObject": enc.EncodeToString(att),
			"transports":        []string{"internal", "hybrid"},
		},
	})
	return body
}

// get answers a "get" begin response with an assertion by credential c
// (nil: the first one allowed, else the first one).
func (a *authenticator) get(t testing.TB, pk map[string]any, c *softCredential) json.RawMessage {
	t.Helper()
	if c == nil {
		allowed, _ := pk["allowCredentials"].([]any)
		for _, ac := range allowed {
			id, _ := enc.DecodeString(ac.(map[string]any)["id"].(string))
			for _, cand := range a.creds {
				if c == nil && bytes.Equal(cand.id, id) {
					c = cand
				}
			}
		}
		if c == nil {
			c = a.creds[0]
		}
	}
	c.count++
	rpHash := sha256.Sum256([]byte(c.rpID))
	var auth bytes.Buffer
	auth.Write(rpHash[:])
	auth.WriteByte(a.flags(0))
	binary.Write(&auth, binary.BigEndian, c.count)
	cd := clientData("webauthn.get", pk["challenge"].(string), a.origin)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth.Bytes()...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"id": enc.EncodeToString(c.id), "rawId": enc.EncodeToString(c.id), "type": "public-key",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    enc.EncodeToString(cd),
			"authenticatorData": enc.EncodeToString(auth.Bytes()),
			"signature":         enc.EncodeToString(sig),
			"userHandle":        enc.EncodeToString(c.handle),
		},
	})
	return body
}

// localhostIAM is a test IAM whose issuer is http://localhost:<port> (a
// valid WebAuthn RP ID; browsers refuse IP addresses).
func localhostIAM(t testing.TB, mut ...func(*iam.Config)) *testIAM {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	issuer := "http://localhost:" + strconv.Itoa(port)
	return newTestIAM(t, append([]func(*iam.Config){func(c *iam.Config) { c.Issuer = issuer }}, mut...)...)
}

// origin is the issuer origin of ti.
func (ti *testIAM) origin() string { return strings.TrimRight(ti.Issuer(), "/") }

// api calls a WebAuthn JSON endpoint with ti's cookies, from the issuer's
// origin.
func (ti *testIAM) api(t testing.TB, client *http.Client, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ti.URL+path, rd)
	req.Header.Set("Origin", ti.origin())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = ti.client
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: not JSON (%d): %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// ceremony runs begin (expecting mode) and returns the ceremony id and
// the publicKey options.
func (ti *testIAM) begin(t testing.TB, client *http.Client, path, mode string) (string, map[string]any) {
	t.Helper()
	st, m := ti.api(t, client, "POST", path, map[string]any{})
	if st != 200 || m["mode"] != mode {
		t.Fatalf("begin %s: %d %v", path, st, m)
	}
	return m["ceremony"].(string), m["publicKey"].(map[string]any)
}

func freshClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func authzQuery(challenge string) url.Values { return authzQueryFor("spa", challenge) }

func authzQueryFor(clientID, challenge string) url.Values {
	return url.Values{"client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {"st"}, "nonce": {"n-1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}

// exchange redeems a code of the spa client and returns the access token
// claims' subject.
func (ti *testIAM) exchange(t testing.TB, code, verifier string) map[string]any {
	t.Helper()
	return ti.exchangeFor(t, "spa", code, verifier)
}

func (ti *testIAM) exchangeFor(t testing.TB, clientID, code, verifier string) map[string]any {
	t.Helper()
	st, tok := ti.token(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("token: %d %v", st, tok)
	}
	return tok
}

func codeFromRedirect(t testing.TB, m map[string]any) string {
	t.Helper()
	loc, err := url.Parse(m["redirect"].(string))
	if err != nil || !strings.HasPrefix(loc.String(), "http://127.0.0.1:9999/cb?") || loc.Query().Get("state") != "st" {
		t.Fatalf("redirect %v", m["redirect"])
	}
	if loc.Query().Get("code") != m["data"] {
		t.Fatalf("code in redirect %q != data %v", loc.Query().Get("code"), m["data"])
	}
	return loc.Query().Get("code")
}

func subjectOf(t testing.TB, accessToken string) string {
	t.Helper()
	parts := strings.Split(accessToken, ".")
	b, _ := enc.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(b, &c)
	return c["sub"].(string)
}

// registerPasskey signs user in with the password (client gets the SSO
// session) and registers a passkey on auth.
func (ti *testIAM) registerPasskey(t testing.TB, client *http.Client, auth *authenticator, user, password string) map[string]any {
	t.Helper()
	_, challenge := pkcePair("reg-" + user)
	q := authzQuery(challenge)
	q.Set("username", user)
	q.Set("password", password)
	req, _ := http.NewRequest("POST", ti.URL+iam.PathAuthorize, strings.NewReader(q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password login of %s: %d", user, resp.StatusCode)
	}
	id, pk := ti.begin(t, client, iam.PathWebAuthnRegisterBegin, "create")
	if sel := pk["authenticatorSelection"].(map[string]any); sel["residentKey"] != "required" {
		t.Fatalf("registration must ask for a discoverable credential: %v", sel)
	}
	st, m := ti.api(t, client, "POST", iam.PathWebAuthnRegisterFinish, map[string]any{"ceremony": id, "credential": auth.create(t, pk), "name": "laptop"})
	if st != 200 || m["status"] != "ok" {
		t.Fatalf("register finish: %d %v", st, m)
	}
	return m["data"].(map[string]any)
}

func TestPasskeyRegistrationAndPasswordlessLogin(t *testing.T) {
	ti := localhostIAM(t)
	auth := newAuthenticator(ti.origin())
	pk := ti.registerPasskey(t, ti.client, auth, "alice", "alice-password")
	if pk["name"] != "laptop" || pk["id"] != enc.EncodeToString(auth.creds[0].id) {
		t.Fatalf("registered passkey: %v", pk)
	}
	st, m := ti.api(t, nil, "GET", iam.PathWebAuthnCredentials, nil)
	if list, _ := m["data"].([]any); st != 200 || len(list) != 1 {
		t.Fatalf("credentials: %d %v", st, m)
	}
	if tr := m["data"].([]any)[0].(map[string]any)["transports"]; len(tr.([]any)) != 2 {
		t.Fatalf("transports not kept: %v", tr)
	}

	// A new browser: the login page offers a passkey, under a CSP nonce.
	browser := freshClient()
	verifier, challenge := pkcePair("passwordless")
	q := authzQuery(challenge)
	resp, err := browser.Get(ti.URL + iam.PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(string(page), "Sign in with a passkey") || !strings.Contains(csp, "script-src 'nonce-") ||
		!strings.Contains(string(page), `<script nonce="`) {
		t.Fatalf("login page lacks the passkey button or its nonce (CSP %q)", csp)
	}
	id, opts := ti.begin(t, browser, iam.PathWebAuthnLoginBegin+"?"+q.Encode(), "get")
	if opts["userVerification"] != "required" || opts["allowCredentials"] != nil {
		t.Fatalf("passwordless options must be discoverable with UV required: %v", opts)
	}
	st, m = ti.api(t, browser, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
	if st != 200 || m["status"] != "ok" {
		t.Fatalf("login finish: %d %v", st, m)
	}
	tok := ti.exchange(t, codeFromRedirect(t, m), verifier)
	if sub := subjectOf(t, tok["access_token"].(string)); sub != "acme/alice" {
		t.Fatalf("sub = %q", sub)
	}
	// The browser now has an SSO session: authorize answers with a code.
	resp, err = browser.Get(ti.URL + iam.PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("SSO after passkey login: %d", resp.StatusCode)
	}

	list, err := ti.Passkeys(t.Context(), "acme", "alice")
	if err != nil || len(list) != 1 || list[0].SignCount != 1 || list[0].LastUsed.IsZero() {
		t.Fatalf("sign count / last use not recorded: %+v %v", list, err)
	}
	expectAudit(t, ti, "webauthn.register/ok", "webauthn.login/ok")
}

// expectAudit waits (up to 10 s: the audit log is written in batches) until
// the audit log holds every event/result of want.
func expectAudit(t testing.TB, ti *testIAM, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ti.FlushAudit(t.Context())
		entries, err := ti.Audit(t.Context(), "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, e := range entries {
			got[e.Event+"/"+e.Result] = true
		}
		var missing []string
		for _, w := range want {
			if !got[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit lacks %v (has %v)", missing, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPasskeyLoginRefusals: every broken assertion is refused (and audited)
// by the real verifier, and ceremonies are single use.
func TestPasskeyLoginRefusals(t *testing.T) {
	// More failures than the throttle allows come from one IP here; see
	// TestPasskeyThrottling for the throttle.
	ti := localhostIAM(t, func(c *iam.Config) { c.MaxFailures = 100 })
	auth := newAuthenticator(ti.origin())
	ti.registerPasskey(t, ti.client, auth, "alice", "alice-password")
	_, challenge := pkcePair("refusals")
	beginPath := iam.PathWebAuthnLoginBegin + "?" + authzQuery(challenge).Encode()

	edit := func(body json.RawMessage, f func(resp map[string]any)) json.RawMessage {
		var m map[string]any
		json.Unmarshal(body, &m)
		f(m["response"].(map[string]any))
		b, _ := json.Marshal(m)
		return b
	}
	stranger := newAuthenticator(ti.origin())
	stranger.create(t, map[string]any{"rp": map[string]any{"id": "localhost"}, "user": map[string]any{"id": enc.EncodeToString([]byte("nobody"))}, "challenge": "x"})

	for _, tc := range []struct {
		name string
		want int
		cred func(opts map[string]any) json.RawMessage
	}{
		{"wrong origin", 401, func(o map[string]any) json.RawMessage {
			evil := &authenticator{origin: "http://evil.example", creds: auth.creds, uv: true}
			return evil.get(t, o, nil)
		}},
		{"bad signature", 401, func(o map[string]any) json.RawMessage {
			return edit(auth.get(t, o, nil), func(r map[string]any) {
				sig, _ := enc.DecodeString(r["signature"].(string))
				sig[len(sig)-1] ^= 1
				r["signature"] = enc.EncodeToString(sig)
			})
		}},
		{"other challenge", 401, func(o map[string]any) json.RawMessage {
			return auth.get(t, map[string]any{"challenge": enc.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}, nil)
		}},
		{"unknown credential", 401, func(o map[string]any) json.RawMessage { return stranger.get(t, o, nil) }},
		{"no user verification", 401, func(o map[string]any) json.RawMessage {
			noUV := &authenticator{origin: ti.origin(), creds: auth.creds}
			return noUV.get(t, o, nil)
		}},
		{"garbage", 401, func(o map[string]any) json.RawMessage { return json.RawMessage(`{"id":"x","type":"public-key"}`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, opts := ti.begin(t, freshClient(), beginPath, "get")
			st, m := ti.api(t, freshClient(), "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": tc.cred(opts)})
			if st != tc.want || m["status"] != "error" {
				t.Fatalf("got %d %v, want %d", st, m, tc.want)
			}
			// The ceremony is consumed even by a failure.
			st, _ = ti.api(t, freshClient(), "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
			if st != 400 {
				t.Fatalf("reused ceremony: %d, want 400", st)
			}
		})
	}
	// A good assertion works once; replaying the ceremony does not.
	id, opts := ti.begin(t, freshClient(), beginPath, "get")
	good := auth.get(t, opts, nil)
	if st, m := ti.api(t, freshClient(), "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": good}); st != 200 {
		t.Fatalf("good assertion: %d %v", st, m)
	}
	if st, _ := ti.api(t, freshClient(), "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": good}); st != 400 {
		t.Fatalf("replayed ceremony: %d, want 400", st)
	}
	// Cross-origin callers and non-JSON bodies are refused.
	req, _ := http.NewRequest("POST", ti.URL+beginPath, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin begin: %d, want 403", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", ti.URL+beginPath, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("text/plain begin: %d, want 415", resp.StatusCode)
	}
	// Registration needs a session.
	if st, _ := ti.api(t, freshClient(), "POST", iam.PathWebAuthnRegisterBegin, map[string]any{}); st != 401 {
		t.Fatalf("register without session: %d", st)
	}
	expectAudit(t, ti, "webauthn.login/failure")
}

// TestPasskeyCeremonyAcrossInstances: a ceremony begun on one instance is
// finished on another sharing the store (no process-local state).
func TestPasskeyCeremonyAcrossInstances(t *testing.T) {
	st := openTestStore(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var servers []*iam.Server
	for range 2 {
		srv, err := iam.New(t.Context(), iam.Config{Store: st, Issuer: issuer, Argon2: iam.Argon2Params{Memory: 64, Time: 1, Threads: 1},
			LookupEnv: func(k string) (string, bool) {
				return map[string]string{"ALICE_PASSWORD": "alice-password", "WEB_SECRET": "s"}[k], true
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if err := srv.ApplyInitData(t.Context(), []byte(testInit)); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, srv)
	}
	var n atomic.Int64
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		servers[n.Add(1)%2].Handler().ServeHTTP(w, r) // strictly alternating
	}))
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	ti := &testIAM{Server: servers[0], URL: hs.URL, client: freshClient()}
	auth := newAuthenticator(issuer)
	ti.registerPasskey(t, ti.client, auth, "alice", "alice-password")
	verifier, challenge := pkcePair("across")
	id, opts := ti.begin(t, freshClient(), iam.PathWebAuthnLoginBegin+"?"+authzQuery(challenge).Encode(), "get")
	code, m := ti.api(t, freshClient(), "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
	if code != 200 {
		t.Fatalf("finish on the other instance: %d %v", code, m)
	}
	ti.exchange(t, codeFromRedirect(t, m), verifier)
}

// TestPasskeyUnavailableOnIPIssuer: an IP-address issuer cannot be a
// relying party: no button, 501 from the API.
func TestPasskeyUnavailableOnIPIssuer(t *testing.T) {
	ti := newTestIAM(t)
	_, challenge := pkcePair("ip")
	resp, body := ti.do(t, "GET", iam.PathAuthorize+"?"+authzQuery(challenge).Encode(), nil)
	if resp.StatusCode != 200 || strings.Contains(string(body), `id="passkey"`) || strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") {
		t.Fatalf("IP issuer login page offers passkeys: %d", resp.StatusCode)
	}
	if st, _ := ti.api(t, nil, "POST", iam.PathWebAuthnLoginBegin+"?"+authzQuery(challenge).Encode(), map[string]any{}); st != 501 {
		t.Fatalf("login begin on IP issuer: %d, want 501", st)
	}
}

// TestPasskeyPostgres runs the passkey and MFA tests with the IAM on
// PostgreSQL (the ceremonies, credentials and pending second factors are
// portable SQL).
func TestPasskeyPostgres(t *testing.T) {
	runOnPostgres(t, []namedTest{
		{"RegistrationAndPasswordlessLogin", TestPasskeyRegistrationAndPasswordlessLogin},
		{"LoginRefusals", TestPasskeyLoginRefusals},
		{"CeremonyAcrossInstances", TestPasskeyCeremonyAcrossInstances},
		{"AsSecondFactor", TestPasskeyAsSecondFactor},
		{"MFARequired", TestMFARequired},
		{"Throttling", TestPasskeyThrottling},
		{"AMR", TestAMR},
	})
}

// TestPasskeyOfDisabledUser: a disabled account's valid passkey is refused
// as a failed sign-in (401, audited), not answered with a server error.
func TestPasskeyOfDisabledUser(t *testing.T) {
	ti := localhostIAM(t)
	auth := newAuthenticator(ti.origin())
	ti.registerPasskey(t, ti.client, auth, "alice", "alice-password")
	off := true
	if _, err := ti.UpdateUser(t.Context(), "acme", "alice", iam.UserPatch{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	browser := freshClient()
	_, challenge := pkcePair("disabled")
	q := authzQuery(challenge)
	id, opts := ti.begin(t, browser, iam.PathWebAuthnLoginBegin+"?"+q.Encode(), "get")
	st, m := ti.api(t, browser, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
	if st != http.StatusUnauthorized || m["status"] != "error" {
		t.Fatalf("disabled user's passkey login: %d %v", st, m)
	}
	for _, c := range browser.Jar.Cookies(mustURL(t, ti.URL+"/v1/iam/")) {
		if c.Name == "iam_session" {
			t.Fatal("a session cookie was set for a disabled user")
		}
	}
	expectAudit(t, ti, "webauthn.login/disabled")
}

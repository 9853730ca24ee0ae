package hub_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/realtime-hub/hub"
	"github.com/hanzoai/base/store/sqlite"
)

const testIssuer = "http://iam.test"

// deployment is one data directory with a signing key its verifier trusts.
type deployment struct {
	dir      string
	key      *ecdsa.PrivateKey
	verifier *auth.Verifier
}

func newDeployment(tb testing.TB) *deployment {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := auth.New(tb.Context(), auth.Config{Issuer: testIssuer, Keys: map[string]crypto.PublicKey{"k1": &key.PublicKey}})
	if err != nil {
		tb.Fatalf("verifier: %v", err)
	}
	return &deployment{dir: tb.TempDir(), key: key, verifier: v}
}

// mint signs claims (ES256, kid k1) for an hour.
func (d *deployment) mint(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	c := jwt.MapClaims{"iss": testIssuer, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = "k1"
	tok, err := t.SignedString(d.key)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// instance is one `base serve`-like process: a store handle, the API
// handler publishing to b, and a hub on the same bus, behind one server.
type instance struct {
	srv *httptest.Server
	hub *hub.Hub
}

func newInstance(tb testing.TB, d *deployment, b bus.Bus, opts ...func(*hub.Config)) *instance {
	tb.Helper()
	st, err := sqlite.Open(sqlite.Config{Dir: d.dir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	api, err := handler.New(handler.Config{Store: st, Verifier: d.verifier, Publisher: b, DefaultOrg: "default"})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := hub.Config{Store: st, Bus: b, Verifier: d.verifier, DefaultOrg: "default", KeepAlive: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := hub.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	mux := http.NewServeMux()
	mux.Handle("/v1/realtime", h.Handler())
	mux.Handle("/v1/realtime/", h.Handler())
	mux.Handle("/api/realtime", h.Handler())
	mux.Handle("/api/realtime/", h.Handler())
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return &instance{srv: srv, hub: h}
}

// call sends a JSON request and decodes the JSON answer.
func call(tb testing.TB, base, method, path, token string, body any) (int, map[string]any) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func mustCall(tb testing.TB, want int, base, method, path, token string, body any) map[string]any {
	tb.Helper()
	got, out := call(tb, base, method, path, token, body)
	if got != want {
		tb.Fatalf("%s %s = %d %v, want %d", method, path, got, out, want)
	}
	return out
}

// sseEvent is one parsed SSE message.
type sseEvent struct {
	id, event, data string
}

// sseClient is a raw EventSource-like reader.
type sseClient struct {
	res      *http.Response
	events   chan sseEvent
	clientID string
	raw      *bytes.Buffer
}

func openSSE(tb testing.TB, base, lastEventID string) *sseClient {
	tb.Helper()
	req, _ := http.NewRequest("GET", base+"/api/realtime", nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	c := &sseClient{res: res, events: make(chan sseEvent, 1000), raw: &bytes.Buffer{}}
	tb.Cleanup(c.close)
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id:"):
				ev.id = line[3:]
			case strings.HasPrefix(line, "event:"):
				ev.event = line[6:]
			case strings.HasPrefix(line, "data:"):
				ev.data = line[5:]
			}
		}
	}()
	first := c.next(tb, 5*time.Second)
	if first.event != "PB_CONNECT" {
		tb.Fatalf("first event %+v, want PB_CONNECT", first)
	}
	c.clientID = first.id
	return c
}

func (c *sseClient) close() { c.res.Body.Close() }

func (c *sseClient) next(tb testing.TB, d time.Duration) sseEvent {
	tb.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			tb.Fatal("stream closed")
		}
		return ev
	case <-time.After(d):
		tb.Fatal("no event within", d)
	}
	return sseEvent{}
}

// none asserts that nothing arrives within d.
func (c *sseClient) none(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case ev, ok := <-c.events:
		if ok {
			tb.Fatalf("unexpected event %+v", ev)
		}
	case <-time.After(d):
	}
}

func (c *sseClient) subscribe(tb testing.TB, base, token string, want int, topics ...string) {
	tb.Helper()
	if topics == nil {
		topics = []string{}
	}
	got, out := call(tb, base, "POST", "/api/realtime", token, map[string]any{"clientId": c.clientID, "subscriptions": topics})
	if got != want {
		tb.Fatalf("subscribe %v = %d %v, want %d", topics, got, out, want)
	}
}

func decodeData(tb testing.TB, ev sseEvent) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
		tb.Fatalf("data %q: %v", ev.data, err)
	}
	return m
}

func field(name, typ string, kv ...any) map[string]any {
	m := map[string]any{"name": name, "type": typ}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// users of org "default".
var (
	adminClaims = map[string]any{"sub": "admin", "owner": "default", "isAdmin": true}
	aliceClaims = map[string]any{"sub": "alice", "owner": "default", "name": "Alice"}
	bobClaims   = map[string]any{"sub": "bob", "owner": "default", "name": "Bob"}
	acmeClaims  = map[string]any{"sub": "carol", "owner": "acme", "name": "Carol"}
)

type tokens struct{ admin, alice, bob, acme string }

// seed creates posts (owner relation, hidden field, rules) and returns
// tokens.
func seed(tb testing.TB, d *deployment, base string) tokens {
	tb.Helper()
	t := tokens{admin: d.mint(tb, adminClaims), alice: d.mint(tb, aliceClaims), bob: d.mint(tb, bobClaims), acme: d.mint(tb, acmeClaims)}
	// Touch alice and bob so their mirror records exist.
	mustCall(tb, 200, base, "GET", "/v1/collections/users/auth-methods", t.alice, nil)
	mustCall(tb, 200, base, "POST", "/v1/collections/users/auth-refresh", t.alice, nil)
	mustCall(tb, 200, base, "POST", "/v1/collections/users/auth-refresh", t.bob, nil)
	mustCall(tb, 200, base, "POST", "/v1/collections", t.admin, map[string]any{
		"name": "posts", "type": "base",
		"fields": []any{
			field("title", "text"), field("published", "bool"), field("secret", "text", "hidden", true),
			field("owner", "relation", "collectionId", "users", "maxSelect", 1),
		},
		"listRule":   `published = true || owner = @request.auth.id`,
		"viewRule":   `owner.name = "Alice" || owner = @request.auth.id`,
		"createRule": "", "updateRule": "", "deleteRule": "",
	})
	return t
}

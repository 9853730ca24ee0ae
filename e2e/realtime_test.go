package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
)

// TestRealtimeTwoInstances runs two `base serve` processes on one data
// directory and one real Redis behind a round-robin reverse proxy, so a
// client's event stream and its subscription POST land on different
// instances (the POST is routed to the stream's instance through the bus)
// and writes on either instance reach the subscriber. Then Redis is killed
// and restarted: writes keep succeeding, the events written meanwhile are
// delivered once Redis is back, and so are later ones. Finally the client
// reconnects through the proxy with Last-Event-ID and receives what it
// missed.
func TestRealtimeTwoInstances(t *testing.T) {
	r := testsrv.StartRedis(t)
	bin := buildBase(t, t.TempDir())
	dir := t.TempDir()
	env := []string{"BASE_REDIS_URL=" + r.URL()}
	a := startBaseDir(t, bin, dir, env...)
	// b starts once a's embedded IAM has created its key and migrated its
	// tables: two processes migrating one fresh directory at once race
	// ("migrate iam: no such table: main.iam_apps").
	call(t, 200, a.URL, "GET", "/.well-known/openid-configuration", "", nil)
	b := startBaseDir(t, bin, dir, env...)
	inst := []*Server{a, b}
	px := newRoundRobin(t, a.URL, b.URL)

	admin := a.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	alice := a.Token(t, "--sub", "acme/alice", "--org", "acme")
	bob := a.Token(t, "--sub", "acme/bob", "--org", "acme")
	call(t, 200, px.URL, "POST", "/v1/collections", admin, map[string]any{
		"name": "notes", "type": "base",
		"fields":     []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "public", "type": "bool"}},
		"listRule":   "public = true || @request.auth.id != ''",
		"viewRule":   "public = true || @request.auth.id != ''",
		"createRule": "",
	})
	write := func(srv *Server, title string, public bool) {
		t.Helper()
		start := time.Now()
		call(t, 200, srv.URL, "POST", "/v1/collections/notes/records", alice, map[string]any{"title": title, "public": public})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("write %q took %v", title, d)
		}
	}

	// The stream and the POST go through the proxy, to different instances.
	s := openStream(t, px.URL, "")
	getAt := px.last("GET")
	s.subscribe(t, px.URL, alice, 204, "notes/*")
	if postAt := px.last("POST"); postAt == getAt {
		t.Fatalf("stream and POST both reached instance %d; the proxy must alternate", getAt)
	}
	holder, other := inst[getAt], inst[1-getAt]
	// Routed calls fail as if local: another identity, an unknown client.
	s.subscribe(t, other.URL, bob, 403, "notes/*")
	(&stream{id: strings.Repeat("x", 40)}).subscribe(t, other.URL, alice, 404, "notes/*")
	// A guest stream held by the other instance: gated by the list rule.
	g := openStream(t, other.URL, "")
	g.subscribeGuest(t, holder.URL, "acme", 204, "notes/*")

	write(other, "from the other instance", false)
	write(holder, "from the holding instance", true)
	s.expect(t, "from the other instance", "from the holding instance")
	g.expect(t, "from the holding instance") // the private one is not for guests

	// Redis outage: writes keep succeeding on both instances.
	r.Stop()
	write(other, "during outage 1", true)
	write(holder, "during outage 2", true)
	r.Start()
	// The outage's events arrive once Redis is back, then new ones.
	deadline := time.Now().Add(20 * time.Second)
	var titles []string
	for !contains(titles, "after restart") {
		if time.Now().After(deadline) {
			t.Fatalf("delivery did not resume after the Redis restart; got %q", titles)
		}
		write(other, "after restart", true)
		titles = append(titles, s.drain(500*time.Millisecond)...)
	}
	for _, want := range []string{"during outage 1", "during outage 2"} {
		if !contains(titles, want) {
			t.Errorf("event written during the outage not delivered: %q missing from %q", want, titles)
		}
	}
	// Routed POSTs work again.
	s.subscribe(t, other.URL, alice, 204, "notes/*")

	// Replay: drop the stream, write, reconnect through the proxy with
	// Last-Event-ID (whichever instance answers), resubscribe as the SDK
	// does, and receive the missed event.
	s.drain(300 * time.Millisecond)
	last := s.lastID
	s.close()
	write(other, "missed while away", true)
	s2 := openStream(t, px.URL, last)
	s2.subscribe(t, px.URL, alice, 204, "notes/*")
	s2.expect(t, "missed while away")
	write(holder, "live again", true)
	s2.expect(t, "live again")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// roundRobin is a reverse proxy sending each request to the next backend.
type roundRobin struct {
	*httptest.Server
	mu   sync.Mutex
	n    int
	hits map[string]int // method → backend index of its latest request
}

func newRoundRobin(t *testing.T, backends ...string) *roundRobin {
	t.Helper()
	rr := &roundRobin{hits: map[string]int{}}
	proxies := make([]*httputil.ReverseProxy, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = &httputil.ReverseProxy{
			Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
			FlushInterval: -1,
		}
	}
	rr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rr.mu.Lock()
		i := rr.n % len(proxies)
		rr.n++
		rr.hits[r.Method] = i
		rr.mu.Unlock()
		proxies[i].ServeHTTP(w, r)
	}))
	t.Cleanup(rr.Server.Close)
	return rr
}

// last returns the backend that served the latest request with method.
func (rr *roundRobin) last(method string) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.hits[method]
}

// stream is a PocketBase SSE client.
type stream struct {
	id     string // client id from PB_CONNECT
	lastID string // id of the latest event read
	events chan sseEvent
	cancel func()
}

type sseEvent struct{ id, name, data string }

// openStream opens GET /api/realtime (with Last-Event-ID when lastID is
// set) and waits for PB_CONNECT.
func openStream(t *testing.T, base, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("open stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &stream{events: make(chan sseEvent, 256), cancel: cancel}
	t.Cleanup(s.close)
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id:"):
				ev.id = line[3:]
			case strings.HasPrefix(line, "event:"):
				ev.name = line[6:]
			case strings.HasPrefix(line, "data:"):
				ev.data = line[5:]
			}
		}
	}()
	select {
	case ev := <-s.events:
		if ev.name != "PB_CONNECT" {
			t.Fatalf("first event %q, want PB_CONNECT", ev.name)
		}
		s.id = ev.id
	case <-time.After(10 * time.Second):
		t.Fatal("no PB_CONNECT")
	}
	return s
}

func (s *stream) close() {
	if s.cancel != nil {
		s.cancel()
	}
}

// subscribe POSTs the subscription set as token to base and checks the
// status.
func (s *stream) subscribe(t *testing.T, base, token string, want int, topics ...string) {
	t.Helper()
	call(t, want, base, "POST", "/api/realtime", token, map[string]any{"clientId": s.id, "subscriptions": topics})
}

// subscribeGuest POSTs the subscription set as a guest of org.
func (s *stream) subscribeGuest(t *testing.T, base, org string, want int, topics ...string) {
	t.Helper()
	call(t, want, base, "POST", "/api/realtime", "", map[string]any{"clientId": s.id, "subscriptions": topics}, "X-Org-Id", org)
}

// next returns the next record event's title, or "" after timeout.
func (s *stream) next(timeout time.Duration) (string, bool) {
	select {
	case ev, ok := <-s.events:
		if !ok {
			return "", false
		}
		s.lastID = ev.id
		var d struct {
			Record struct {
				Title string `json:"title"`
			} `json:"record"`
		}
		json.Unmarshal([]byte(ev.data), &d)
		return d.Record.Title, true
	case <-time.After(timeout):
		return "", false
	}
}

// expect reads events until it has seen every title (in any order) and
// fails on an unexpected one or a timeout.
func (s *stream) expect(t *testing.T, titles ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, x := range titles {
		want[x] = true
	}
	for len(want) > 0 {
		title, ok := s.next(10 * time.Second)
		if !ok {
			t.Fatalf("timed out waiting for %v", want)
		}
		if !want[title] {
			t.Fatalf("unexpected event %q while waiting for %v", title, want)
		}
		delete(want, title)
	}
}

// drain returns the titles of the events that arrive within d of each
// other.
func (s *stream) drain(d time.Duration) []string {
	var out []string
	for {
		title, ok := s.next(d)
		if !ok {
			return out
		}
		out = append(out, title)
	}
}

// call performs a JSON request and checks the status.
// header lists extra header name/value pairs.
func call(t *testing.T, want int, base, method, path, token string, body any, header ...string) []byte {
	t.Helper()
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
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s%s: %d %s, want %d", method, base, path, res.StatusCode, out, want)
	}
	return out
}

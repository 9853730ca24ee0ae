package e2e

// Acceptance tests of realtime correctness (issue #3) against real
// `base serve` processes: per-delivery authorization compared with what a
// GET by the same identity returns, replay within and beyond the window, a
// slow client's backpressure, a hub restart, and the Redis bus's counting
// and logging of events lost to an outage.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/realtime-hub/bus/redisbus"
)

// getJSON performs a GET as token (guest with org when token is empty) and
// returns the status and the decoded body.
func getJSON(t *testing.T, base, path, token, org string) (int, any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if org != "" {
		req.Header.Set("X-Org-Id", org)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var v any
	_ = json.Unmarshal(raw, &v)
	return res.StatusCode, v
}

// canon renders a decoded JSON value with sorted keys, so two documents
// compare byte for byte modulo key order.
func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// collector keeps every event of a stream as it arrives.
type collector struct {
	*stream
	done chan struct{} // closed when the stream ends
	mu   sync.Mutex
	got  []sseEvent
}

func collect(s *stream) *collector {
	c := &collector{stream: s, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for ev := range s.events {
			c.mu.Lock()
			c.got = append(c.got, ev)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) events() []sseEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// waitFor polls until pred holds for the collected events or fails after d.
func (c *collector) waitFor(t *testing.T, d time.Duration, what string, pred func([]sseEvent) bool) []sseEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs := c.events()
		if pred(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %d events: %s", what, len(evs), summarize(evs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func summarize(evs []sseEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		d := ev.data
		if len(d) > 200 {
			d = d[:200] + "…"
		}
		fmt.Fprintf(&b, "\n  %s %s", ev.name, d)
	}
	return b.String()
}

// short lists canonical event documents, one per line, each as its action
// and title followed by the whole document.
func short(docs []string) string {
	var b strings.Builder
	for _, d := range docs {
		var v struct {
			Action string `json:"action"`
			Record struct {
				Title string `json:"title"`
			} `json:"record"`
		}
		json.Unmarshal([]byte(d), &v)
		fmt.Fprintf(&b, "\n      %s %q  %s", v.Action, v.Record.Title, d)
	}
	return b.String()
}

func titleOf(ev sseEvent) string {
	var d struct {
		Record struct {
			Title string `json:"title"`
		} `json:"record"`
	}
	json.Unmarshal([]byte(ev.data), &d)
	return d.Record.Title
}

// TestRealtimeDeliveryMatchesGET subscribes owner, another user, a guest,
// a user of another org and a superuser to a collection whose rules reach
// into a relation and into @collection, through `*` and record topics
// with expand, fields and filter options. After every write it asks each
// subscriber's identity for the record with the equivalent GET (the list
// endpoint for `*`, which the list rule gates; the view endpoint for a
// record topic) and expects exactly those records, byte for byte modulo
// key order, in order, and nothing else: a rule change, a new grant in the
// @collection the rule consults, hidden fields, deletes included.
func TestRealtimeDeliveryMatchesGET(t *testing.T) { testDeliveryMatchesGET(t) }

// TestRealtimeDeliveryMatchesGETPostgres is the same on PostgreSQL, where
// the hub's store checks run other SQL.
func TestRealtimeDeliveryMatchesGETPostgres(t *testing.T) {
	pg := testsrv.Postgres(t)
	testDeliveryMatchesGET(t, "BASE_STORE=postgres", "BASE_STORE_URL="+pg.URL)
}

func testDeliveryMatchesGET(t *testing.T, env ...string) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin, env...)
	u := srv.URL
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	alice := srv.Token(t, "--sub", "acme/alice", "--org", "acme", "--name", "Alice", "--email", "alice@acme.test")
	bob := srv.Token(t, "--sub", "acme/bob", "--org", "acme", "--name", "Bob", "--email", "bob@acme.test")
	eve := srv.Token(t, "--sub", "globex/eve", "--org", "globex", "--name", "Eve")
	aliceID, bobID := base.UserRecordID("acme/alice"), base.UserRecordID("acme/bob")
	for _, tok := range []string{admin, alice, bob, eve} {
		call(t, 200, u, "POST", "/v1/collections/users/auth-refresh", tok, nil)
	}
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "grants", "type": "base", "fields": []any{map[string]any{"name": "user", "type": "text"}},
		"listRule": nil, "viewRule": nil,
	})
	grant := `@collection.grants.user ?= @request.auth.id`
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "items", "type": "base",
		"fields": []any{
			map[string]any{"name": "title", "type": "text"},
			map[string]any{"name": "public", "type": "bool"},
			map[string]any{"name": "secret", "type": "text", "hidden": true},
			map[string]any{"name": "owner", "type": "relation", "collectionId": "users", "maxSelect": 1},
		},
		"listRule":   "public = true || owner = @request.auth.id || " + grant,
		"viewRule":   `owner = @request.auth.id || owner.name = "Bob" || ` + grant,
		"createRule": "", "updateRule": "", "deleteRule": "",
	})
	// The same collection name in another org.
	eveAdmin := srv.Token(t, "--sub", "globex/boss", "--org", "globex", "--admin")
	call(t, 200, u, "POST", "/v1/collections", eveAdmin, map[string]any{
		"name": "items", "type": "base", "fields": []any{map[string]any{"name": "title", "type": "text"}},
		"listRule": "", "viewRule": "",
	})
	create := func(tok string, body map[string]any) string {
		t.Helper()
		var rec map[string]any
		json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/items/records", tok, body), &rec)
		return rec["id"].(string)
	}
	priv := create(alice, map[string]any{"title": "private", "owner": aliceID})
	pub := create(alice, map[string]any{"title": "public", "owner": aliceID, "public": true})

	type subscriber struct {
		name, token, org string
		record           string // "" for `*`
		opts             map[string]string
		c                *collector
		want             []string
	}
	var subs []*subscriber
	for _, id := range []struct{ name, token, org string }{
		{"owner", alice, ""}, {"other user", bob, ""}, {"guest", "", "acme"}, {"another org", eve, ""}, {"superuser", admin, ""},
	} {
		subs = append(subs,
			&subscriber{name: id.name + " *", token: id.token, org: id.org},
			&subscriber{name: id.name + " * expand", token: id.token, org: id.org, opts: map[string]string{"expand": "owner"}},
			&subscriber{name: id.name + " private", token: id.token, org: id.org, record: priv, opts: map[string]string{"expand": "owner", "fields": "id,title,secret,expand.owner.name,expand.owner.email"}},
			&subscriber{name: id.name + " public", token: id.token, org: id.org, record: pub},
			&subscriber{name: id.name + " * filter", token: id.token, org: id.org, opts: map[string]string{"filter": `title ~ "x"`, "fields": "id,title,owner"}},
		)
	}
	for _, s := range subs {
		topic := "items/*"
		if s.record != "" {
			topic = "items/" + s.record
		}
		if s.opts != nil {
			o, _ := json.Marshal(map[string]any{"query": s.opts})
			topic += "?options=" + url.QueryEscape(string(o))
		}
		st := openStream(t, u, "")
		if s.token == "" {
			st.subscribeGuest(t, u, s.org, 204, topic)
		} else {
			st.subscribe(t, u, s.token, 204, topic)
		}
		s.c = collect(st)
	}

	// expect records, for every subscriber, what a GET by its identity
	// returns for record id now: the event it must receive, or none.
	expect := func(id, action string) {
		t.Helper()
		for _, s := range subs {
			q := url.Values{}
			for _, k := range []string{"expand", "fields"} {
				if v := s.opts[k]; v != "" {
					q.Set(k, v)
				}
			}
			var rec any
			switch {
			case s.record == "":
				f := `id = "` + id + `"`
				if s.opts["filter"] != "" {
					f = "(" + f + ") && (" + s.opts["filter"] + ")"
				}
				q.Set("filter", f)
				code, v := getJSON(t, u, "/v1/collections/items/records?"+q.Encode(), s.token, s.org)
				if code == 200 {
					if items, _ := v.(map[string]any)["items"].([]any); len(items) == 1 {
						rec = items[0]
					}
				}
			case s.record == id:
				if code, v := getJSON(t, u, "/v1/collections/items/records/"+id+"?"+q.Encode(), s.token, s.org); code == 200 {
					rec = v
				}
			}
			if rec != nil {
				s.want = append(s.want, canon(map[string]any{"action": action, "record": rec}))
			}
		}
	}
	// settle waits until the superuser's `*` stream (which receives every
	// event) has the events so far: the hub decides an event for every
	// subscriber before the next, so the next write cannot overtake it.
	// (Without this, a store-checked rule is decided against a later state
	// of the row: see TestRealtimeBugStoreCheckReadsLiveRow.)
	var all *subscriber
	for _, s := range subs {
		if s.name == "superuser *" {
			all = s
		}
	}
	settle := func() {
		t.Helper()
		all.c.waitFor(t, 10*time.Second, "the superuser's events", func(evs []sseEvent) bool { return len(evs) >= len(all.want) })
	}
	patch := func(tok, id string, body map[string]any) {
		t.Helper()
		call(t, 200, u, "PATCH", "/v1/collections/items/records/"+id, tok, body)
		expect(id, "update")
		settle()
	}

	patch(alice, priv, map[string]any{"title": "private x"})
	patch(admin, pub, map[string]any{"secret": "s1", "title": "public x"})
	patch(alice, priv, map[string]any{"owner": bobID}) // now bob owns it: the view rule's relation
	patch(alice, priv, map[string]any{"owner": aliceID, "title": "private again"})
	// A grant in the @collection the rules consult: bob sees the next event.
	call(t, 200, u, "POST", "/v1/collections/grants/records", admin, map[string]any{"user": bobID})
	patch(alice, priv, map[string]any{"title": "private granted x"})
	// A rule change is honoured by the next event.
	call(t, 200, u, "PATCH", "/v1/collections/items", admin, map[string]any{"listRule": `owner = @request.auth.id || owner.name = "Bob"`})
	patch(alice, pub, map[string]any{"title": "public after rule change x"})
	n := create(alice, map[string]any{"title": "new x", "public": true, "owner": bobID})
	expect(n, "create")
	settle()
	// Deletes are gated before the deletion.
	expect(priv, "delete")
	call(t, 204, u, "DELETE", "/v1/collections/items/records/"+priv, alice, nil)
	settle()
	expect(n, "delete")
	call(t, 204, u, "DELETE", "/v1/collections/items/records/"+n, admin, nil)
	settle()
	// Sentinel: a public record topic's last event, seen by everyone who
	// may view it, arrives after every earlier event.
	patch(admin, pub, map[string]any{"title": "sentinel", "public": true})
	call(t, 200, u, "PATCH", "/v1/collections/items", admin, map[string]any{"listRule": ""})

	deadline := time.Now().Add(10 * time.Second)
	for _, s := range subs {
		for len(s.c.events()) < len(s.want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	for _, s := range subs {
		evs := s.c.events()
		got := make([]string, len(evs))
		for i, ev := range evs {
			var v any
			json.Unmarshal([]byte(ev.data), &v)
			got[i] = canon(v)
		}
		t.Logf("%-28s %d events", s.name, len(got))
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: got %d events, want %d (what a GET by the same identity returns)\n got: %s\nwant: %s",
				s.name, len(got), len(s.want), short(got), short(s.want))
		}
	}
	// The test must have exercised both outcomes for most identities.
	for _, s := range subs[:2] {
		if len(s.want) < 5 {
			t.Errorf("%s expected only %d events: the scenario lost its teeth", s.name, len(s.want))
		}
	}
}

// TestRealtimeReplayWindow: a client that drops and reconnects with
// Last-Event-ID within BASE_REALTIME_REPLAY keeps its client id and
// subscriptions and first receives the events it missed that its identity
// may see (not the others). Beyond the window the session is gone: the
// hub answers with a new client id, and once the client re-subscribes (as
// the SDK does after every reconnect) it receives the missed events still
// in the replay log — those older than the window are lost, without any
// signal to the client.
func TestRealtimeReplayWindow(t *testing.T) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin, "BASE_REALTIME_REPLAY=2s")
	u := srv.URL
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	alice := srv.Token(t, "--sub", "acme/alice", "--org", "acme")
	bob := srv.Token(t, "--sub", "acme/bob", "--org", "acme")
	aliceID := base.UserRecordID("acme/alice")
	call(t, 200, u, "POST", "/v1/collections/users/auth-refresh", alice, nil)
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "notes", "type": "base",
		"fields":   []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "public", "type": "bool"}, map[string]any{"name": "owner", "type": "text"}},
		"listRule": "public = true || owner = @request.auth.id", "createRule": "",
	})
	write := func(title string, public bool) {
		t.Helper()
		call(t, 200, u, "POST", "/v1/collections/notes/records", alice, map[string]any{"title": title, "public": public, "owner": aliceID})
	}
	a := openStream(t, u, "")
	a.subscribe(t, u, alice, 204, "notes/*")
	b := openStream(t, u, "")
	b.subscribe(t, u, bob, 204, "notes/*")
	write("seen", true)
	a.expect(t, "seen")
	b.expect(t, "seen")
	a.close()
	b.close()
	time.Sleep(200 * time.Millisecond)
	write("missed private", false)
	write("missed public", true)

	// Within the window: same client, no new POST, only what it may see.
	a2 := openStream(t, u, a.lastID)
	if a2.id != a.id {
		t.Fatalf("resumed client id %q, want %q", a2.id, a.id)
	}
	b2 := openStream(t, u, b.lastID)
	if got := a2.drain(time.Second); !slices.Equal(got, []string{"missed private", "missed public"}) {
		t.Fatalf("owner replay %q, want both missed events", got)
	}
	if got := b2.drain(500 * time.Millisecond); !slices.Equal(got, []string{"missed public"}) {
		t.Fatalf("other user replay %q, want only the public one", got)
	}

	// Beyond the window.
	last := a2.lastID
	a2.close()
	time.Sleep(200 * time.Millisecond)
	write("too old", true)
	time.Sleep(3 * time.Second)
	write("recent", true)
	a3 := openStream(t, u, last)
	if a3.id == a.id {
		t.Fatalf("a session older than the replay window was resumed")
	}
	if got := a3.drain(500 * time.Millisecond); len(got) != 0 {
		t.Fatalf("events %q before any subscription", got)
	}
	a3.subscribe(t, u, alice, 204, "notes/*")
	if got := a3.drain(time.Second); !slices.Equal(got, []string{"recent"}) {
		t.Fatalf("replay beyond the window: %q, want only the event still in the window", got)
	}
	write("live", true)
	a3.expect(t, "live")
}

// slowClient is a raw SSE client with a tiny receive buffer that stops
// reading after PB_CONNECT.
type slowClient struct {
	conn net.Conn
	rd   *bufio.Reader
	id   string
}

func openSlow(t *testing.T, base string) *slowClient {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	host := strings.TrimPrefix(base, "http://")
	conn, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /api/realtime HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", host)
	s := &slowClient{conn: conn, rd: bufio.NewReaderSize(conn, 1<<20)}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("slow client: %v", err)
		}
		if id, ok := strings.CutPrefix(line, "id:"); ok {
			s.id = strings.TrimSpace(id)
		}
		if strings.HasPrefix(line, "data:") {
			break
		}
	}
	return s
}

// readAll reads the events still buffered for the client until the server
// closes the connection (or d passes: then closed is false).
func (s *slowClient) readAll(d time.Duration) (evs []sseEvent, closed bool) {
	s.conn.SetReadDeadline(time.Now().Add(d))
	var ev sseEvent
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			var ne net.Error
			timeout := errors.As(err, &ne) && ne.Timeout()
			return evs, !timeout
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" && ev.name != "PB_CONNECT" {
				evs = append(evs, ev)
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
}

// TestRealtimeSlowClient: a subscriber that stops reading is disconnected
// once its bounded queue (1024 messages by default) overflows, while a
// subscriber reading normally receives every event in order and the
// writer's requests stay fast; the slow client then resumes with
// Last-Event-ID (more than once if what it missed overflows its queue
// again) and across its connections receives every event exactly once, in
// order.
func TestRealtimeSlowClient(t *testing.T) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin)
	u := srv.URL
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "blobs", "type": "base",
		"fields":   []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "blob", "type": "json"}},
		"listRule": "", "createRule": "",
	})
	slow := openSlow(t, u)
	call(t, 204, u, "POST", "/api/realtime", admin, map[string]any{"clientId": slow.id, "subscriptions": []string{"blobs/*"}})
	fast := collect(openStream(t, u, ""))
	fast.subscribe(t, u, admin, 204, "blobs/*")

	// Large records fill the socket buffers, then many small ones (in
	// batches) overflow the slow client's queue.
	const big, batches, per = 100, 30, 50
	const n = big + batches*per
	blob := strings.Repeat("x", 64<<10)
	var slowest time.Duration
	timed := func(path string, body any) {
		t.Helper()
		start := time.Now()
		call(t, 200, u, "POST", path, admin, body)
		slowest = max(slowest, time.Since(start))
	}
	for i := range big {
		timed("/v1/collections/blobs/records", map[string]any{"title": fmt.Sprint(i), "blob": blob})
	}
	for b := range batches {
		reqs := make([]any, per)
		for i := range reqs {
			reqs[i] = map[string]any{"method": "POST", "url": "/api/collections/blobs/records", "body": map[string]any{"title": fmt.Sprint(big + b*per + i)}}
		}
		timed("/v1/batch", map[string]any{"requests": reqs})
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest write took %v while a subscriber stalled", slowest)
	}
	evs := fast.waitFor(t, 60*time.Second, "every event on the fast client", func(evs []sseEvent) bool { return len(evs) >= n })
	for i, ev := range evs {
		if titleOf(ev) != fmt.Sprint(i) {
			t.Fatalf("fast client event %d is %q: out of order or lost", i, titleOf(ev))
		}
	}

	got, closed := slow.readAll(20 * time.Second)
	if !closed {
		t.Fatalf("the slow client was not disconnected (read %d of %d events, then the stream stayed open)", len(got), n)
	}
	if len(got) >= n {
		t.Fatalf("the slow client got all %d events: the test did not overflow its queue", len(got))
	}
	t.Logf("slow client received %d of %d events before being disconnected", len(got), n)
	all := got
	last := slow.id // no event read: resume from the session alone
	for attempt := 1; len(all) < n; attempt++ {
		if attempt > 5 {
			t.Fatalf("still %d events short after %d resumes", n-len(all), attempt-1)
		}
		if len(all) > 0 {
			last = all[len(all)-1].id
		}
		r := collect(openStream(t, u, last))
		if r.id != slow.id {
			t.Fatalf("resumed client id %q, want %q", r.id, slow.id)
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(all)+len(r.events()) < n && time.Now().Before(deadline) {
			select {
			case <-r.done:
				deadline = time.Now() // disconnected again: resume again
			case <-time.After(20 * time.Millisecond):
			}
		}
		rest := r.events()
		t.Logf("resume %d: %d events", attempt, len(rest))
		all = append(all, rest...)
		r.close()
	}
	for i, ev := range all {
		if titleOf(ev) != fmt.Sprint(i) {
			t.Fatalf("event %d across the connections is %q: want every event once, in order", i, titleOf(ev))
		}
	}
}

// proc is a restartable `base serve` on a fixed address.
type proc struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	env  []string
	cmd  *exec.Cmd
	logs *syncBuffer
}

func startProc(t *testing.T, bin, dir string, env ...string) *proc {
	p := &proc{t: t, bin: bin, dir: dir, addr: freePort(t), env: env}
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("base serve %s logs:\n%s", p.addr, tail(p.logs.String(), 100))
		}
	})
	return p
}

func (p *proc) url() string { return "http://" + p.addr }

func (p *proc) start() {
	p.t.Helper()
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(p.bin, "serve", "--http", p.addr, "--dir", p.dir)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(p.url() + "/v1/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("base serve did not become healthy: %v\n%s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// TestRealtimeHubRestart: two `base serve` share a data directory and a
// real Redis. A client's stream is on A. Routed subscription POSTs through
// B behave as local ones (a guest upgraded to a user, a closed client's id
// is a 404). A is restarted while B takes a write: the client reconnects
// to A with Last-Event-ID, subscribes again (its session died with the
// process) and receives the missed event from the Redis replay log, then
// live events.
func TestRealtimeHubRestart(t *testing.T) {
	r := testsrv.StartRedis(t)
	bin := buildBase(t, t.TempDir())
	dir := t.TempDir()
	env := []string{"BASE_REDIS_URL=" + r.URL()}
	a := startProc(t, bin, dir, env...)
	call(t, 200, a.url(), "GET", "/.well-known/openid-configuration", "", nil)
	b := startProc(t, bin, dir, env...)
	srv := &Server{URL: a.url(), Dir: dir, Bin: bin}
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	alice := srv.Token(t, "--sub", "acme/alice", "--org", "acme")
	call(t, 200, b.url(), "POST", "/v1/collections", admin, map[string]any{
		"name": "notes", "type": "base",
		"fields":   []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "public", "type": "bool"}},
		"listRule": "public = true || @request.auth.id != ''", "createRule": "",
	})
	write := func(url, title string, public bool) {
		t.Helper()
		call(t, 200, url, "POST", "/v1/collections/notes/records", alice, map[string]any{"title": title, "public": public})
	}

	s := openStream(t, a.url(), "")
	s.subscribeGuest(t, b.url(), "acme", 204, "notes/*")
	write(b.url(), "private before upgrade", false)
	write(b.url(), "public before upgrade", true)
	s.expect(t, "public before upgrade")
	s.subscribe(t, b.url(), alice, 204, "notes/*") // routed guest → user upgrade
	write(b.url(), "private after upgrade", false)
	s.expect(t, "private after upgrade")

	gone := openStream(t, a.url(), "")
	gone.subscribe(t, b.url(), alice, 204, "notes/*")
	gone.close()
	time.Sleep(200 * time.Millisecond)
	gone.subscribe(t, b.url(), alice, 404, "notes/*") // routed, its client is gone

	// Channels are per org, and only an instance with clients of an org
	// subscribes to it: A (holding acme's streams), not B, not globex.
	rc := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rc.Close()
	numsub, err := rc.PubSubNumSub(context.Background(), "base:rt:ev:acme", "base:rt:ev:globex").Result()
	if err != nil {
		t.Fatal(err)
	}
	if numsub["base:rt:ev:acme"] != 1 || numsub["base:rt:ev:globex"] != 0 {
		t.Fatalf("org channel subscribers %v: want acme 1 (instance A only), globex 0", numsub)
	}

	last := s.lastID
	a.stop()
	write(b.url(), "while A restarts", true)
	a.start()
	s2 := openStream(t, a.url(), last)
	s2.subscribe(t, a.url(), alice, 204, "notes/*")
	s2.expect(t, "while A restarts")
	write(b.url(), "after restart", true)
	s2.expect(t, "after restart")
}

// logBuffer is a slog handler's destination shared by a test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRealtimeRedisOutageCounted: events published while Redis is down wait
// in the publishing bus's outbox and reach subscribers once it is back;
// events that wait longer than the replay window are dropped, counted
// (Stats.PublishFailed) and logged, and delivery resumes afterwards.
func TestRealtimeRedisOutageCounted(t *testing.T) {
	r := testsrv.StartRedis(t)
	logs := &logBuffer{}
	newBus := func(window time.Duration, lg *slog.Logger) *redisbus.Bus {
		b, err := redisbus.New(redisbus.Config{URL: r.URL(), Window: window, Logger: lg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	// pub keeps deferred events for a minute, short for a second.
	pub := newBus(time.Minute, nil)
	short := newBus(time.Second, slog.New(slog.NewTextHandler(logs, nil)))
	recv := newBus(time.Minute, nil)
	var mu sync.Mutex
	var got []string
	cancel := recv.Subscribe("acme", func(evs []base.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			got = append(got, ev.Record["title"].(string))
		}
	})
	defer cancel()
	ev := func(title string) []base.Event {
		return []base.Event{{Org: "acme", CollectionName: "notes", Action: base.ActionCreate, Record: map[string]any{"id": title, "title": title}}}
	}
	waitGot := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			mu.Lock()
			ok := slices.Contains(got, want)
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%q not delivered; got %q", want, got)
			}
			pub.Publish(context.Background(), ev("ping"))
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // the subscription reaches Redis
	pub.Publish(context.Background(), ev("before"))
	waitGot("before")

	// A short outage: deferred, then delivered.
	r.Stop()
	start := time.Now()
	pub.Publish(context.Background(), ev("short outage"))
	// The first publish of an outage waits for the failed dial (go-redis
	// DialTimeout 2 s, publish timeout 3 s); later ones go to the outbox.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Publish blocked %v while Redis was down", d)
	}
	r.Start()
	waitGot("short outage")
	if st := pub.Stats(); st.Deferred == 0 || st.PublishFailed != 0 {
		t.Fatalf("after a short outage: %+v, want deferred > 0 and nothing lost", st)
	}

	// An outage longer than the window: dropped, counted and logged.
	r.Stop()
	short.Publish(context.Background(), append(ev("lost 1"), ev("lost 2")...))
	time.Sleep(2 * time.Second)
	r.Start()
	waitGot("ping")
	short.Publish(context.Background(), ev("after"))
	waitGot("after")
	mu.Lock()
	lost := slices.Contains(got, "lost 1") || slices.Contains(got, "lost 2")
	mu.Unlock()
	if lost {
		t.Fatalf("an event older than the window was delivered late")
	}
	if st := short.Stats(); st.PublishFailed != 2 {
		t.Fatalf("stats %+v: want the 2 expired events counted as PublishFailed", st)
	}
	if !strings.Contains(logs.String(), "lost for live delivery") {
		t.Fatalf("no log of the lost events; logs:\n%s", logs.String())
	}
}

// TestRealtimeKeepAlive: an idle SSE stream receives a comment line within
// the hub's keepalive interval (25 s in base serve), so proxies that close
// silent connections keep it open; the stream still delivers afterwards.
func TestRealtimeKeepAlive(t *testing.T) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin)
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	call(t, 200, srv.URL, "POST", "/v1/collections", admin, map[string]any{
		"name": "notes", "type": "base", "fields": []any{map[string]any{"name": "title", "type": "text"}}, "listRule": "",
	})
	c := openSlow(t, srv.URL)
	call(t, 204, srv.URL, "POST", "/api/realtime", admin, map[string]any{"clientId": c.id, "subscriptions": []string{"notes/*"}})
	c.conn.SetReadDeadline(time.Now().Add(40 * time.Second)) // 25 s idle + the 5 s check tick
	start := time.Now()
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("no keepalive comment on an idle stream within %v: %v", time.Since(start), err)
		}
		if strings.HasPrefix(line, ":") {
			t.Logf("keepalive %q after %v", strings.TrimSpace(line), time.Since(start).Round(time.Second))
			break
		}
		if strings.TrimSpace(line) != "" {
			t.Fatalf("unexpected line %q on an idle stream", line)
		}
	}
	call(t, 200, srv.URL, "POST", "/v1/collections/notes/records", admin, map[string]any{"title": "after ping"})
	evs, _ := c.readAll(2 * time.Second)
	if len(evs) != 1 || titleOf(evs[0]) != "after ping" {
		t.Fatalf("after the keepalive: %v", evs)
	}
}

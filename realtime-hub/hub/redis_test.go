package hub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/realtime-hub/bus/redisbus"
)

func newRedisBus(t *testing.T, url string) *redisbus.Bus {
	t.Helper()
	b, err := redisbus.New(redisbus.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestRedisTwoInstances: two instances share a data dir and a real Redis;
// the stream is held by B, the subscription POST and the writes go to A.
// Then Redis is killed and restarted: writes keep succeeding and the hubs
// resubscribe and deliver again.
func TestRedisTwoInstances(t *testing.T) {
	r := testsrv.StartRedis(t)
	d := newDeployment(t)
	a := newInstance(t, d, newRedisBus(t, r.URL()))
	b := newInstance(t, d, newRedisBus(t, r.URL()))
	tok := seed(t, d, a.srv.URL)

	s := openSSE(t, b.srv.URL, "")
	s.subscribe(t, a.srv.URL, tok.alice, 204, "posts/*") // routed A → B
	s.subscribe(t, a.srv.URL, tok.bob, 403, "posts/*")   // routed, and refused as if local
	mustCall(t, 200, a.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "over redis", "published": true})
	if d := decodeData(t, s.next(t, 5*time.Second)); d["record"].(map[string]any)["title"] != "over redis" {
		t.Fatalf("got %v", d)
	}

	r.Stop()
	// Writes succeed while Redis is down; their events wait in the
	// publishing bus's outbox.
	mustCall(t, 200, a.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "during outage", "published": true})
	r.Start()
	// Once Redis is back the deferred event is published and delivered
	// first, then new writes.
	var titles []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		mustCall(t, 200, a.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "after restart", "published": true})
		select {
		case ev := <-s.events:
			titles = append(titles, decodeData(t, ev)["record"].(map[string]any)["title"].(string))
		case <-time.After(500 * time.Millisecond):
		}
		if len(titles) > 0 && titles[len(titles)-1] == "after restart" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery after the Redis restart; got %q", titles)
		}
	}
	if titles[0] != "during outage" {
		t.Fatalf("events after the restart: %q, want the one written during the outage first", titles)
	}
}

func TestWebSocketProtocol(t *testing.T) {
	d := newDeployment(t)
	mb := bus.NewMemory(bus.MemoryConfig{})
	t.Cleanup(func() { mb.Close() })
	in := newInstance(t, d, mb)
	tok := seed(t, d, in.srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dial := func() (*websocket.Conn, string) {
		c, _, err := websocket.Dial(ctx, "ws"+in.srv.URL[4:]+"/v1/realtime/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		f := readFrame(t, ctx, c)
		if f["type"] != "connect" || len(f["clientId"].(string)) != 40 {
			t.Fatalf("first frame %v", f)
		}
		return c, f["clientId"].(string)
	}
	send := func(c *websocket.Conn, v any) {
		b, _ := json.Marshal(v)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := dial()
	send(c, map[string]any{"type": "auth", "token": tok.alice})
	send(c, map[string]any{"type": "subscribe", "topics": []string{"posts/*"}})
	time.Sleep(100 * time.Millisecond)
	mustCall(t, 200, in.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "ws", "published": true})
	f := readFrame(t, ctx, c)
	if f["type"] != "event" || f["topic"] != "posts/*" || f["action"] != "create" || f["id"] == "" || f["record"].(map[string]any)["title"] != "ws" {
		t.Fatalf("event frame %v", f)
	}
	lastID := f["id"].(string)
	send(c, map[string]any{"type": "auth", "token": tok.bob})
	if f := readFrame(t, ctx, c); f["type"] != "error" {
		t.Fatalf("auth change: %v, want an error frame", f)
	}
	send(c, map[string]any{"type": "nope"})
	if f := readFrame(t, ctx, c); f["type"] != "error" {
		t.Fatalf("unknown frame: %v", f)
	}
	c.CloseNow()

	// Missed while disconnected; resumed on a new connection.
	mustCall(t, 200, in.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "missed", "published": true})
	c2, _ := dial()
	send(c2, map[string]any{"type": "auth", "token": tok.alice})
	send(c2, map[string]any{"type": "resume", "lastEventId": lastID})
	send(c2, map[string]any{"type": "subscribe", "topics": []string{"posts/*"}})
	if f := readFrame(t, ctx, c2); f["type"] != "event" || f["record"].(map[string]any)["title"] != "missed" {
		t.Fatalf("resume: %v", f)
	}
	send(c2, map[string]any{"type": "unsubscribe", "topics": []string{"posts/*"}})
	time.Sleep(100 * time.Millisecond)
	mustCall(t, 200, in.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "after unsubscribe", "published": true})
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer rcancel()
	if _, data, err := c2.Read(rctx); err == nil {
		t.Fatalf("after unsubscribe got %s", data)
	}
}

func readFrame(t *testing.T, ctx context.Context, c *websocket.Conn) map[string]any {
	t.Helper()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

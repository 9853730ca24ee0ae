package hub

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/realtime-hub/bus"
)

// Limits of the wire protocol (pocketbase-wire.md §7.2).
const (
	maxSubscriptions = 1000
	maxTopicLength   = 2500
)

// message is one event for one subscription, shared by every client of the
// subscription's class (same identity, same topic): it is rendered once
// and queued by pointer.
type message struct {
	topic  string
	id     string // event id
	action base.Action
	record []byte // the record JSON as the subscriber may see it
	// sse is the SSE frame after the id line:
	// "\nevent:<topic>\ndata:{...}\n\n".
	sse []byte

	wsOnce sync.Once
	ws     []byte // the WebSocket event frame, rendered on first use
}

// wsFrame returns the WebSocket event frame (base-v1.md §5), rendered once.
func (m *message) wsFrame() []byte {
	m.wsOnce.Do(func() {
		topic, _ := json.Marshal(m.topic)
		id, _ := json.Marshal(m.id)
		b := make([]byte, 0, len(topic)+len(m.record)+len(id)+64)
		b = append(b, `{"type":"event","topic":`...)
		b = append(b, topic...)
		b = append(b, `,"action":"`...)
		b = append(b, m.action...)
		b = append(b, `","record":`...)
		b = append(b, m.record...)
		b = append(b, `,"id":`...)
		b = append(b, id...)
		b = append(b, '}')
		m.ws = b
	})
	return m.ws
}

// newMessage renders the parts of a message every client shares.
func newMessage(topic, id string, action base.Action, record []byte) *message {
	m := &message{topic: topic, id: id, action: action, record: record}
	b := make([]byte, 0, len(topic)+len(record)+48)
	b = append(b, "\nevent:"...)
	b = append(b, topic...)
	b = append(b, "\ndata:{\"action\":\""...)
	b = append(b, action...)
	b = append(b, "\",\"record\":"...)
	b = append(b, record...)
	b = append(b, "}\n\n"...)
	m.sse = b
	return m
}

// subscription is one topic a client submitted.
type subscription struct {
	topic   string // exactly as submitted, options included
	coll    string // collection name (lower-cased) or id
	record  string // record id, or "*" for the whole collection
	query   map[string]string
	headers map[string]string
	filter  filter.Expr // nil when absent
	rawFilt string
	expand  string
	fields  string
	bad     bool // options that can never match (bad filter)
}

// parseTopic parses "<coll>/<id|*>[?options=<json>]" (or the deprecated
// "<coll>"). Unknown shapes are kept and never match.
func parseTopic(topic string) *subscription {
	s := &subscription{topic: topic}
	baseTopic, rawQuery, _ := strings.Cut(topic, "?")
	coll, rec, ok := strings.Cut(baseTopic, "/")
	if !ok {
		rec = "*"
	}
	s.coll, s.record = strings.ToLower(coll), rec
	if rawQuery == "" {
		return s
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		s.bad = true
		return s
	}
	var opts struct {
		Query   map[string]any `json:"query"`
		Headers map[string]any `json:"headers"`
	}
	if raw := q.Get("options"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &opts); err != nil {
			s.bad = true
			return s
		}
	}
	s.query = stringMap(opts.Query, false)
	s.headers = stringMap(opts.Headers, true)
	s.rawFilt = s.query["filter"]
	s.expand = s.query["expand"]
	s.fields = s.query["fields"]
	if strings.TrimSpace(s.rawFilt) != "" {
		e, err := filter.Parse(s.rawFilt)
		if err != nil {
			s.bad = true
		}
		s.filter = e
	}
	return s
}

// stringMap stringifies option values as the SDK's server does; header keys
// are snake_cased lower-case.
func stringMap(m map[string]any, header bool) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if header {
			k = strings.ToLower(strings.ReplaceAll(k, "-", "_"))
		}
		switch x := v.(type) {
		case string:
			out[k] = x
		case nil:
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// client is one SSE stream or WebSocket connection.
type client struct {
	id     string
	ws     bool
	ip     string
	max    int           // queue bound
	notify chan struct{} // signalled when the queue becomes non-empty
	dead   chan struct{}
	once   sync.Once
	imu    sync.Mutex // serializes reindex
	closer atomic.Pointer[func()]

	// Set once by attach (under mu) when a writer shard writes the client;
	// nil: the client's own goroutine does, woken through notify.
	shard     *shard
	out       *outConn
	wsc       *websocket.Conn // the WebSocket of a pooled WS client
	lastWrite time.Time       // owned by the shard's goroutine

	mu        sync.Mutex
	queue     []*message     // grows on demand up to max
	ident     *base.Identity // nil until bound
	org       string
	subs      map[string]*subscription
	classes   []*class // the delivery classes c is a member of; guarded by the org's mu
	lastQueue string   // id of the newest queued event
	lastID    bus.ID   // lastQueue parsed
	replaying bool
	pending   []pendingEvent
	resume    string // event id to replay after, at the next subscription change
}

type pendingEvent struct {
	id   string
	msgs []*message
}

func newClient(id string, ws bool, ip string, size int) *client {
	return &client{id: id, ws: ws, ip: ip, max: size, notify: make(chan struct{}, 1), dead: make(chan struct{}), subs: map[string]*subscription{}}
}

// take moves the queued messages into buf (reused between calls) and
// returns them.
func (c *client) take(buf []*message) []*message {
	c.mu.Lock()
	buf = append(buf[:0], c.queue...)
	clear(c.queue)
	c.queue = c.queue[:0]
	c.mu.Unlock()
	return buf
}

// kill disconnects the client (idempotent), closing its connection
// through the closer when one is set.
func (c *client) kill() {
	c.once.Do(func() {
		close(c.dead)
		if f := c.closer.Load(); f != nil {
			(*f)()
		}
	})
}

// setCloser sets what kill runs to close the client's connection (run now
// when the client is already dead); f must be idempotent.
func (c *client) setCloser(f func()) {
	c.closer.Store(&f)
	select {
	case <-c.dead:
		f()
	default:
	}
}

// wake tells c's writer that its queue is no longer empty; c.mu is held.
func (c *client) wake() {
	if c.shard != nil {
		c.shard.add(c)
		return
	}
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// push queues msgs of event id unless an event at or after id was already
// queued; it reports false when the queue overflowed (the client is then
// killed).
// pid is id parsed (ok false when unparsable).
func (c *client) push(id string, pid bus.ID, ok bool, msgs []*message, replay bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaying && !replay {
		c.pending = append(c.pending, pendingEvent{id: id, msgs: append([]*message(nil), msgs...)})
		return true
	}
	return c.enqueueParsedLocked(id, pid, ok, msgs)
}

func (c *client) enqueueLocked(id string, msgs []*message) bool {
	pid, err := bus.ParseID(id)
	return c.enqueueParsedLocked(id, pid, err == nil, msgs)
}

func (c *client) enqueueParsedLocked(id string, pid bus.ID, ok bool, msgs []*message) bool {
	if c.lastQueue != "" && (!ok || !c.lastID.Less(pid)) {
		return true
	}
	c.lastQueue, c.lastID = id, pid
	if len(msgs) == 0 {
		return true
	}
	if len(c.queue)+len(msgs) > c.max {
		c.kill()
		return false
	}
	wasEmpty := len(c.queue) == 0
	c.queue = append(c.queue, msgs...)
	if wasEmpty {
		c.wake()
	}
	return true
}

// waitRoom waits until n more messages fit in c's queue: a replay is paced
// by the client's writer instead of overflowing the queue. It reports
// false when c dies or ctx ends first.
func (c *client) waitRoom(ctx context.Context, n int) bool {
	for {
		c.mu.Lock()
		room := len(c.queue)+n <= c.max || len(c.queue) == 0
		c.mu.Unlock()
		if room {
			return true
		}
		select {
		case <-c.dead:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// snapshot returns the client's identity and subscriptions.
func (c *client) snapshot() (*base.Identity, []*subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	return c.ident, subs
}

// detached is a dropped SSE client kept for a Last-Event-ID resume.
type detached struct {
	ident   *base.Identity
	org     string
	subs    map[string]*subscription
	last    string
	ip      string
	expires time.Time
}

package hub

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/realtime-hub/bus"
)

// Limits of the wire protocol (pocketbase-wire.md §7.2).
const (
	maxSubscriptions = 1000
	maxTopicLength   = 2500
)

// message is one event for one subscription of one client.
type message struct {
	topic  string
	id     string // event id
	action base.Action
	record []byte // the record JSON as the subscriber may see it
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
	id   string
	ws   bool
	ip   string
	q    chan message
	dead chan struct{}
	once sync.Once

	mu        sync.Mutex
	ident     *base.Identity // nil until bound
	org       string
	subs      map[string]*subscription
	lastQueue string // id of the newest queued event
	replaying bool
	pending   []pendingEvent
	resume    string // event id to replay after, at the next subscription change
}

type pendingEvent struct {
	id   string
	msgs []message
}

func newClient(id string, ws bool, ip string, size int) *client {
	return &client{id: id, ws: ws, ip: ip, q: make(chan message, size), dead: make(chan struct{}), subs: map[string]*subscription{}}
}

// kill disconnects the client (idempotent).
func (c *client) kill() { c.once.Do(func() { close(c.dead) }) }

// push queues msgs of event id unless an event at or after id was already
// queued; it reports false when the queue overflowed (the client is then
// killed).
func (c *client) push(id string, msgs []message, replay bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaying && !replay {
		c.pending = append(c.pending, pendingEvent{id: id, msgs: msgs})
		return true
	}
	return c.enqueueLocked(id, msgs)
}

func (c *client) enqueueLocked(id string, msgs []message) bool {
	if c.lastQueue != "" && !bus.After(id, c.lastQueue) {
		return true
	}
	c.lastQueue = id
	for _, m := range msgs {
		select {
		case c.q <- m:
		default:
			c.kill()
			return false
		}
	}
	return true
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

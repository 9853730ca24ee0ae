// Package hub is the realtime hub: it holds SSE (PocketBase protocol) and
// WebSocket client connections, binds each client's identity and org at its
// first subscription request, receives committed events from a bus.Bus for
// the orgs it has clients in, and delivers each event to every subscription
// whose identity may see it — the collection's list or view rule and the
// subscription's filter, hidden fields stripped, expand and fields applied —
// exactly as a GET by that identity would return the record.
//
// Rules that need only the record and the identity are evaluated in memory
// (rules.Evaluator); the others run in SQL against the org's database over
// the event's record. Each client has a bounded queue: a client that falls
// behind is disconnected rather than slowing anyone else, and can resume
// from its last event id within the bus's replay window.
package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/store"
)

// Verifier checks a bearer token and returns its claims; any error makes
// the caller a guest. auth's verifier satisfies it.
type Verifier interface {
	Verify(ctx context.Context, token string) (map[string]any, error)
}

// Config configures New. Store and Bus are required.
type Config struct {
	Store    store.Store
	Bus      bus.Bus
	Verifier Verifier // nil: every client is a guest
	Logger   *slog.Logger
	Now      func() time.Time

	// Prefix is the API prefix (default "/v1"); "/api" always answers too.
	Prefix string
	// DefaultOrg and OrgDomains resolve a guest's org as the handler does.
	DefaultOrg string
	OrgDomains map[string]string

	// QueueSize bounds each client's outgoing queue (default 1024
	// messages); a client whose queue is full is disconnected.
	QueueSize int
	// KeepAlive is the interval of SSE comment pings and WebSocket pings on
	// idle connections (default 25 s).
	KeepAlive time.Duration
	// ResumeWindow is how long a dropped SSE client's subscriptions are
	// kept for a Last-Event-ID resume (default 60 s, BASE_REALTIME_REPLAY).
	ResumeWindow time.Duration
	// SkipIPCheck disables PocketBase's "subscription POST comes from the
	// stream's IP" check (for deployments behind changing proxies).
	SkipIPCheck bool
	// Node names this instance in client ids (default random, 8 chars).
	Node string
	// Writers is the number of writer goroutines that write events to the
	// clients' sockets (default GOMAXPROCS-1, at least 1). It bounds the
	// CPU the fan-out takes, leaving the rest to the API's requests.
	Writers int
}

// Hub serves /v1/realtime and /v1/realtime/ws. Create it with New.
type Hub struct {
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	node string

	mu       sync.Mutex
	clients  map[string]*client // every connected client by id
	orgs     map[string]*orgState
	detached map[string]*detached // dropped SSE clients kept for resume
	closed   bool

	stopServe func()
	exprs     sync.Map // rule text → filter.Expr
	stats     Stats

	shards    []*shard
	nextShard atomic.Uint32
	done      chan struct{} // closed by Close
}

// Stats are the hub's counters.
type Stats struct {
	Clients, Delivered, Dropped, Overflows, StoreChecks, MemoryChecks atomic.Int64
}

// New validates cfg and returns a hub serving through the bus.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("hub: Config.Store is required")
	}
	if cfg.Bus == nil {
		return nil, errors.New("hub: Config.Bus is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/v1"
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.DefaultOrg == "" {
		cfg.DefaultOrg = "default"
	}
	if !base.ValidOrg(cfg.DefaultOrg) {
		return nil, fmt.Errorf("hub: invalid default org %q", cfg.DefaultOrg)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 25 * time.Second
	}
	if cfg.ResumeWindow <= 0 {
		cfg.ResumeWindow = 60 * time.Second
	}
	if cfg.Node == "" {
		cfg.Node = strings.ToLower(rand.Text()[:nodeLen])
	}
	if cfg.Writers <= 0 {
		cfg.Writers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if len(cfg.Node) != nodeLen {
		return nil, fmt.Errorf("hub: node name must be %d characters", nodeLen)
	}
	h := &Hub{
		cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), node: cfg.Node,
		clients: map[string]*client{}, orgs: map[string]*orgState{}, detached: map[string]*detached{},
		done: make(chan struct{}),
	}
	for range cfg.Writers {
		s := newShard(h)
		h.shards = append(h.shards, s)
		go s.run(h.done)
	}
	prefixes := []string{cfg.Prefix}
	if cfg.Prefix != "/api" {
		prefixes = append(prefixes, "/api")
	}
	for _, p := range prefixes {
		h.mux.HandleFunc("GET "+p+"/realtime", h.serveSSE)
		h.mux.HandleFunc("POST "+p+"/realtime", h.serveSubscribe)
		h.mux.HandleFunc("GET "+p+"/realtime/ws", h.serveWS)
	}
	h.stopServe = cfg.Bus.Serve(h.node, h.handleCall)
	go h.sweep()
	return h, nil
}

// nodeLen is the length of the node prefix of client ids.
const nodeLen = 8

// Handler returns the hub's HTTP handler: GET and POST {prefix}/realtime,
// GET {prefix}/realtime/ws, and the same under /api.
func (h *Hub) Handler() http.Handler { return h.mux }

// Node returns this instance's node name (the prefix of its client ids).
func (h *Hub) Node() string { return h.node }

// Stats returns the hub's live counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// Close disconnects every client and stops serving calls.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.done)
	cs := make([]*client, 0, len(h.clients))
	for _, c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	h.stopServe()
	for _, c := range cs {
		c.kill()
	}
	return nil
}

// newClientID returns a 40-character id: the node name and 32 random
// characters.
func (h *Hub) newClientID() string {
	return h.node + strings.ToLower(rand.Text()[:26]) + strings.ToLower(rand.Text()[:6])
}

// sweep drops expired detached sessions.
func (h *Hub) sweep() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for range t.C {
		now := h.cfg.Now()
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		for id, d := range h.detached {
			if now.After(d.expires) {
				delete(h.detached, id)
			}
		}
		h.mu.Unlock()
	}
}

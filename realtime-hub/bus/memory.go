package bus

import (
	"context"
	"sync"
	"time"

	"github.com/hanzoai/base"
)

// Memory is the in-process Bus: publishing hands events to subscribers in
// the same process (through one delivery goroutine, so Publish never waits
// for them) and keeps each org's events for the replay window.
type Memory struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu     sync.Mutex
	subs   map[string]map[*memSub]struct{}
	logs   map[string]*memLog
	nodes  map[string]func(context.Context, []byte) []byte
	lastID ID
	// swept is the newest event ID dropped with a whole org log by sweep
	// (zero when none): a replay from before it, for an org that has no
	// log now, cannot be known complete.
	swept     ID
	lastSweep time.Time
	queue     []memBatch
	wake      chan struct{}
	closed    bool
	done      chan struct{}
}

type memSub struct{ fn func([]base.Event) }

type memBatch struct {
	org    string
	events []base.Event
}

type memLog struct {
	events []base.Event // oldest first
	times  []time.Time
	// trimmed is the ID of the newest event dropped from the log ("" when
	// none was), so Replay can tell whether it reaches back far enough.
	trimmed string
}

// MemoryConfig configures NewMemory.
type MemoryConfig struct {
	// Window is how long events stay replayable (default 60 s).
	Window time.Duration
	// MaxPerOrg bounds each org's replay log (default 10,000 events).
	MaxPerOrg int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewMemory returns a running in-process bus. Close stops it.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.Window <= 0 {
		cfg.Window = 60 * time.Second
	}
	if cfg.MaxPerOrg <= 0 {
		cfg.MaxPerOrg = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Memory{
		window: cfg.Window, max: cfg.MaxPerOrg, now: cfg.Now,
		subs:  map[string]map[*memSub]struct{}{},
		logs:  map[string]*memLog{},
		nodes: map[string]func(context.Context, []byte) []byte{},
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	go m.deliver()
	return m
}

var _ Bus = (*Memory)(nil)

// Publish implements Bus.
func (m *Memory) Publish(ctx context.Context, events []base.Event) {
	if len(events) == 0 {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	byOrg := map[string][]base.Event{}
	var order []string
	for _, ev := range events {
		ms := uint64(now.UnixMilli())
		if ms > m.lastID.MS {
			m.lastID = ID{MS: ms}
		} else {
			m.lastID.Seq++
		}
		ev.ID = m.lastID.String()
		lg := m.logs[ev.Org]
		if lg == nil {
			lg = &memLog{}
			m.logs[ev.Org] = lg
		}
		lg.events = append(lg.events, ev)
		lg.times = append(lg.times, now)
		m.trim(lg, now)
		if _, ok := byOrg[ev.Org]; !ok {
			order = append(order, ev.Org)
		}
		byOrg[ev.Org] = append(byOrg[ev.Org], ev)
	}
	for _, org := range order {
		m.queue = append(m.queue, memBatch{org: org, events: byOrg[org]})
	}
	if now.Sub(m.lastSweep) >= m.window {
		m.sweep(now)
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Memory) trim(lg *memLog, now time.Time) {
	cut := 0
	for cut < len(lg.events) && (len(lg.events)-cut > m.max || now.Sub(lg.times[cut]) > m.window) {
		cut++
	}
	if cut > 0 {
		lg.trimmed = lg.events[cut-1].ID
		// Reslice rather than copy: a full log trims one event per publish,
		// and copying the whole log each time made every write O(log size).
		// append reallocates (copying only live events) when capacity runs
		// out, so memory stays within twice the log.
		clear(lg.events[:cut])
		lg.events = lg.events[cut:]
		lg.times = lg.times[cut:]
	}
}

// sweep trims every org's log and forgets the emptied ones. Logs are
// otherwise trimmed only when their org publishes or replays, so an org
// that wrote once and went quiet would keep its events and its map entry
// for the life of the process: memory growing with every org ever seen.
// Orgs this process has subscribers for are kept. Called with m.mu held,
// at most once per window.
func (m *Memory) sweep(now time.Time) {
	m.lastSweep = now
	for org, lg := range m.logs {
		m.trim(lg, now)
		if len(lg.events) > 0 || len(m.subs[org]) > 0 {
			// An org with subscribers keeps even an empty log: its
			// trimmed marker lets an idle client's resume be exact.
			continue
		}
		if t, err := ParseID(lg.trimmed); err == nil && m.swept.Less(t) {
			m.swept = t
		}
		delete(m.logs, org)
	}
}

func (m *Memory) deliver() {
	defer close(m.done)
	for range m.wake {
		for {
			m.mu.Lock()
			if len(m.queue) == 0 {
				closed := m.closed
				m.mu.Unlock()
				if closed {
					return
				}
				break
			}
			b := m.queue[0]
			m.queue = m.queue[1:]
			var fns []func([]base.Event)
			for s := range m.subs[b.org] {
				fns = append(fns, s.fn)
			}
			m.mu.Unlock()
			for _, fn := range fns {
				fn(b.events)
			}
		}
	}
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(org string, fn func([]base.Event)) (cancel func()) {
	s := &memSub{fn: fn}
	m.mu.Lock()
	if m.subs[org] == nil {
		m.subs[org] = map[*memSub]struct{}{}
	}
	m.subs[org][s] = struct{}{}
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs[org], s)
			if len(m.subs[org]) == 0 {
				delete(m.subs, org)
			}
			m.mu.Unlock()
		})
	}
}

// Replay implements Bus.
func (m *Memory) Replay(ctx context.Context, org, after string) ([]base.Event, bool, error) {
	aid, err := ParseID(after)
	if err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	lg := m.logs[org]
	if lg == nil {
		return nil, !aid.Less(m.swept), nil
	}
	m.trim(lg, m.now())
	complete := true
	if lg.trimmed != "" {
		if t, _ := ParseID(lg.trimmed); aid.Less(t) {
			complete = false
		}
	}
	var out []base.Event
	for _, ev := range lg.events {
		if After(ev.ID, after) {
			out = append(out, ev)
		}
	}
	return out, complete, nil
}

// Serve implements Bus.
func (m *Memory) Serve(node string, fn func(context.Context, []byte) []byte) (cancel func()) {
	m.mu.Lock()
	m.nodes[node] = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.nodes, node)
		m.mu.Unlock()
	}
}

// Call implements Bus.
func (m *Memory) Call(ctx context.Context, node string, req []byte) ([]byte, error) {
	m.mu.Lock()
	fn := m.nodes[node]
	m.mu.Unlock()
	if fn == nil {
		return nil, ErrNoNode
	}
	return fn(ctx, req), nil
}

// Close stops delivery; Publish is a no-op afterwards.
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.wake)
	<-m.done
	return nil
}

// Package redisbus is the Redis implementation of bus.Bus (go-redis/v9):
// events go to a per-org stream (the replay log, trimmed to the replay
// window) and a per-org pub/sub channel in one server-side script, so every
// hub sees the same event IDs; a hub subscribes only to the channels of orgs
// it has clients for, and calls between hubs travel over per-node channels.
package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/realtime-hub/bus"
)

// Key prefixes.
const (
	evChannel   = "base:rt:ev:"   // + org: pub/sub of "<id> <json>"
	logKey      = "base:rt:log:"  // + org: stream of {e: json}
	nodeChannel = "base:rt:node:" // + node: calls
	replyPrefix = "base:rt:rep:"  // + bus instance: replies
)

// publishScript appends an event to its org's stream (trimming entries older
// than the window) and publishes it with the stream's ID.
var publishScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[2], '*', 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[1])
return id`)

// Config configures New.
type Config struct {
	// URL is a redis:// URL (BASE_REDIS_URL).
	URL string
	// Window is how long events stay replayable (default 60 s).
	Window time.Duration
	// Logger receives outage and failure reports (default discard).
	Logger *slog.Logger
	// CallTimeout bounds Call (default 5 s).
	CallTimeout time.Duration
}

// Bus is a bus.Bus over Redis. Create it with New; Close releases it.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	rdb    *redis.Client
	ps     *redis.PubSub
	self   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	subs     map[string]map[*sub]struct{} // org → subscribers
	lastSeen map[string]string            // org → newest delivered event ID
	nodes    map[string]func(context.Context, []byte) []byte
	calls    map[string]chan []byte
	resync   bool

	outMu     sync.Mutex
	outbox    []deferred // events whose publish failed, oldest first
	flushing  bool       // flush is publishing the outbox's head
	outWake   chan struct{}
	flushDone chan struct{}

	// Counters, readable with Stats.
	published, publishFailed, delivered, gapsFilled, deferredN atomic.Int64
	seq                                                        atomic.Uint64
}

type sub struct{ fn func([]base.Event) }

var _ bus.Bus = (*Bus)(nil)

// New connects to Redis and starts the receive loop. The connection need
// not be up: the bus keeps retrying, and Publish failures are counted.
func New(cfg Config) (*Bus, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redisbus: parse url: %w", err)
	}
	if cfg.Window <= 0 {
		cfg.Window = 60 * time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opt.MaxRetries = 1
	// One dial per attempt: go-redis's default (5 dials 100 ms apart) held
	// the first write after Redis went down for over a second; the outbox
	// and the receive loop do the retrying here.
	opt.DialerRetries = 1
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 3 * time.Second
	opt.WriteTimeout = 3 * time.Second
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{
		cfg: cfg, log: cfg.Logger, rdb: rdb, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		subs: map[string]map[*sub]struct{}{}, lastSeen: map[string]string{},
		nodes: map[string]func(context.Context, []byte) []byte{}, calls: map[string]chan []byte{},
		self:    randomID(),
		outWake: make(chan struct{}, 1), flushDone: make(chan struct{}),
	}
	b.ps = rdb.Subscribe(ctx, replyPrefix+b.self)
	go b.receive()
	go b.flush()
	return b, nil
}

// Stats are the bus's counters since New: events published, lost for live
// delivery (PublishFailed), received and handed to subscribers, recovered
// from the replay log after a pub/sub outage (GapsFilled), and deferred to
// the outbox while Redis was unreachable.
type Stats struct {
	Published, PublishFailed, Delivered, GapsFilled, Deferred int64
}

// Stats returns the counters.
func (b *Bus) Stats() Stats {
	return Stats{b.published.Load(), b.publishFailed.Load(), b.delivered.Load(), b.gapsFilled.Load(), b.deferredN.Load()}
}

// Publish implements bus.Bus: one pipelined script call per event. Events
// that cannot be published (Redis down) are kept in a bounded outbox, in
// order, and published when Redis is back, so subscribers receive them late
// rather than never; events older than the replay window, or beyond the
// outbox bound, are dropped, counted and logged. The caller's write has
// already committed and is never failed or held up by an outage: while the
// outbox is not empty, Publish only appends to it.
func (b *Bus) Publish(ctx context.Context, events []base.Event) {
	if len(events) == 0 {
		return
	}
	now := time.Now()
	b.outMu.Lock()
	if len(b.outbox) > 0 || b.flushing {
		b.deferLocked(now, events)
		b.outMu.Unlock()
		b.kick()
		return
	}
	b.outMu.Unlock()
	failedAt, err := b.publish(ctx, events)
	if len(failedAt) > 0 {
		failed := make([]base.Event, len(failedAt))
		for i, j := range failedAt {
			failed[i] = events[j]
		}
		b.log.Warn("realtime: publish failed; events deferred until redis is back", "events", len(failed), "err", err)
		b.outMu.Lock()
		b.deferLocked(now, failed)
		b.outMu.Unlock()
		b.kick()
	}
}

// publish runs the publish script for each event in one pipeline and
// returns the indexes of the events that were not published.
func (b *Bus) publish(ctx context.Context, events []base.Event) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	minID := strconv.FormatInt(time.Now().Add(-b.cfg.Window).UnixMilli(), 10)
	ttl := strconv.FormatInt((2 * b.cfg.Window).Milliseconds(), 10)
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(events))
	for i, ev := range events {
		ev.ID = ""
		data, err := json.Marshal(ev)
		if err != nil {
			b.publishFailed.Add(1)
			b.log.Error("realtime: encode event", "org", ev.Org, "err", err)
			continue
		}
		cmds[i] = publishScript.Eval(ctx, pipe, []string{logKey + ev.Org, evChannel + ev.Org}, string(data), minID, ttl)
	}
	_, err := pipe.Exec(ctx)
	if err != nil && errors.Is(err, redis.Nil) {
		err = nil
	}
	var failed []int
	ok := 0
	for i, c := range cmds {
		switch {
		case c == nil:
		case c.Err() != nil:
			failed = append(failed, i)
		default:
			ok++
		}
	}
	b.published.Add(int64(ok))
	return failed, err
}

// outboxMax bounds the events kept while Redis is unreachable.
const outboxMax = 100000

type deferred struct {
	at time.Time
	ev base.Event
}

func (b *Bus) deferLocked(now time.Time, events []base.Event) {
	for _, ev := range events {
		if len(b.outbox) >= outboxMax {
			b.publishFailed.Add(1)
			b.lostLogged()
			continue
		}
		b.outbox = append(b.outbox, deferred{at: now, ev: ev})
		b.deferredN.Add(1)
	}
}

// lostLogged counts an event lost for live delivery and logs the first of
// each outage.
func (b *Bus) lostLogged() {
	if b.publishFailed.Load()%1000 == 1 {
		b.log.Error("realtime: events lost for live delivery (redis unreachable too long)", "lost", b.publishFailed.Load())
	}
}

func (b *Bus) kick() {
	select {
	case b.outWake <- struct{}{}:
	default:
	}
}

// flush publishes the outbox, oldest first, whenever it is not empty,
// retrying every 200 ms while Redis is unreachable.
func (b *Bus) flush() {
	defer close(b.flushDone)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.outWake:
		case <-t.C:
		}
		for {
			b.outMu.Lock()
			cut := time.Now().Add(-b.cfg.Window)
			i := 0
			for i < len(b.outbox) && b.outbox[i].at.Before(cut) {
				i++
			}
			if i > 0 {
				b.publishFailed.Add(int64(i))
				b.log.Error("realtime: deferred events expired before redis came back; lost for live delivery", "events", i)
				b.outbox = b.outbox[i:]
			}
			n := min(len(b.outbox), 512)
			if n == 0 {
				b.outbox = nil
				b.outMu.Unlock()
				break
			}
			batch := make([]base.Event, n)
			for j := range batch {
				batch[j] = b.outbox[j].ev
			}
			b.flushing = true
			b.outMu.Unlock()

			failed, _ := b.publish(b.ctx, batch)

			b.outMu.Lock()
			b.flushing = false
			if len(failed) == 0 {
				b.outbox = b.outbox[n:]
				b.outMu.Unlock()
				continue
			}
			// Keep the unpublished ones, in order, ahead of the rest.
			keep := make([]deferred, 0, len(failed)+len(b.outbox)-n)
			for _, j := range failed {
				keep = append(keep, b.outbox[j])
			}
			b.outbox = append(keep, b.outbox[n:]...)
			b.outMu.Unlock()
			break
		}
	}
}

// Subscribe implements bus.Bus.
func (b *Bus) Subscribe(org string, fn func([]base.Event)) (cancel func()) {
	s := &sub{fn: fn}
	b.mu.Lock()
	first := b.subs[org] == nil
	if first {
		b.subs[org] = map[*sub]struct{}{}
	}
	b.subs[org][s] = struct{}{}
	b.mu.Unlock()
	if first {
		if err := b.ps.Subscribe(b.ctx, evChannel+org); err != nil {
			// The receive loop resubscribes every channel on reconnect.
			b.log.Warn("realtime: subscribe deferred until redis is back", "org", org, "err", err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[org], s)
			last := len(b.subs[org]) == 0
			if last {
				delete(b.subs, org)
				delete(b.lastSeen, org)
			}
			b.mu.Unlock()
			if last {
				_ = b.ps.Unsubscribe(b.ctx, evChannel+org)
			}
		})
	}
}

// Replay implements bus.Bus with XRANGE over the org's stream.
func (b *Bus) Replay(ctx context.Context, org, after string) ([]base.Event, bool, error) {
	aid, err := bus.ParseID(after)
	if err != nil {
		return nil, false, err
	}
	msgs, err := b.rdb.XRange(ctx, logKey+org, "("+aid.String(), "+").Result()
	if err != nil {
		return nil, false, fmt.Errorf("redisbus: replay %s: %w", org, err)
	}
	complete := true
	first, err := b.rdb.XRangeN(ctx, logKey+org, "-", "+", 1).Result()
	if err == nil && len(first) > 0 {
		if fid, err := bus.ParseID(first[0].ID); err == nil && aid.Less(fid) && !(len(msgs) > 0 && msgs[0].ID == first[0].ID && nextOf(aid, fid)) {
			// The oldest kept entry is newer than after: entries between
			// them may have been trimmed.
			complete = false
		}
	}
	out := make([]base.Event, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["e"].(string)
		ev, err := decode(m.ID, s)
		if err != nil {
			continue
		}
		out = append(out, ev)
	}
	return out, complete, nil
}

// nextOf reports whether b directly follows a within one millisecond.
func nextOf(a, b bus.ID) bool { return a.MS == b.MS && a.Seq+1 == b.Seq }

func decode(id, data string) (base.Event, error) {
	var ev base.Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return ev, fmt.Errorf("redisbus: decode event: %w", err)
	}
	ev.ID = id
	return ev, nil
}

// callMsg is a call on a node channel; replyMsg answers it.
type callMsg struct {
	Reply string `json:"r"`
	Corr  string `json:"c"`
	Body  []byte `json:"b"`
}

// Serve implements bus.Bus.
func (b *Bus) Serve(node string, fn func(context.Context, []byte) []byte) (cancel func()) {
	b.mu.Lock()
	b.nodes[node] = fn
	b.mu.Unlock()
	if err := b.ps.Subscribe(b.ctx, nodeChannel+node); err != nil {
		b.log.Warn("realtime: node subscribe deferred until redis is back", "node", node, "err", err)
	}
	return func() {
		b.mu.Lock()
		delete(b.nodes, node)
		b.mu.Unlock()
		_ = b.ps.Unsubscribe(b.ctx, nodeChannel+node)
	}
}

// Call implements bus.Bus: it publishes on the node's channel (ErrNoNode
// when nobody listens) and waits for the reply on this bus's own channel.
func (b *Bus) Call(ctx context.Context, node string, req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	corr := strconv.FormatUint(b.seq.Add(1), 36)
	ch := make(chan []byte, 1)
	b.mu.Lock()
	b.calls[corr] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.calls, corr)
		b.mu.Unlock()
	}()
	data, _ := json.Marshal(callMsg{Reply: replyPrefix + b.self, Corr: corr, Body: req})
	n, err := b.rdb.Publish(ctx, nodeChannel+node, data).Result()
	if err != nil {
		return nil, fmt.Errorf("redisbus: call %s: %w", node, err)
	}
	if n == 0 {
		return nil, bus.ErrNoNode
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("redisbus: call %s: %w", node, ctx.Err())
	}
}

// receive is the single loop reading the pub/sub connection. go-redis
// reconnects and resubscribes inside Receive; after an error the loop
// fills each org's gap from its stream before delivering newer events.
func (b *Bus) receive() {
	defer close(b.done)
	backoff := 50 * time.Millisecond
	for {
		msg, err := b.ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			b.mu.Lock()
			if !b.resync {
				b.log.Warn("realtime: redis pub/sub lost; reconnecting", "err", err)
			}
			b.resync = true
			b.mu.Unlock()
			select {
			case <-time.After(backoff):
			case <-b.ctx.Done():
				return
			}
			if backoff < 2*time.Second {
				backoff *= 2
			}
			continue
		}
		backoff = 50 * time.Millisecond
		b.mu.Lock()
		resync := b.resync
		b.resync = false
		b.mu.Unlock()
		if resync {
			b.log.Info("realtime: redis pub/sub back; filling gaps from the replay log")
			b.fillGaps()
		}
		switch m := msg.(type) {
		case *redis.Message:
			b.handle(m)
		}
	}
}

func (b *Bus) handle(m *redis.Message) {
	switch {
	case strings.HasPrefix(m.Channel, evChannel):
		org := m.Channel[len(evChannel):]
		id, data, ok := strings.Cut(m.Payload, " ")
		if !ok {
			return
		}
		ev, err := decode(id, data)
		if err != nil {
			b.log.Error("realtime: bad event on bus", "org", org, "err", err)
			return
		}
		b.deliver(org, []base.Event{ev})
	case strings.HasPrefix(m.Channel, nodeChannel):
		node := m.Channel[len(nodeChannel):]
		var c callMsg
		if json.Unmarshal([]byte(m.Payload), &c) != nil {
			return
		}
		b.mu.Lock()
		fn := b.nodes[node]
		b.mu.Unlock()
		if fn == nil {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.CallTimeout)
			defer cancel()
			rep := fn(ctx, c.Body)
			data, _ := json.Marshal(callMsg{Corr: c.Corr, Body: rep})
			if err := b.rdb.Publish(ctx, c.Reply, data).Err(); err != nil {
				b.log.Warn("realtime: reply lost", "node", node, "err", err)
			}
		}()
	case strings.HasPrefix(m.Channel, replyPrefix):
		var c callMsg
		if json.Unmarshal([]byte(m.Payload), &c) != nil {
			return
		}
		b.mu.Lock()
		ch := b.calls[c.Corr]
		b.mu.Unlock()
		if ch != nil {
			select {
			case ch <- c.Body:
			default:
			}
		}
	}
}

// deliver hands events newer than the org's last delivered one to its
// subscribers.
func (b *Bus) deliver(org string, events []base.Event) {
	b.mu.Lock()
	last := b.lastSeen[org]
	fresh := events[:0:0]
	for _, ev := range events {
		if last == "" || bus.After(ev.ID, last) {
			fresh = append(fresh, ev)
			last = ev.ID
		}
	}
	if _, ok := b.subs[org]; ok && len(fresh) > 0 {
		b.lastSeen[org] = last
	}
	fns := make([]func([]base.Event), 0, len(b.subs[org]))
	for s := range b.subs[org] {
		fns = append(fns, s.fn)
	}
	b.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	b.delivered.Add(int64(len(fresh)))
	for _, fn := range fns {
		fn(fresh)
	}
}

// fillGaps replays, for every subscribed org with a known position, the
// events published while the subscription was down.
func (b *Bus) fillGaps() {
	b.mu.Lock()
	pos := make(map[string]string, len(b.lastSeen))
	for org, id := range b.lastSeen {
		pos[org] = id
	}
	b.mu.Unlock()
	for org, after := range pos {
		ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
		events, _, err := b.Replay(ctx, org, after)
		cancel()
		if err != nil {
			b.log.Warn("realtime: gap fill failed", "org", org, "err", err)
			continue
		}
		b.gapsFilled.Add(int64(len(events)))
		if len(events) > 0 {
			b.deliver(org, events)
		}
	}
}

// Close stops the receive loop and closes the connections.
func (b *Bus) Close() error {
	b.cancel()
	err := b.ps.Close()
	<-b.done
	<-b.flushDone
	b.outMu.Lock()
	if n := len(b.outbox); n > 0 {
		b.publishFailed.Add(int64(n))
		b.log.Error("realtime: closing with unpublished events; lost for live delivery", "events", n)
	}
	b.outMu.Unlock()
	if e := b.rdb.Close(); err == nil {
		err = e
	}
	return err
}

func randomID() string { return rand.Text() }

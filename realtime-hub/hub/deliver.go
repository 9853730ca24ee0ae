package hub

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// orgState is an org with connected clients: its bus subscription, its
// delivery worker and its schema cache.
type orgState struct {
	org     string
	clients map[*client]struct{}
	cancel  func()
	in      chan []base.Event
	mu      sync.Mutex
	stopped bool
	schema  *records.Schema
	classes map[string]*class // by identity key and topic; guarded by mu
}

// join adds a bound client to its org, subscribing the hub to the org's
// events when it is the first.
func (h *Hub) join(org string, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.orgs[org]
	if st == nil {
		st = &orgState{org: org, clients: map[*client]struct{}{}, in: make(chan []base.Event, 4096), classes: map[string]*class{}}
		h.orgs[org] = st
		st.cancel = h.cfg.Bus.Subscribe(org, func(evs []base.Event) { h.enqueue(st, evs) })
		go h.work(st)
	}
	st.clients[c] = struct{}{}
}

// leave removes a client from its org; the last one unsubscribes the org.
func (h *Hub) leave(org string, c *client) {
	h.mu.Lock()
	st := h.orgs[org]
	if st == nil {
		h.mu.Unlock()
		return
	}
	delete(st.clients, c)
	h.unindex(st, c)
	last := len(st.clients) == 0
	if last {
		delete(h.orgs, org)
	}
	h.mu.Unlock()
	if last {
		st.cancel()
		st.mu.Lock()
		st.stopped = true
		close(st.in)
		st.mu.Unlock()
	}
}

func (h *Hub) enqueue(st *orgState, evs []base.Event) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return
	}
	select {
	case st.in <- evs:
	default:
		h.stats.Dropped.Add(int64(len(evs)))
		h.log.Error("realtime: org delivery queue full; events dropped (replayable)", "org", st.org, "events", len(evs))
	}
}

func (h *Hub) work(st *orgState) {
	var (
		classes []*class
		members []*client
		one     = make([]*message, 1)
	)
	type hit struct {
		cl *class
		m  *message
	}
	var hits []hit
	for evs := range st.in {
		classes = classes[:0]
		st.mu.Lock()
		for _, cl := range st.classes {
			classes = append(classes, cl)
		}
		st.mu.Unlock()
		if len(classes) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		env, err := h.env(ctx, st)
		if err != nil {
			cancel()
			h.log.Error("realtime: open org for delivery", "org", st.org, "err", err)
			continue
		}
		pes := make([]*preparedEvent, 0, len(evs))
		for _, ev := range evs {
			if pe := env.prepare(ev); pe != nil {
				pes = append(pes, pe)
				if ev.Action == base.ActionDelete {
					env.deleted = append(env.deleted, pe)
				}
			}
		}
		for _, pe := range pes {
			ev := pe.ev
			pid, perr := bus.ParseID(ev.ID)
			// Decide and render once per class (identity × topic).
			hits = hits[:0]
			for _, cl := range classes {
				s := cl.sub
				if s.bad || !matches(s, pe) || !h.allowed(ctx, env, pe, cl.ident, s) {
					continue
				}
				data, err := h.payload(ctx, env, pe, cl.ident, s)
				if err != nil {
					h.log.Warn("realtime: render record", "topic", s.topic, "err", err)
					continue
				}
				hits = append(hits, hit{cl, newMessage(s.topic, ev.ID, ev.Action, data)})
			}
			switch len(hits) {
			case 0:
				continue
			case 1:
				// The common case: every receiving client gets one message.
				members = hits[0].cl.snapshot(st, members[:0])
				one[0] = hits[0].m
				for _, c := range members {
					h.pushLive(c, ev.ID, pid, perr == nil, one)
				}
			default:
				// A client in several matching classes gets all its
				// messages of the event in one push.
				per := map[*client][]*message{}
				var order []*client
				for _, x := range hits {
					members = x.cl.snapshot(st, members[:0])
					for _, c := range members {
						if _, ok := per[c]; !ok {
							order = append(order, c)
						}
						per[c] = append(per[c], x.m)
					}
				}
				for _, c := range order {
					h.pushLive(c, ev.ID, pid, perr == nil, per[c])
				}
			}
		}
		clear(members[:cap(members)])
		env.release()
		cancel()
	}
}

func (h *Hub) pushLive(c *client, id string, pid bus.ID, ok bool, msgs []*message) {
	if !c.push(id, pid, ok, msgs, false) {
		h.stats.Overflows.Add(1)
		h.log.Warn("realtime: client queue full; disconnected", "client", c.id)
	}
}

// deliveryEnv is an org's database and record service for one batch.
type deliveryEnv struct {
	db   store.DB
	svc  *records.Service
	eval *rules.Evaluator

	// deleted are the batch's delete events. When there are several (a
	// cascade: a post and its comments), a delete's store check runs in
	// restored: a transaction, always rolled back, in which the batch's
	// deleted records exist again — PocketBase decides a delete event
	// before the deletion, so a comment's rule "post.public = true" still
	// sees its post.
	deleted  []*preparedEvent
	restored store.Tx
	tried    bool
	log      *slog.Logger
}

func (e *deliveryEnv) release() {
	if e.restored != nil {
		_ = e.restored.Rollback()
	}
	e.db.Release()
}

// querier is where pe's store checks run: the restoring transaction for a
// delete among several in the batch, else the database.
func (e *deliveryEnv) querier(ctx context.Context, pe *preparedEvent) store.Querier {
	if pe.ev.Action != base.ActionDelete || len(e.deleted) < 2 {
		return e.db
	}
	if !e.tried {
		e.tried = true
		e.restored = e.restore(ctx)
	}
	if e.restored == nil {
		return e.db
	}
	return e.restored
}

// restore begins the transaction of querier and re-inserts the batch's
// deleted records into it; nil (checks fall back to the database as it
// is) when that fails.
func (e *deliveryEnv) restore(ctx context.Context) store.Tx {
	tx, err := e.db.Begin(ctx)
	if err != nil {
		e.log.Warn("realtime: restore deleted records for delete checks", "err", err)
		return nil
	}
	d := e.db.Dialect()
	for _, pe := range e.deleted {
		if pe.coll.IsView() {
			continue
		}
		cols := make([]string, len(pe.coll.Fields))
		marks := make([]string, len(pe.coll.Fields))
		args := make([]any, len(pe.coll.Fields))
		for i, f := range pe.coll.Fields {
			cols[i], marks[i], args[i] = d.Quote(f.Name), "?", records.Encode(f, pe.rec.Data[f.Name])
		}
		ins := "INSERT INTO " + d.Quote(pe.coll.Name) + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
		if d.Name() == "postgres" {
			ins += " ON CONFLICT DO NOTHING"
		} else {
			ins = "INSERT OR IGNORE" + strings.TrimPrefix(ins, "INSERT")
		}
		if _, err := tx.ExecContext(ctx, ins, args...); err != nil {
			e.log.Warn("realtime: restore deleted records for delete checks", "collection", pe.coll.Name, "err", err)
			_ = tx.Rollback()
			return nil
		}
	}
	return tx
}

// env acquires the org's database and its current schema (cached per
// schema version, so a rule change is honoured by the next event).
func (h *Hub) env(ctx context.Context, st *orgState) (*deliveryEnv, error) {
	db, err := h.cfg.Store.Acquire(ctx, st.org)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	cached := st.schema
	st.mu.Unlock()
	schema, err := records.CurrentSchema(ctx, db, cached)
	if err != nil {
		db.Release()
		return nil, err
	}
	if schema != cached {
		st.mu.Lock()
		st.schema = schema
		st.mu.Unlock()
	}
	rd, err := records.RulesDialect(db.Dialect())
	if err != nil {
		db.Release()
		return nil, err
	}
	svc := records.NewService(schema, db.Dialect(), rd, h.cfg.Now)
	return &deliveryEnv{db: db, svc: svc, eval: &rules.Evaluator{Schema: schema, Now: h.cfg.Now}, log: h.log}, nil
}

// preparedEvent is an event resolved against the schema, with a cache of
// rendered record variants shared by the subscribers of one batch.
type preparedEvent struct {
	ev    base.Event
	coll  *base.Collection
	rec   *records.Record
	cache map[string][]byte
}

func (e *deliveryEnv) prepare(ev base.Event) *preparedEvent {
	c := e.svc.Schema.Collection(ev.CollectionID)
	if c == nil {
		c = e.svc.Schema.Collection(ev.CollectionName)
	}
	if c == nil {
		return nil
	}
	data := make(map[string]any, len(c.Fields))
	for _, f := range c.Fields {
		data[f.Name] = records.Normalize(f, ev.Record[f.Name])
	}
	return &preparedEvent{ev: ev, coll: c, rec: &records.Record{Collection: c, Data: data}, cache: map[string][]byte{}}
}

// render returns the messages of one event for one client: one per
// matching subscription the client's identity may see.
func (h *Hub) render(ctx context.Context, env *deliveryEnv, pe *preparedEvent, c *client) []*message {
	ident, subs := c.snapshot()
	if ident == nil {
		return nil
	}
	var msgs []*message
	for _, s := range subs {
		if s.bad || !matches(s, pe) {
			continue
		}
		if !h.allowed(ctx, env, pe, ident, s) {
			continue
		}
		data, err := h.payload(ctx, env, pe, ident, s)
		if err != nil {
			h.log.Warn("realtime: render record", "client", c.id, "topic", s.topic, "err", err)
			continue
		}
		msgs = append(msgs, newMessage(s.topic, pe.ev.ID, pe.ev.Action, data))
	}
	return msgs
}

func matches(s *subscription, pe *preparedEvent) bool {
	if s.coll != strings.ToLower(pe.coll.Name) && s.coll != strings.ToLower(pe.coll.ID) {
		return false
	}
	return s.record == "*" || s.record == pe.rec.ID()
}

// request is the records layer's view of a realtime check.
func request(ident *base.Identity, s *subscription) *records.Request {
	return &records.Request{Identity: ident, Method: "GET", Context: "realtime", Query: s.query, Headers: s.headers}
}

func rulesRequest(schema *records.Schema, ident *base.Identity, s *subscription) *rules.Request {
	rr := &rules.Request{Method: "GET", Context: "realtime", Query: s.query, Headers: s.headers}
	if !ident.Guest() {
		a := &rules.Auth{ID: ident.UserID, Claims: ident.Claims, CollectionName: base.UsersCollection}
		if u := schema.Collection(base.UsersCollection); u != nil {
			a.CollectionID = u.ID
		}
		rr.Auth = a
	}
	return rr
}

// allowed applies the gate rule (list rule for coll/*, view rule for
// coll/ID) and the subscription's filter.
func (h *Hub) allowed(ctx context.Context, env *deliveryEnv, pe *preparedEvent, ident *base.Identity, s *subscription) bool {
	su := ident.IsSuperuser()
	rule := pe.coll.ListRule
	if s.record != "*" {
		rule = pe.coll.ViewRule
	}
	if !su {
		if rule == nil {
			return false
		}
		if strings.TrimSpace(*rule) != "" {
			expr, err := h.parse(*rule)
			if err != nil {
				return false
			}
			ok, err := h.check(ctx, env, pe, ident, s, expr, rules.Options{AllowHidden: true, Superuser: true})
			if err != nil {
				h.log.Warn("realtime: rule check failed; event not delivered", "collection", pe.coll.Name, "topic", s.topic, "err", err)
				return false
			}
			if !ok {
				return false
			}
		}
	}
	if s.filter != nil {
		if !su && (strings.Contains(s.rawFilt, "@collection.") || strings.Contains(s.rawFilt, "@request.")) {
			return false
		}
		ok, err := h.check(ctx, env, pe, ident, s, s.filter, rules.Options{AllowHidden: su, EnforceRelatedRules: !su, Superuser: su})
		if err != nil {
			// Also a filter a list GET by the subscriber would refuse
			// (a hidden field, say): logged at debug, it is the client's.
			h.log.Debug("realtime: subscription filter refused; event not delivered", "topic", s.topic, "err", err)
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

// parse parses a rule, caching the AST by text.
func (h *Hub) parse(text string) (filter.Expr, error) {
	if v, ok := h.exprs.Load(text); ok {
		return v.(filter.Expr), nil
	}
	e, err := filter.Parse(text)
	if err != nil {
		return nil, err
	}
	h.exprs.Store(text, e)
	return e, nil
}

// check decides expr for the event's record: in memory when the record and
// identity suffice, else in SQL.
func (h *Hub) check(ctx context.Context, env *deliveryEnv, pe *preparedEvent, ident *base.Identity, s *subscription, expr filter.Expr, opt rules.Options) (bool, error) {
	rr := rulesRequest(env.svc.Schema, ident, s)
	ok, err := env.eval.Eval(pe.coll, pe.rec.Data, expr, rr, opt)
	if !errors.Is(err, rules.ErrNeedsStore) {
		h.stats.MemoryChecks.Add(1)
		return ok, err
	}
	h.stats.StoreChecks.Add(1)
	// Evaluate against the event's own version of the record — a derived
	// table under the collection's alias — never the row as it is now: a
	// later write may already have changed or deleted it, and the
	// subscriber is sent the event's version. Relations and @collection
	// still join the live tables. opt carries the subscriber's rights (a
	// client filter is not run as a superuser).
	where, args, err := env.svc.Compiler.Where(pe.coll, pe.coll.Name, expr, rr, opt)
	if err != nil {
		return false, err
	}
	return env.svc.MatchesRow(ctx, env.querier(ctx, pe), pe.rec, where, args)
}

// payload renders the record as ident sees it through s: hidden fields
// stripped, expand and fields applied. Variants are cached per event.
func (h *Hub) payload(ctx context.Context, env *deliveryEnv, pe *preparedEvent, ident *base.Identity, s *subscription) ([]byte, error) {
	su := ident.IsSuperuser()
	key := "plain"
	switch {
	case su:
		key = "su"
	case pe.coll.IsAuth() && !ident.Guest() && ident.UserID == pe.rec.ID():
		key = "self"
	}
	if s.expand != "" {
		key = "x|" + ident.Org + "|" + ident.Subject + "|" + key + "|" + s.expand + "|" + mapKey(s.query) + "|" + mapKey(s.headers)
	}
	if s.fields != "" {
		key += "|f|" + s.fields
	}
	if b, ok := pe.cache[key]; ok {
		return b, nil
	}
	req := request(ident, s)
	rec := &records.Record{Collection: pe.coll, Data: pe.rec.Data}
	if s.expand != "" {
		if err := env.svc.Expand(ctx, env.db, []*records.Record{rec}, s.expand, req); err != nil {
			return nil, err
		}
	}
	var v any = env.svc.Export(rec, req)
	if s.fields != "" {
		v = pickFields(v, s.fields)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	pe.cache[key] = b
	return b, nil
}

func mapKey(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // sorted keys
	return string(b)
}

// replay queues, for c, the events of org after after that c may see, then
// the live events that arrived meanwhile.
func (h *Hub) replay(c *client, org, after string) {
	defer func() {
		c.mu.Lock()
		for _, p := range c.pending {
			c.enqueueLocked(p.id, p.msgs)
		}
		c.pending = nil
		c.replaying = false
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, complete, err := h.cfg.Bus.Replay(ctx, org, after)
	if err != nil {
		h.log.Warn("realtime: replay", "client", c.id, "org", org, "err", err)
		return
	}
	if !complete {
		h.log.Info("realtime: replay window exceeded; some events may be missing", "client", c.id, "after", after)
	}
	if len(events) == 0 {
		return
	}
	h.mu.Lock()
	st := h.orgs[org]
	h.mu.Unlock()
	if st == nil {
		st = &orgState{org: org}
	}
	env, err := h.env(ctx, st)
	if err != nil {
		h.log.Warn("realtime: replay", "client", c.id, "org", org, "err", err)
		return
	}
	defer env.release()
	for _, ev := range events {
		pe := env.prepare(ev)
		if pe == nil {
			continue
		}
		msgs := h.render(ctx, env, pe, c)
		if !c.waitRoom(ctx, len(msgs)) {
			return
		}
		c.mu.Lock()
		ok := c.enqueueLocked(ev.ID, msgs)
		c.mu.Unlock()
		if !ok {
			return
		}
	}
}

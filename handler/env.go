package handler

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// env is what an org-scoped route works with: the caller, the org's
// database and the record service over its current schema.
type env struct {
	id  *base.Identity
	db  store.DB
	svc *records.Service
	req *records.Request
	// pre is the record a view by id read with the request's first
	// statement (routeView), nil when it was not.
	pre *records.Prefetch
}

// orgHandler is a route that acts in the request's org.
type orgHandler func(w http.ResponseWriter, r *http.Request, e *env) error

// routeKind says what a route needs before it touches the org's database.
type routeKind int

const (
	// routeRecords: guests of an org that does not exist yet get 404
	// "Missing collection context." (nothing can exist there), so an
	// unauthenticated request never creates a database.
	routeRecords routeKind = iota
	// routeAdmin: superusers only, checked before the database is touched.
	routeAdmin
	// routeSchemaOnly: the route reads only the schema; for a guest of an
	// org that does not exist yet it sees the schema every new org starts
	// with, and e.db is nil.
	routeSchemaOnly
	// routeView: a routeRecords route viewing record {id} of collection
	// {c}, read in the request's first statement (records.Prefetch).
	routeView
)

// org adapts a records route (see routeRecords).
func (h *Handler) org(fn orgHandler) http.HandlerFunc { return h.route(routeRecords, fn) }

// admin adapts a superuser-only route (see routeAdmin).
func (h *Handler) admin(fn orgHandler) http.HandlerFunc { return h.route(routeAdmin, fn) }

// route adapts an orgHandler: it resolves identity and org, acquires the
// org's database (released when the route returns), loads the schema,
// upserts the caller's users mirror record, and renders any error.
func (h *Handler) route(kind routeKind, fn orgHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.serveOrg(w, r, kind, fn); err != nil {
			writeError(w, r, h.log, err)
		}
	}
}

func (h *Handler) serveOrg(w http.ResponseWriter, r *http.Request, kind routeKind, fn orgHandler) error {
	ctx := r.Context()
	id, err := h.identify(r)
	if err != nil {
		return err
	}
	if kind == routeAdmin {
		if err := requireSuperuser(&env{id: id}); err != nil {
			return err
		}
	}
	if id.Guest() {
		setLogAttrs(r, slog.String("org", id.Org))
		ok, err := h.cfg.Store.Exists(ctx, id.Org)
		if err != nil {
			return storeError(err)
		}
		if !ok {
			if kind != routeSchemaOnly {
				return base.NotFound("Missing collection context.")
			}
			schema := records.NewSchema(0, []*base.Collection{base.UsersMirror(id.Org)})
			svc := records.NewService(schema, store.SQLite, rules.SQLite, h.now)
			return fn(w, r, &env{id: id, svc: svc, req: &records.Request{Identity: id, Method: r.Method, Context: "default"}})
		}
	}
	db, err := h.cfg.Store.Acquire(ctx, id.Org)
	if err != nil {
		return storeError(err)
	}
	defer db.Release()
	var view *viewTarget
	if kind == routeView {
		view = &viewTarget{coll: r.PathValue("c"), id: r.PathValue("id")}
	}
	svc, events, pre, err := h.orgService(ctx, db, id, view)
	if err != nil {
		return err
	}
	h.publish(ctx, events)
	e := &env{id: id, db: db, svc: svc, pre: pre, req: &records.Request{
		Identity: id,
		Method:   r.Method,
		Context:  "default",
		Query:    firstValues(r.URL.Query()),
		Headers:  headerValues(r.Header),
	}}
	return fn(w, r, e)
}

// viewTarget names the record a routeView route views.
type viewTarget struct{ coll, id string }

// orgService returns the record service over db's current schema and,
// for an authenticated caller, upserts its users mirror record, returning
// the events to publish. With the org's schema cached, the schema version,
// the caller's mirror record and the record of view (if any; returned as
// pre) are one statement (records.LoadMirror); a changed version or a
// failed statement takes the general path: reload the schema, then
// EnsureUser reads the mirror itself, and the view reads its record.
func (h *Handler) orgService(ctx context.Context, db store.DB, id *base.Identity, view *viewTarget) (*records.Service, []base.Event, *records.Prefetch, error) {
	rd, err := records.RulesDialect(db.Dialect())
	if err != nil {
		return nil, nil, nil, err
	}
	if cached, ok := h.schemas.Load(db.Org()); ok && cached.Collection(base.UsersCollection) != nil {
		svc := records.NewService(cached, db.Dialect(), rd, h.now)
		var pre *records.Prefetch
		if view != nil {
			if c := cached.Collection(view.coll); c != nil {
				pre = &records.Prefetch{Collection: c, ID: view.id}
			}
		}
		v, cur, err := svc.LoadMirror(ctx, db, id.UserID, pre)
		switch {
		case err == nil && v == cached.Version:
			events, err := svc.EnsureUserFrom(ctx, db, id, cur)
			if err != nil {
				return nil, nil, nil, storeError(err)
			}
			if !id.Guest() && (cur == nil || len(events) > 0) {
				// The mirror was (or, racing another request, may have
				// been) written since the statement: it may be the
				// prefetched record.
				pre = nil
			}
			return svc, events, pre, nil
		case err != nil && (isUnavailable(err) || errors.Is(err, context.Canceled)):
			// The general path would fail alike.
			return nil, nil, nil, storeError(err)
		}
	}
	schema, err := h.schema(ctx, db)
	if err != nil {
		return nil, nil, nil, storeError(err)
	}
	svc := records.NewService(schema, db.Dialect(), rd, h.now)
	if id.Guest() {
		return svc, nil, nil, nil
	}
	events, err := svc.EnsureUser(ctx, db, id)
	if err != nil {
		return nil, nil, nil, storeError(err)
	}
	return svc, events, nil, nil
}

// storeError turns store failures into 503s, keeping *base.Error as is.
func storeError(err error) error {
	if e, ok := err.(*base.Error); ok {
		return e
	}
	if isUnavailable(err) {
		return base.Unavailable(err)
	}
	return err
}

func isUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// withTx runs fn in a write transaction on e.db, commits, and publishes the
// events fn returns only after the commit succeeded.
func (h *Handler) withTx(ctx context.Context, e *env, fn func(tx store.Tx) ([]base.Event, error)) error {
	tx, err := e.db.Begin(ctx)
	if err != nil {
		return storeError(err)
	}
	events, err := fn(tx)
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return storeError(err)
	}
	h.publish(ctx, events)
	return nil
}

// requireSuperuser answers 401 for guests and 403 for other users.
func requireSuperuser(e *env) error {
	if e.id.Guest() {
		return base.Unauthorized("The request requires valid record authorization token.")
	}
	if !e.id.IsSuperuser() {
		return base.Forbidden("The authorized record is not allowed to perform this action.")
	}
	return nil
}

func firstValues(v map[string][]string) map[string]string {
	out := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}

// headerValues snake_cases header names as rules see them
// (X-Token → x_token).
func headerValues(hdr http.Header) map[string]string {
	out := make(map[string]string, len(hdr))
	for k, vs := range hdr {
		if len(vs) == 0 || strings.EqualFold(k, "Authorization") {
			continue
		}
		out[strings.ToLower(strings.ReplaceAll(k, "-", "_"))] = vs[0]
	}
	return out
}

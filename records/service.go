package records

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// Request carries what rules may read about the HTTP request an operation
// serves (@request.*) and who makes it.
type Request struct {
	Identity *base.Identity
	// Method is the HTTP method ("GET" for realtime checks).
	Method string
	// Context is @request.context: "default", "expand", "batch",
	// "realtime", "protectedFile".
	Context string
	// Query and Headers are first values; header keys snake_cased lower.
	Query   map[string]string
	Headers map[string]string
}

// Superuser reports whether the request bypasses rules.
func (r *Request) Superuser() bool { return r != nil && r.Identity.IsSuperuser() }

// Service implements record semantics (rules, validation, modifiers,
// relations, expansion, export) over one org's database. It holds no
// connection: every call takes the Querier to run on (a DB for reads, a Tx
// for writes), so callers choose transaction boundaries.
type Service struct {
	Schema   *Schema
	Dialect  store.Dialect
	Compiler *rules.Compiler
	Now      func() time.Time
}

// NewService returns a Service for schema on an engine with the given store
// and rules dialects.
func NewService(schema *Schema, sd store.Dialect, rd rules.Dialect, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{
		Schema:   schema,
		Dialect:  sd,
		Compiler: &rules.Compiler{Dialect: rd, Schema: schema, Now: now},
		Now:      now,
	}
}

// Messages of the wire protocol.
const (
	msgOnlySuperusers   = "Only superusers can perform this action."
	msgMissingColl      = "Missing collection context."
	msgFailedCreate     = "Failed to create record."
	msgFailedUpdate     = "Failed to update record."
	msgFailedDelete     = "Failed to delete record. Make sure that the record is not part of a required relation reference."
	msgUnsupportedType  = "Unsupported collection type."
	msgUsersMirrorWrite = "Users are mirrored from the IAM and cannot be created through the API."
)

// rulesRequest converts req into the compiler's view of it, with body as
// @request.body.
func (s *Service) rulesRequest(req *Request, body map[string]any) *rules.Request {
	rr := &rules.Request{Method: req.Method, Context: req.Context, Query: req.Query, Headers: req.Headers, Body: body}
	if rr.Context == "" {
		rr.Context = "default"
	}
	if id := req.Identity; !id.Guest() {
		users := s.Schema.Collection(base.UsersCollection)
		a := &rules.Auth{ID: id.UserID, Claims: id.Claims, CollectionName: base.UsersCollection}
		if users != nil {
			a.CollectionID = users.ID
		}
		rr.Auth = a
	}
	return rr
}

// ruleCondition compiles rule (a non-nil, non-empty expression) for c under
// alias. A rule that does not compile is a 400: it can only be fixed by a
// superuser, and the client learns nothing about why.
func (s *Service) ruleCondition(c *base.Collection, alias, rule string, req *Request, body map[string]any) (string, []any, error) {
	expr, err := filter.Parse(rule)
	if err != nil {
		return "", nil, base.BadRequest("", nil).Wrap(fmt.Errorf("parse rule of %s: %w", c.Name, err))
	}
	sqlText, args, err := s.Compiler.Where(c, alias, expr, s.rulesRequest(req, body), rules.Options{AllowHidden: true, Superuser: true})
	if err != nil {
		return "", nil, base.BadRequest("", nil).Wrap(fmt.Errorf("compile rule of %s: %w", c.Name, err))
	}
	return sqlText, args, nil
}

// filterCondition compiles a client-supplied filter for c under alias.
func (s *Service) filterCondition(c *base.Collection, alias, text string, req *Request) (string, []any, error) {
	expr, err := filter.Parse(text)
	if err != nil {
		return "", nil, base.BadRequest("", nil).Wrap(fmt.Errorf("parse filter: %w", err))
	}
	su := req.Superuser()
	sqlText, args, err := s.Compiler.Where(c, alias, expr, s.rulesRequest(req, nil), rules.Options{AllowHidden: su, EnforceRelatedRules: !su, Superuser: su})
	if err != nil {
		return "", nil, base.BadRequest("", nil).Wrap(fmt.Errorf("compile filter: %w", err))
	}
	return sqlText, args, nil
}

// checkClientExpr refuses @request./@collection. references in a
// non-superuser's filter or sort, as PocketBase does (substring check).
func checkClientExpr(req *Request, exprs ...string) error {
	if req.Superuser() {
		return nil
	}
	for _, e := range exprs {
		if strings.Contains(e, "@collection.") {
			return base.Forbidden("Only superusers can filter by @collection.")
		}
		if strings.Contains(e, "@request.") {
			return base.Forbidden("Only superusers can filter by @request.")
		}
	}
	return nil
}

// Collection resolves nameOrID or answers 404 "Missing collection context.".
func (s *Service) Collection(nameOrID string) (*base.Collection, error) {
	c := s.Schema.Collection(nameOrID)
	if c == nil {
		return nil, base.NotFound(msgMissingColl)
	}
	return c, nil
}

// loadByID reads one record of c by id with an optional extra condition
// (already compiled under alias c.Name). It returns (nil, nil) when no row
// matches.
func (s *Service) loadByID(ctx context.Context, q store.Querier, c *base.Collection, id, cond string, condArgs []any) (*Record, error) {
	recs, err := s.selectByID(ctx, q, c, cond, "load "+c.Name+"/"+id,
		[]sqlPart{{s.idColumn(c) + " = ?", []any{id}}, {cond, condArgs}}, " LIMIT 1")
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[0], nil
}

// classify marks store-unavailable errors as 503s; others pass through.
func classify(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return base.Unavailable(err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return base.NewError(http.StatusServiceUnavailable, "", nil).Wrap(err)
	}
	return err
}

package records

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// List paging limits of the wire protocol.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// ListParams are a list request's query parameters, already parsed.
type ListParams struct {
	Filter    string
	Sort      string
	Page      int
	PerPage   int
	SkipTotal bool
	Expand    string
}

// ListResult is one page of records. TotalItems and TotalPages are -1 when
// the count was skipped.
type ListResult struct {
	Page       int
	PerPage    int
	TotalItems int
	TotalPages int
	Items      []*Record
}

// List returns one page of c's records visible to req: the list rule AND the
// client filter, sorted, paged and expanded.
func (s *Service) List(ctx context.Context, q store.Querier, c *base.Collection, p ListParams, req *Request) (*ListResult, error) {
	su := req.Superuser()
	if c.ListRule == nil && !su {
		return nil, base.Forbidden(msgOnlySuperusers)
	}
	if err := checkClientExpr(req, p.Filter, p.Sort); err != nil {
		return nil, err
	}
	if p.Page <= 0 {
		p.Page = 1
	}
	if p.PerPage <= 0 {
		p.PerPage = DefaultPerPage
	}
	if p.PerPage > MaxPerPage {
		p.PerPage = MaxPerPage
	}

	alias := c.Name
	var where []sqlPart
	if !su && c.ListRule != nil && strings.TrimSpace(*c.ListRule) != "" {
		w, a, err := s.ruleCondition(c, alias, *c.ListRule, req, nil)
		if err != nil {
			return nil, err
		}
		where = append(where, sqlPart{w, a})
	}
	if strings.TrimSpace(p.Filter) != "" {
		w, a, err := s.filterCondition(c, alias, p.Filter, req)
		if err != nil {
			return nil, err
		}
		where = append(where, sqlPart{w, a})
	}

	order := ""
	var orderArgs []any
	if strings.TrimSpace(p.Sort) != "" {
		items, err := filter.ParseSort(p.Sort)
		if err != nil {
			return nil, base.BadRequest("", nil).Wrap(fmt.Errorf("parse sort: %w", err))
		}
		o, a, err := s.Compiler.OrderBy(c, alias, items, s.rulesRequest(req, nil), rules.Options{AllowHidden: su, EnforceRelatedRules: !su, Superuser: su})
		if err != nil {
			return nil, base.BadRequest("", nil).Wrap(fmt.Errorf("compile sort: %w", err))
		}
		if o != "" {
			order = " ORDER BY " + o
			orderArgs = a
		}
	}

	res := &ListResult{Page: p.Page, PerPage: p.PerPage, TotalItems: -1, TotalPages: -1}
	if !p.SkipTotal {
		total, err := s.count(ctx, q, c, where)
		if err != nil {
			return nil, err
		}
		res.TotalItems = total
		res.TotalPages = (total + p.PerPage - 1) / p.PerPage
	}
	offset, ok := Offset(p.Page, p.PerPage)
	var items []*Record
	if ok {
		var err error
		items, err = s.selectRecords(ctx, q, c, "list "+c.Name, where, order+" LIMIT ? OFFSET ?",
			append(orderArgs, p.PerPage, offset)...)
		if err != nil {
			return nil, err
		}
	}
	res.Items = items
	if p.Expand != "" {
		if err := s.Expand(ctx, q, items, p.Expand, req); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// View returns record id of c if req may see it: 403 for a locked view rule,
// 404 when missing or hidden by the rule.
func (s *Service) View(ctx context.Context, q store.Querier, c *base.Collection, id, expand string, req *Request) (*Record, error) {
	return s.ViewFrom(ctx, q, c, id, expand, req, nil)
}

// ViewFrom is View given pre, LoadMirror's prefetch of the request: when
// it holds record id of c, the record is not read again, and the view rule
// is decided in memory (rules.Evaluator, as the realtime hub decides it)
// unless it needs the store, which then decides it in SQL as View does.
func (s *Service) ViewFrom(ctx context.Context, q store.Querier, c *base.Collection, id, expand string, req *Request, pre *Prefetch) (*Record, error) {
	su := req.Superuser()
	if c.ViewRule == nil && !su {
		return nil, base.Forbidden(msgOnlySuperusers)
	}
	rule := ""
	if !su {
		rule = strings.TrimSpace(*c.ViewRule)
	}
	var rec *Record
	decided := false
	if pre.matches(c, id) {
		rec, decided = pre.Record, true
		if rec != nil && rule != "" {
			ok, err := s.evalRule(c, rec, rule, req)
			switch {
			case err != nil:
				// rules.ErrNeedsStore, or a rule that does not compile:
				// the SQL path decides, and reports the error as View does.
				decided = false
			case !ok:
				rec = nil
			}
		}
	}
	if !decided {
		var cond string
		var args []any
		if rule != "" {
			w, a, err := s.ruleCondition(c, c.Name, rule, req, nil)
			if err != nil {
				return nil, err
			}
			cond, args = w, a
		}
		var err error
		if rec, err = s.loadByID(ctx, q, c, id, cond, args); err != nil {
			return nil, err
		}
	}
	if rec == nil {
		return nil, base.NotFound("")
	}
	if expand != "" {
		if err := s.Expand(ctx, q, []*Record{rec}, expand, req); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// evalRule decides rule (non-empty) for rec in memory, with the rights a
// rule has (see ruleCondition). It returns rules.ErrNeedsStore when the
// store must decide.
func (s *Service) evalRule(c *base.Collection, rec *Record, rule string, req *Request) (bool, error) {
	expr, err := filter.Parse(rule)
	if err != nil {
		return false, err
	}
	ev := rules.Evaluator{Schema: s.Schema, Now: s.Now}
	return ev.Eval(c, rec.Data, expr, s.rulesRequest(req, nil), rules.Options{AllowHidden: true, Superuser: true})
}

// Satisfies reports whether record id of c matches rule for req (an empty
// rule matches; a nil rule matches only for superusers).
func (s *Service) Satisfies(ctx context.Context, q store.Querier, c *base.Collection, id string, rule string, req *Request) (bool, error) {
	var cond string
	var args []any
	if strings.TrimSpace(rule) != "" && !req.Superuser() {
		var err error
		if cond, args, err = s.ruleCondition(c, c.Name, rule, req, nil); err != nil {
			return false, err
		}
	}
	rec, err := s.loadByID(ctx, q, c, id, cond, args)
	return rec != nil, err
}

// count returns how many records of c match every condition of where.
func (s *Service) count(ctx context.Context, q store.Querier, c *base.Collection, where []sqlPart) (int, error) {
	d := s.Dialect
	clause, args := whereClause(where)
	query := "SELECT COUNT(*) FROM " + d.Quote(c.Name) + " AS " + d.Quote(c.Name) + clause
	var total int
	if err := q.QueryRowContext(ctx, query, args...).Scan(&total); err != nil {
		return 0, classify(fmt.Errorf("count %s: %w", c.Name, err))
	}
	return total, nil
}

// Offset is the row offset of page (1-based) with perPage rows per page;
// ok is false when it does not fit an int64, i.e. the page is past any
// possible row.
func Offset(page, perPage int) (offset int, ok bool) {
	if page <= 1 {
		return 0, true
	}
	if page-1 > math.MaxInt64/perPage {
		return 0, false
	}
	return (page - 1) * perPage, true
}

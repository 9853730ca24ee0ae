// Package rules compiles filter expressions (package filter) to SQL. It is
// shared by user filters (the `filter` and `sort` query parameters) and API
// rules, which the records layer AND-s into one query, and by the realtime
// hub for rules that need the database.
//
// The compiler resolves identifiers against a Schema, reads @request.* values
// from a Request at compile time (so they are bound values, never SQL), and
// emits one self-contained boolean expression with "?" placeholders: relation
// paths become scalar subqueries (single relations) or correlated
// EXISTS / NOT EXISTS subqueries (multi-valued paths), so the caller needs no
// JOINs. Expression-level differences between engines live behind Dialect.
package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
)

// Schema looks up collections by name or id.
type Schema interface {
	// Collection returns the collection with the given name or id, or nil.
	Collection(nameOrID string) *base.Collection
}

// Auth is the authenticated caller as seen by @request.auth.*. A nil *Auth
// is a guest, for whom every @request.auth.* value is NULL.
type Auth struct {
	// ID is the caller's record id (in the users collection).
	ID string
	// CollectionID and CollectionName name the caller's auth collection.
	CollectionID   string
	CollectionName string
	// Claims are the verified token's claims; @request.auth.<path> reads
	// them first (nested maps by dotted path, arrays of scalars are
	// multi-valued). Paths that are not claims but are fields of the auth
	// collection are read from the caller's record.
	Claims map[string]any
}

// Request is what @request.* resolves to.
type Request struct {
	// Method is the HTTP method ("GET", "POST", ...).
	Method string
	// Context is "default", "expand", "realtime", "protectedFile", "batch"
	// ...; empty means "default".
	Context string
	// Auth is the caller, nil for guests.
	Auth *Auth
	// Body is the submitted data after modifier resolution.
	Body map[string]any
	// Query holds the first value of each query parameter.
	Query map[string]string
	// Headers holds the first value of each header, keyed by the
	// snake_cased lower-case header name (X-Token → x_token).
	Headers map[string]string
}

// Options are the caller's privileges for one compilation.
type Options struct {
	// AllowHidden lets the expression read hidden fields and compare
	// auth-collection emails regardless of emailVisibility. True for API
	// rules; false for user filters and sorts of non-superusers (a hidden
	// field is then an error).
	AllowHidden bool
	// EnforceRelatedRules is set for user filters of non-superusers:
	// joining into a collection whose listRule is nil is an error, and a
	// non-empty listRule of a joined collection restricts the joined rows.
	EnforceRelatedRules bool
	// Superuser implies AllowHidden and disables EnforceRelatedRules.
	Superuser bool
}

// Compiler compiles filter ASTs to SQL for one dialect and schema. It holds
// no per-call state and is safe for concurrent use.
type Compiler struct {
	Dialect Dialect
	Schema  Schema
	// Now is the clock of the datetime macros (@now, @todayStart, ...);
	// nil means time.Now.
	Now func() time.Time
}

// Where compiles expr for rows of coll visible under the SQL alias alias
// (the caller writes FROM "posts" AS "alias", or FROM (SELECT ? AS "id",
// ...) AS "alias" for a create rule evaluated against the would-be record).
// It returns a boolean SQL expression and its bound arguments ("?"
// placeholders only). A nil expr compiles to a true condition. Generated
// aliases start with "__", so alias must not. Errors
// (unknown fields, hidden fields, locked related collections, misused
// modifiers) are plain errors whose text is safe to log.
func (c *Compiler) Where(coll *base.Collection, alias string, expr filter.Expr, req *Request, opt Options) (string, []any, error) {
	if expr == nil {
		return "1=1", nil, nil
	}
	st, err := c.newState(coll, req)
	if err != nil {
		return "", nil, err
	}
	s, err := st.where(coll, alias, expr, opt)
	if err != nil {
		return "", nil, err
	}
	return s.Text, s.Args, nil
}

// OrderBy compiles a sort list to ORDER BY terms (without the keywords
// "ORDER BY"), e.g. `"p"."created" DESC, "p"."id" ASC`. Relation paths
// through single relations become scalar subqueries; multi-valued paths and
// hidden fields (without AllowHidden) are errors. An empty list compiles
// to "".
func (c *Compiler) OrderBy(coll *base.Collection, alias string, sort []filter.SortItem, req *Request, opt Options) (string, []any, error) {
	if len(sort) == 0 {
		return "", nil, nil
	}
	st, err := c.newState(coll, req)
	if err != nil {
		return "", nil, err
	}
	w := st.newWhere(coll, alias, opt)
	terms := make([]SQL, 0, len(sort))
	for _, item := range sort {
		var term SQL
		switch item.Special() {
		case filter.SortRandom:
			term = Raw(c.Dialect.Random())
		case filter.SortRowID:
			if coll.IsView() {
				return "", nil, errors.New("cannot sort a view collection by @rowid")
			}
			r, err := c.Dialect.RowID(alias)
			if err != nil {
				return "", nil, err
			}
			term = Raw(r)
		default:
			o, err := w.resolve(item.Expr, nil)
			if err != nil {
				return "", nil, err
			}
			term = o.sql
			if o.guard != nil {
				term = Cat("(CASE WHEN ", *o.guard, " THEN ", term, " END)")
			}
		}
		if item.Desc {
			term = Cat(term, " DESC")
		} else {
			term = Cat(term, " ASC")
		}
		terms = append(terms, term)
	}
	s := Join(", ", terms)
	return s.Text, s.Args, nil
}

// state is shared by everything compiled for one Where/OrderBy call,
// including the list rules of joined collections.
type state struct {
	c     *Compiler
	d     Dialect
	req   *Request
	now   time.Time
	n     int
	rules map[string]filter.Expr
}

func (c *Compiler) newState(coll *base.Collection, req *Request) (*state, error) {
	if c.Dialect == nil || c.Schema == nil {
		return nil, errors.New("rules: compiler needs a dialect and a schema")
	}
	if coll == nil {
		return nil, errors.New("rules: nil collection")
	}
	if req == nil {
		req = &Request{}
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return &state{c: c, d: c.Dialect, req: req, now: now().UTC()}, nil
}

// alias returns a fresh SQL alias.
func (st *state) alias(prefix string) string {
	st.n++
	return "__" + prefix + strconv.Itoa(st.n)
}

// where is one compilation of an expression against one collection row.
type where struct {
	st          *state
	coll        *base.Collection
	alias       string
	allowHidden bool
	enforce     bool
	shared      *scope
}

func (st *state) newWhere(coll *base.Collection, alias string, opt Options) *where {
	return &where{
		st:          st,
		coll:        coll,
		alias:       alias,
		allowHidden: opt.AllowHidden || opt.Superuser,
		enforce:     opt.EnforceRelatedRules && !opt.Superuser,
		shared:      newScope(),
	}
}

func (st *state) where(coll *base.Collection, alias string, expr filter.Expr, opt Options) (SQL, error) {
	w := st.newWhere(coll, alias, opt)
	body, err := w.expr(expr)
	if err != nil {
		return SQL{}, err
	}
	if len(w.shared.items) == 0 {
		return body, nil
	}
	// Multi-valued paths share one set of LEFT JOINs per expression (as
	// PocketBase's joins do: `@collection.o.user ?= x && @collection.o.p ?= y`
	// means one row of o satisfies both); the joins live in one EXISTS so
	// the result stays a self-contained boolean.
	return Cat("EXISTS (SELECT 1 FROM ", w.shared.render(st), " WHERE ", body, ")"), nil
}

func (w *where) expr(e filter.Expr) (SQL, error) {
	switch e := e.(type) {
	case *filter.Group:
		if e == nil || len(e.Items) == 0 {
			return SQL{}, filter.ErrEmpty
		}
		parts := make([]any, 0, 2*len(e.Items)+2)
		parts = append(parts, "(")
		for i, it := range e.Items {
			s, err := w.expr(it.Expr)
			if err != nil {
				return SQL{}, err
			}
			if i > 0 {
				if it.Join == filter.Or {
					parts = append(parts, " OR ")
				} else {
					parts = append(parts, " AND ")
				}
			}
			parts = append(parts, s)
		}
		parts = append(parts, ")")
		return Cat(parts...), nil
	case *filter.Comparison:
		if e == nil {
			return SQL{}, filter.ErrEmpty
		}
		return w.compare(e)
	case nil:
		return SQL{}, filter.ErrEmpty
	}
	return SQL{}, fmt.Errorf("unsupported expression %T", e)
}

// compare compiles one comparison. Plain operators over multi-valued
// operands additionally require that no value violates the condition (a
// NOT EXISTS over an independent copy of the multi-valued path).
func (w *where) compare(c *filter.Comparison) (SQL, error) {
	l, err := w.resolve(c.Left, w.shared)
	if err != nil {
		return SQL{}, err
	}
	r, err := w.resolve(c.Right, w.shared)
	if err != nil {
		return SQL{}, err
	}
	op := c.Op.Plain()
	out, err := w.cmp(l, op, r)
	if err != nil {
		return SQL{}, err
	}
	if !c.Op.Any() && (l.multi || r.multi) {
		sc := newScope()
		l2, r2 := l, r
		if l.multi {
			if l2, err = w.resolve(c.Left, sc); err != nil {
				return SQL{}, err
			}
		}
		if r.multi {
			if r2, err = w.resolve(c.Right, sc); err != nil {
				return SQL{}, err
			}
		}
		cond, err := w.cmp(l2, op, r2)
		if err != nil {
			return SQL{}, err
		}
		out = Cat("(", out, " AND NOT EXISTS (SELECT 1 FROM ", sc.render(w.st), " WHERE NOT (", cond, ")))")
	}
	for _, g := range []*SQL{l.guard, r.guard} {
		if g != nil {
			out = Cat("(", out, " AND ", *g, ")")
		}
	}
	return out, nil
}

// cmp is the condition `l op r` for one pair of values.
func (w *where) cmp(l operand, op filter.Op, r operand) (SQL, error) {
	d := w.st.d
	switch op {
	case filter.Eq:
		return equal(d, true, l, r), nil
	case filter.Neq:
		return equal(d, false, l, r), nil
	case filter.Like, filter.NotLike:
		var pattern SQL
		switch r.kind {
		case kindParam:
			pattern = Param(likePattern(toText(r.val)))
		default:
			pattern = d.Contains(r.sql)
		}
		return d.Like(l.sql, pattern, op == filter.NotLike), nil
	case filter.Lt, filter.Lte, filter.Gt, filter.Gte:
		return Cat(l.sql, " "+string(op)+" ", r.sql), nil
	}
	return SQL{}, fmt.Errorf("unknown operator %q", op)
}

// equal is `=` (eq) or `!=` with PocketBase's NULL/empty normalization:
// "" and NULL are equal, and != is NULL-safe.
func equal(d Dialect, eq bool, l, r operand) SQL {
	eqOp, nullOp, concat, nullExpr := " = ", " IS ", " OR ", " IS NULL"
	if !eq {
		eqOp, nullOp, concat, nullExpr = " IS NOT ", " IS NOT ", " AND ", " IS NOT NULL"
	}
	if l.noCoalesce || r.noCoalesce {
		return Cat(l.sql, nullOp, r.sql)
	}
	le, re := l.empty(), r.empty()
	switch {
	case le && re:
		return Raw("''" + eqOp + "''")
	case l.knownNonEmpty() || r.knownNonEmpty():
		ls, rs := l.sql, r.sql
		if le {
			ls = Raw("''")
		}
		if re {
			rs = Raw("''")
		}
		return Cat(ls, eqOp, rs)
	case le:
		return Cat("(''", eqOp, r.sql, concat, r.sql, nullExpr, ")")
	case re:
		return Cat("(", l.sql, eqOp, "''", concat, l.sql, nullExpr, ")")
	}
	return Cat(d.Coalesce(l.sql), eqOp, d.Coalesce(r.sql))
}

// likePattern turns a `~` operand into a LIKE pattern: without an unescaped
// %, the value is wrapped as %value% with %, _ and lone \ escaped;
// otherwise it is used as a raw pattern.
func likePattern(s string) string {
	if hasUnescapedPercent(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('%')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '%' || s[i+1] == '_' || s[i+1] == '\\'):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case c == '\\' || c == '%' || c == '_':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('%')
	return b.String()
}

func hasUnescapedPercent(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '%':
			return true
		}
	}
	return false
}

// operand is a resolved operand.
type operand struct {
	sql  SQL
	kind opKind
	// val is the bound value of a kindParam operand.
	val any
	// noCoalesce: compare with IS / IS NOT, no NULL/'' normalization
	// (JSON paths, geoDistance).
	noCoalesce bool
	// multi: the operand is a multi-valued path; plain operators need the
	// all-values check.
	multi bool
	// guard is AND-ed onto every comparison of the operand (auth email
	// visibility).
	guard *SQL
}

type opKind int

const (
	kindExpr opKind = iota
	kindParam
	kindNull
)

func (o operand) empty() bool {
	return o.kind == kindNull || (o.kind == kindParam && (o.val == nil || o.val == ""))
}

func (o operand) knownNonEmpty() bool { return o.kind == kindParam && !o.empty() }

func nullOperand() operand { return operand{sql: Raw("NULL"), kind: kindNull} }

func paramOperand(v any) operand {
	if v == nil {
		return nullOperand()
	}
	return operand{sql: Param(v), kind: kindParam, val: v}
}

func toText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
)

// ErrNeedsStore is returned by Eval when an expression cannot be decided
// from the record and the request alone: relation paths, back-relations,
// @collection joins, multi-valued and JSON fields, functions, auth-record
// fields that are not claims, or comparisons whose SQL result depends on
// column affinity. The caller then evaluates the expression in SQL.
var ErrNeedsStore = errors.New("rules: expression needs the store")

// Evaluator decides filter expressions in memory for one record, with the
// same result as the compiled SQL (Compiler.Where) on that record's row.
// It holds no per-call state and is safe for concurrent use.
type Evaluator struct {
	// Schema resolves the caller's auth collection (for @request.auth.*
	// paths that are not claims).
	Schema Schema
	// Now is the clock of the datetime macros; nil means time.Now.
	Now func() time.Time
}

// Eval reports whether record (a record of coll as exported to the wire or
// as normalized by the records layer: field name → value) satisfies expr
// for req. A nil expr is true. It returns ErrNeedsStore when the answer
// needs the database, and a plain error for expressions the compiler would
// refuse too (unknown request fields, hidden fields without
// opt.AllowHidden).
func (e *Evaluator) Eval(coll *base.Collection, record map[string]any, expr filter.Expr, req *Request, opt Options) (bool, error) {
	if expr == nil {
		return true, nil
	}
	if coll == nil {
		return false, errors.New("rules: nil collection")
	}
	if req == nil {
		req = &Request{}
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	ev := &evalState{
		e: e, coll: coll, rec: record, req: req,
		allowHidden: opt.AllowHidden || opt.Superuser,
		st:          &state{d: SQLite, req: req, now: now().UTC()},
	}
	return ev.expr(expr)
}

type evalState struct {
	e           *Evaluator
	coll        *base.Collection
	rec         map[string]any
	req         *Request
	allowHidden bool
	st          *state
}

// evalKind distinguishes the SQL storage classes the evaluator models.
type evalKind int

const (
	evNull evalKind = iota
	evText
	evNum
)

// evalValue is one resolved operand. column marks values read from the
// record's row (SQL column expressions), whose LOWER is ASCII-only and
// whose comparisons with bound values are affinity-sensitive.
type evalValue struct {
	kind   evalKind
	s      string
	n      float64
	column bool
}

func (v evalValue) empty() bool { return v.kind == evNull || (v.kind == evText && v.s == "") }

func (ev *evalState) expr(e filter.Expr) (bool, error) {
	switch e := e.(type) {
	case *filter.Group:
		if e == nil || len(e.Items) == 0 {
			return false, filter.ErrEmpty
		}
		// && binds tighter than ||: evaluate as an OR of AND-runs.
		// Every item is evaluated (no short circuit) so that a
		// needs-store or invalid item is reported whatever the data.
		result, run := false, true
		var needs error
		for i, it := range e.Items {
			b, err := ev.expr(it.Expr)
			if err != nil {
				if !errors.Is(err, ErrNeedsStore) {
					return false, err
				}
				needs = err
			}
			if i > 0 && it.Join == filter.Or {
				result = result || run
				run = true
			}
			run = run && b
		}
		if needs != nil {
			return false, needs
		}
		return result || run, nil
	case *filter.Comparison:
		if e == nil {
			return false, filter.ErrEmpty
		}
		return ev.compare(e)
	case nil:
		return false, filter.ErrEmpty
	}
	return false, fmt.Errorf("unsupported expression %T", e)
}

func (ev *evalState) compare(c *filter.Comparison) (bool, error) {
	l, err := ev.operand(c.Left)
	if err != nil {
		return false, err
	}
	r, err := ev.operand(c.Right)
	if err != nil {
		return false, err
	}
	switch op := c.Op.Plain(); op {
	case filter.Eq, filter.Neq:
		eq, err := evalEqual(l, r)
		if err != nil {
			return false, err
		}
		return eq == (op == filter.Eq), nil
	case filter.Like, filter.NotLike:
		return evalLike(l, r, op == filter.NotLike)
	case filter.Lt, filter.Lte, filter.Gt, filter.Gte:
		return evalOrder(l, op, r)
	}
	return false, fmt.Errorf("unknown operator %q", c.Op)
}

// evalEqual mirrors the compiler's equal: "" and NULL are equal; values of
// different storage classes need SQLite's affinity rules.
func evalEqual(l, r evalValue) (bool, error) {
	le, re := l.empty(), r.empty()
	switch {
	case le && re:
		return true, nil
	case le || re:
		// A non-empty value never equals '' or NULL: numbers and bools
		// keep their numeric class against the text ''.
		return false, nil
	}
	if l.kind != r.kind {
		return false, ErrNeedsStore
	}
	if l.kind == evNum {
		return l.n == r.n, nil
	}
	return l.s == r.s, nil
}

func evalOrder(l evalValue, op filter.Op, r evalValue) (bool, error) {
	if l.kind == evNull || r.kind == evNull {
		return false, nil
	}
	if l.kind != r.kind {
		return false, ErrNeedsStore
	}
	var c int
	if l.kind == evNum {
		switch {
		case l.n < r.n:
			c = -1
		case l.n > r.n:
			c = 1
		}
	} else {
		c = strings.Compare(l.s, r.s)
	}
	switch op {
	case filter.Lt:
		return c < 0, nil
	case filter.Lte:
		return c <= 0, nil
	case filter.Gt:
		return c > 0, nil
	}
	return c >= 0, nil
}

// evalLike mirrors `l LIKE pattern ESCAPE '\'` with the compiler's pattern
// rules: a bound right side goes through likePattern, a column is wrapped
// as '%' || x || '%' unescaped.
func evalLike(l, r evalValue, not bool) (bool, error) {
	if l.kind == evNull || r.kind == evNull {
		return false, nil
	}
	var pattern string
	if r.column {
		pattern = "%" + r.text() + "%"
	} else {
		pattern = likePattern(r.text())
	}
	m := likeMatch(l.text(), pattern)
	return m != not, nil
}

func (v evalValue) text() string {
	if v.kind == evNum {
		return toText(numText(v.n))
	}
	return v.s
}

// numText is how SQLite renders a numeric value as text: integral values
// without a fraction.
func numText(f float64) any {
	if f == float64(int64(f)) && f < 1<<53 && f > -(1<<53) {
		return int64(f)
	}
	return f
}

// likeMatch is SQLite's LIKE with ESCAPE '\': % and _ wildcards,
// case-insensitive for ASCII letters only.
func likeMatch(s, p string) bool {
	// Iterative matcher with backtracking on the last %.
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			pc := p[pi]
			switch {
			case pc == '%':
				starP, starS = pi, si
				pi++
				continue
			case pc == '_':
				_, size := decodeRune(s[si:])
				si += size
				pi++
				continue
			default:
				lit := pc
				litLen := 1
				if pc == '\\' && pi+1 < len(p) {
					lit = p[pi+1]
					litLen = 2
				}
				if asciiFold(lit) == asciiFold(s[si]) {
					si++
					pi += litLen
					continue
				}
			}
		}
		if starP >= 0 {
			pi = starP + 1
			_, size := decodeRune(s[starS:])
			starS += size
			si = starS
			continue
		}
		return false
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

func decodeRune(s string) (rune, int) {
	for i, r := range s {
		if i == 0 {
			n := len(string(r))
			if r == '\uFFFD' {
				n = 1
			}
			return r, n
		}
	}
	return 0, 1
}

func asciiFold(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = asciiFold(c)
	}
	return string(b)
}

func (ev *evalState) operand(o filter.Operand) (evalValue, error) {
	switch o := o.(type) {
	case *filter.Text:
		return evalValue{kind: evText, s: o.Value}, nil
	case *filter.Number:
		return evalValue{kind: evNum, n: o.Value}, nil
	case *filter.Func:
		return evalValue{}, ErrNeedsStore
	case *filter.Identifier:
		return ev.identifier(o)
	}
	return evalValue{}, fmt.Errorf("unsupported operand %T", o)
}

func (ev *evalState) identifier(id *filter.Identifier) (evalValue, error) {
	switch {
	case id.IsMacro():
		if id.Modifier != filter.ModNone {
			return evalValue{}, ErrNeedsStore
		}
		return paramValue(ev.st.macro(id.Path[0]))
	case id.IsRequest():
		return ev.request(id)
	case id.IsCollection():
		return evalValue{}, ErrNeedsStore
	}
	if len(id.Path) != 1 {
		return evalValue{}, ErrNeedsStore
	}
	f := ev.coll.Field(id.Path[0])
	if f == nil {
		switch id.Path[0] {
		case "true", "false", "null":
			if id.Modifier != filter.ModNone {
				return evalValue{}, fmt.Errorf("invalid modifier on literal %q", id.Path[0])
			}
			if id.Path[0] == "null" {
				return evalValue{}, nil
			}
			return paramValue(id.Path[0] == "true")
		}
		return evalValue{}, ErrNeedsStore
	}
	if f.Hidden && !ev.allowHidden {
		return evalValue{}, fmt.Errorf("hidden field %q", f.Name)
	}
	if f.Type == base.FieldPassword {
		return evalValue{}, ErrNeedsStore
	}
	if ev.coll.IsAuth() && f.Name == "email" && !ev.allowHidden {
		// The compiler guards it by emailVisibility; leave it to SQL.
		return evalValue{}, ErrNeedsStore
	}
	raw := ev.rec[f.Name]
	if f.Multiple() {
		if id.Modifier != filter.ModLength {
			return evalValue{}, ErrNeedsStore
		}
		return evalValue{kind: evNum, n: float64(len(toSlice(raw))), column: true}, nil
	}
	switch id.Modifier {
	case filter.ModNone, filter.ModLower:
	default:
		return evalValue{}, ErrNeedsStore
	}
	var v evalValue
	switch f.Type {
	case base.FieldJSON, base.FieldGeoPoint:
		return evalValue{}, ErrNeedsStore
	case base.FieldNumber:
		n, ok := toNumber(raw)
		if !ok {
			return evalValue{}, ErrNeedsStore
		}
		v = evalValue{kind: evNum, n: n}
	case base.FieldBool:
		b, ok := raw.(bool)
		if !ok && raw != nil {
			n, isNum := toNumber(raw)
			if !isNum {
				return evalValue{}, ErrNeedsStore
			}
			b = n != 0
		}
		v = evalValue{kind: evNum}
		if b {
			v.n = 1
		}
	default:
		switch x := raw.(type) {
		case nil:
			v = evalValue{kind: evText}
		case string:
			v = evalValue{kind: evText, s: x}
		case []string:
			if len(x) > 1 {
				return evalValue{}, ErrNeedsStore
			}
			v = evalValue{kind: evText}
			if len(x) == 1 {
				v.s = x[0]
			}
		default:
			return evalValue{}, ErrNeedsStore
		}
	}
	v.column = true
	if id.Modifier == filter.ModLower {
		if v.kind == evNum {
			// LOWER() turns a number into text.
			return evalValue{}, ErrNeedsStore
		}
		v.s = asciiLower(v.s)
	}
	return v, nil
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case interface{ Float64() (float64, error) }:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// paramValue converts a request value (bound parameter in SQL) to an
// evalValue: strings, numbers and bools (as 1/0); anything else needs SQL.
func paramValue(v any) (evalValue, error) {
	switch x := v.(type) {
	case nil:
		return evalValue{}, nil
	case string:
		return evalValue{kind: evText, s: x}, nil
	case bool:
		if x {
			return evalValue{kind: evNum, n: 1}, nil
		}
		return evalValue{kind: evNum}, nil
	}
	if n, ok := toNumber(v); ok {
		return evalValue{kind: evNum, n: n}, nil
	}
	return evalValue{}, ErrNeedsStore
}

// requestValue applies a modifier to a request value known up front, as
// the compiler's value does.
func requestValue(id *filter.Identifier, v any, exists bool) (evalValue, error) {
	switch id.Modifier {
	case filter.ModIsset:
		return paramValue(exists)
	case filter.ModNone:
	case filter.ModLower:
		v = lowerValue(v)
	default:
		return evalValue{}, ErrNeedsStore
	}
	switch v.(type) {
	case []any, map[string]any:
		return evalValue{}, ErrNeedsStore
	}
	return paramValue(v)
}

func (ev *evalState) request(id *filter.Identifier) (evalValue, error) {
	if len(id.Path) < 2 {
		return evalValue{}, fmt.Errorf("unknown request field %q", id.Raw)
	}
	req := ev.req
	switch id.Path[1] {
	case filter.ReqContext:
		c := req.Context
		if c == "" {
			c = "default"
		}
		return requestValue(id, c, true)
	case filter.ReqMethod:
		return requestValue(id, req.Method, true)
	case filter.ReqHeaders, filter.ReqQuery:
		m := req.Headers
		if id.Path[1] == filter.ReqQuery {
			m = req.Query
		}
		v, ok := m[strings.Join(id.Path[2:], ".")]
		if !ok {
			return requestValue(id, nil, false)
		}
		return requestValue(id, v, true)
	case filter.ReqBody:
		if len(req.Body) > 0 || id.Modifier == filter.ModChanged {
			return evalValue{}, ErrNeedsStore
		}
		return requestValue(id, nil, false)
	case filter.ReqAuth:
		return ev.auth(id)
	}
	return evalValue{}, fmt.Errorf("unknown request field %q", id.Raw)
}

func (ev *evalState) auth(id *filter.Identifier) (evalValue, error) {
	a := ev.req.Auth
	if a == nil {
		if id.Modifier == filter.ModIsset {
			return paramValue(false)
		}
		if id.Modifier != filter.ModNone && id.Modifier != filter.ModLower {
			return evalValue{}, ErrNeedsStore
		}
		return evalValue{}, nil
	}
	rest := id.Path[2:]
	if len(rest) == 1 {
		switch rest[0] {
		case "id":
			return requestValue(id, a.ID, true)
		case "collectionId":
			return requestValue(id, a.CollectionID, true)
		case "collectionName":
			return requestValue(id, a.CollectionName, true)
		}
	}
	if v, ok := walkValue(any(a.Claims), rest); ok {
		return requestValue(id, v, true)
	}
	var coll *base.Collection
	if ev.e.Schema != nil {
		coll = ev.e.Schema.Collection(a.CollectionName)
		if coll == nil {
			coll = ev.e.Schema.Collection(base.UsersCollection)
		}
	}
	if coll == nil || len(rest) == 0 || coll.Field(rest[0]) == nil || a.ID == "" {
		return requestValue(id, nil, false)
	}
	// A field of the caller's auth record: read it from the store.
	return evalValue{}, ErrNeedsStore
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hanzoai/base"
)

// ViewFields infers the fields of a view collection from its SELECT, as
// PocketBase does. It runs the query (with no rows) to learn its result
// columns, so an invalid query fails here. The query must select an "id"
// column. A column that is a plain column of a known collection
// ("title", "p.title AS headline") reuses that field's definition under
// the column's name; COUNT/SUM/TOTAL/AVG, numeric literals and numeric
// CASTs become number fields; text literals and text CASTs text fields;
// anything else becomes a json field.
func ViewFields(ctx context.Context, q Querier, d Dialect, query string) ([]*base.Field, error) {
	query, err := checkSelect(query)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT * FROM ("+query+") AS "+d.Quote("_view")+" LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("invalid view query: %w", err)
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, fmt.Errorf("invalid view query: %w", err)
	}
	var declared []string
	if vt, ok := d.(ViewTyper); !ok || !vt.ViewTypesFromQuery() {
		if cts, err := rows.ColumnTypes(); err == nil {
			for _, ct := range cts {
				declared = append(declared, strings.ToUpper(ct.DatabaseTypeName()))
			}
		}
	}
	rows.Close()

	collections, err := LoadCollections(ctx, q)
	if err != nil {
		return nil, err
	}
	byName := map[string]*base.Collection{}
	for _, c := range collections {
		byName[strings.ToLower(c.Name)] = c
	}
	sel := parseSelect(query)

	var fields []*base.Field
	seen := map[string]bool{}
	hasID := false
	for i, name := range cols {
		if seen[strings.ToLower(name)] {
			return nil, fmt.Errorf("invalid view query: duplicate column %q", name)
		}
		seen[strings.ToLower(name)] = true
		if name == "id" {
			hasID = true
			fields = append(fields, base.RecordIDField())
			continue
		}
		if !base.ValidName(name) {
			return nil, fmt.Errorf("invalid view query: column %q needs an alias that is a valid field name", name)
		}
		decl := ""
		if i < len(declared) {
			decl = declared[i]
		}
		f := inferField(sel, name, decl, byName)
		f.Name = name
		f.ID = base.DefaultFieldID(f.Type, name)
		f.System = false
		f.PrimaryKey = false
		fields = append(fields, f)
	}
	if !hasID {
		return nil, errors.New("invalid view query: it must select an id column")
	}
	return fields, nil
}

// ViewTyper is an optional Dialect extension. Engines that report a type
// for every result expression (PostgreSQL), where SQLite reports one only
// for plain columns, return true from ViewTypesFromQuery so ViewFields
// types view columns from the query text alone and infers the same fields
// on every engine.
type ViewTyper interface {
	ViewTypesFromQuery() bool
}

// inferField returns a fresh field for result column name.
func inferField(sel *selectInfo, name, decl string, byName map[string]*base.Collection) *base.Field {
	if sel != nil {
		if item, ok := sel.item(name); ok {
			if f := sel.sourceField(item.expr, byName); f != nil {
				return f
			}
			if t, ok := exprType(item.expr); ok {
				return &base.Field{Type: t}
			}
		} else if f := sel.starField(name, byName); f != nil {
			return f
		}
	}
	switch {
	case strings.Contains(decl, "BOOL"):
		return &base.Field{Type: base.FieldBool}
	case strings.Contains(decl, "INT"), strings.Contains(decl, "REAL"), strings.Contains(decl, "NUM"),
		strings.Contains(decl, "FLOA"), strings.Contains(decl, "DOUB"), strings.Contains(decl, "DEC"):
		return &base.Field{Type: base.FieldNumber}
	case strings.Contains(decl, "TEXT"), strings.Contains(decl, "CHAR"), strings.Contains(decl, "CLOB"):
		return &base.Field{Type: base.FieldText}
	}
	return &base.Field{Type: base.FieldJSON}
}

// exprType types an expression that is no plain column.
func exprType(expr []token) (base.FieldType, bool) {
	if len(expr) == 0 {
		return "", false
	}
	if len(expr) == 1 {
		switch expr[0].kind {
		case tkNumber:
			return base.FieldNumber, true
		case tkString:
			return base.FieldText, true
		}
		if expr[0].is("TRUE") || expr[0].is("FALSE") {
			return base.FieldBool, true
		}
	}
	if len(expr) >= 3 && expr[1].is("(") && expr[len(expr)-1].is(")") {
		switch strings.ToUpper(expr[0].text) {
		case "COUNT", "SUM", "TOTAL", "AVG":
			return base.FieldNumber, true
		case "CAST":
			// CAST(x AS type): the type is the token(s) before ")".
			for i := len(expr) - 2; i > 1; i-- {
				if expr[i].is("AS") && depthAt(expr, i) == 1 {
					t := strings.ToUpper(tokensText(expr[i+1 : len(expr)-1]))
					switch {
					case strings.Contains(t, "BOOL"):
						return base.FieldBool, true
					case strings.Contains(t, "INT"), strings.Contains(t, "REAL"), strings.Contains(t, "NUM"),
						strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"), strings.Contains(t, "DEC"):
						return base.FieldNumber, true
					case strings.Contains(t, "TEXT"), strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"):
						return base.FieldText, true
					}
					return base.FieldJSON, true
				}
			}
		}
	}
	return "", false
}

func depthAt(toks []token, i int) int {
	d := 0
	for _, t := range toks[:i] {
		switch {
		case t.is("("):
			d++
		case t.is(")"):
			d--
		}
	}
	return d
}

func tokensText(toks []token) string {
	var parts []string
	for _, t := range toks {
		parts = append(parts, t.text)
	}
	return strings.Join(parts, " ")
}

// selectInfo is the shape of the main SELECT of a view query: its result
// items and the tables its FROM clause names, by alias.
type selectInfo struct {
	items  []selectItem
	tables map[string]string // lower(alias or table) -> table
	order  []string          // table names in FROM order
}

type selectItem struct {
	expr  []token
	alias string // explicit alias, or the column name of a plain column
	star  string // "*" or "t.*" qualifier ("" for plain items); "*" for bare
}

func (s *selectInfo) item(name string) (selectItem, bool) {
	for _, it := range s.items {
		if it.star == "" && strings.EqualFold(it.alias, name) {
			return it, true
		}
	}
	return selectItem{}, false
}

// sourceField resolves [t.]col to a copy of that collection field.
func (s *selectInfo) sourceField(expr []token, byName map[string]*base.Collection) *base.Field {
	var qual, col string
	switch {
	case len(expr) == 1:
		n, ok := expr[0].ident()
		if !ok || expr[0].kind == tkWord && isKeyword(n) {
			return nil
		}
		col = n
	case len(expr) == 3 && expr[1].is("."):
		a, ok1 := expr[0].ident()
		b, ok2 := expr[2].ident()
		if !ok1 || !ok2 {
			return nil
		}
		qual, col = a, b
	default:
		return nil
	}
	var candidates []string
	if qual != "" {
		if t, ok := s.tables[strings.ToLower(qual)]; ok {
			candidates = []string{t}
		}
	} else {
		candidates = s.order
	}
	for _, t := range candidates {
		c := byName[strings.ToLower(t)]
		if c == nil {
			continue
		}
		if f := c.Field(col); f != nil {
			return cloneField(f)
		}
	}
	return nil
}

// starField resolves a column produced by "*" or "t.*".
func (s *selectInfo) starField(name string, byName map[string]*base.Collection) *base.Field {
	for _, it := range s.items {
		if it.star == "" {
			continue
		}
		tables := s.order
		if it.star != "*" {
			t, ok := s.tables[strings.ToLower(it.star)]
			if !ok {
				continue
			}
			tables = []string{t}
		}
		for _, t := range tables {
			if c := byName[strings.ToLower(t)]; c != nil {
				if f := c.Field(name); f != nil {
					return cloneField(f)
				}
			}
		}
	}
	return nil
}

func cloneField(f *base.Field) *base.Field {
	c := &base.Collection{Fields: []*base.Field{f}}
	return c.Clone().Fields[0]
}

var sqlKeywords = map[string]bool{
	"NULL": true, "END": true, "TRUE": true, "FALSE": true, "CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true,
}

func isKeyword(s string) bool { return sqlKeywords[strings.ToUpper(s)] }

// clauseEnd are keywords ending a FROM clause.
var clauseEnd = map[string]bool{
	"WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true, "WINDOW": true,
	"UNION": true, "INTERSECT": true, "EXCEPT": true, "OFFSET": true,
}

var joinWords = map[string]bool{
	"JOIN": true, "LEFT": true, "RIGHT": true, "FULL": true, "INNER": true, "OUTER": true,
	"CROSS": true, "NATURAL": true,
}

// parseSelect reads the main SELECT of query; nil when it cannot.
func parseSelect(query string) *selectInfo {
	toks, err := tokenize(query)
	if err != nil {
		return nil
	}
	// The main SELECT is the first one at depth 0 (after any WITH list).
	depth, start := 0, -1
	for i, t := range toks {
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case depth == 0 && t.is("SELECT"):
			start = i + 1
		}
		if start >= 0 {
			break
		}
	}
	if start < 0 {
		return nil
	}
	p := start
	if p < len(toks) && (toks[p].is("DISTINCT") || toks[p].is("ALL")) {
		p++
	}
	// Select items up to FROM at depth 0.
	sel := &selectInfo{tables: map[string]string{}}
	depth = 0
	itemStart := p
	from := -1
	for ; p < len(toks); p++ {
		t := toks[p]
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case depth == 0 && t.is(","):
			sel.items = append(sel.items, makeItem(toks[itemStart:p]))
			itemStart = p + 1
		case depth == 0 && (t.is("FROM") || clauseEnd[strings.ToUpper(t.text)] && t.kind == tkWord):
			from = p
		}
		if from >= 0 {
			break
		}
	}
	end := p
	if from < 0 {
		end = len(toks)
	}
	sel.items = append(sel.items, makeItem(toks[itemStart:end]))
	if from < 0 || !toks[from].is("FROM") {
		return sel
	}
	// FROM clause: table [AS] alias, separated by commas or joins.
	p = from + 1
	expectTable := true
	for p < len(toks) {
		t := toks[p]
		if t.kind == tkWord && clauseEnd[strings.ToUpper(t.text)] {
			break
		}
		switch {
		case t.is(","):
			expectTable = true
			p++
			continue
		case t.kind == tkWord && joinWords[strings.ToUpper(t.text)]:
			expectTable = true
			p++
			continue
		case t.is("ON") || t.is("USING"):
			// Skip the join condition up to the next join or clause end.
			expectTable = false
			p++
			d := 0
			for p < len(toks) {
				u := toks[p]
				if u.is("(") {
					d++
				} else if u.is(")") {
					d--
				} else if d == 0 && (u.is(",") || u.kind == tkWord && (joinWords[strings.ToUpper(u.text)] || clauseEnd[strings.ToUpper(u.text)])) {
					break
				}
				p++
			}
			continue
		}
		if !expectTable {
			p++
			continue
		}
		expectTable = false
		if t.is("(") {
			// Subquery: skip it; its alias maps to nothing.
			d := 0
			for p < len(toks) {
				if toks[p].is("(") {
					d++
				} else if toks[p].is(")") {
					d--
					if d == 0 {
						p++
						break
					}
				}
				p++
			}
			p = skipAlias(toks, p, nil, "")
			continue
		}
		name, ok := t.ident()
		if !ok {
			p++
			continue
		}
		p++
		if p+1 < len(toks) && toks[p].is(".") { // schema.table
			if n, ok := toks[p+1].ident(); ok {
				name = n
				p += 2
			}
		}
		sel.tables[strings.ToLower(name)] = name
		sel.order = append(sel.order, name)
		p = skipAlias(toks, p, sel.tables, name)
	}
	return sel
}

// skipAlias consumes "[AS] alias" at p, recording alias -> table.
func skipAlias(toks []token, p int, tables map[string]string, table string) int {
	if p < len(toks) && toks[p].is("AS") {
		p++
	}
	if p < len(toks) {
		t := toks[p]
		if n, ok := t.ident(); ok && !(t.kind == tkWord && (joinWords[strings.ToUpper(n)] || clauseEnd[strings.ToUpper(n)] || strings.EqualFold(n, "ON") || strings.EqualFold(n, "USING"))) {
			if tables != nil {
				tables[strings.ToLower(n)] = table
			}
			p++
		}
	}
	return p
}

func makeItem(toks []token) selectItem {
	n := len(toks)
	switch {
	case n == 1 && toks[0].is("*"):
		return selectItem{star: "*"}
	case n == 3 && toks[1].is(".") && toks[2].is("*"):
		q, _ := toks[0].ident()
		return selectItem{star: q}
	}
	if n >= 3 && toks[n-2].is("AS") {
		if a, ok := toks[n-1].ident(); ok {
			return selectItem{expr: toks[:n-2], alias: a}
		}
	}
	if n >= 2 {
		last, prev := toks[n-1], toks[n-2]
		if a, ok := last.ident(); ok && prev.kind != tkPunct || ok && prev.is(")") {
			if !(last.kind == tkWord && isKeyword(a)) {
				return selectItem{expr: toks[:n-1], alias: a}
			}
		}
	}
	it := selectItem{expr: toks}
	// A plain column is named after itself.
	if n == 1 {
		it.alias, _ = toks[0].ident()
	} else if n == 3 && toks[1].is(".") {
		it.alias, _ = toks[2].ident()
	}
	return it
}

// DryRunView runs query and returns up to 10 of its rows as maps, for the
// collections "dry-run view" endpoint. Byte slices are returned as strings.
func DryRunView(ctx context.Context, q Querier, d Dialect, query string) ([]map[string]any, error) {
	query, err := checkSelect(query)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT * FROM ("+query+") AS "+d.Quote("_view")+" LIMIT 10")
	if err != nil {
		return nil, fmt.Errorf("invalid view query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("invalid view query: %w", err)
	}
	out := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("dry run view: %w", err)
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				m[c] = string(b)
			} else {
				m[c] = vals[i]
			}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dry run view: %w", err)
	}
	return out, nil
}

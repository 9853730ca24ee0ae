package store

import (
	"errors"
	"fmt"
	"strings"
)

// Index is a parsed PocketBase-style index definition such as
// "CREATE UNIQUE INDEX `idx_x` ON `posts` (`slug` COLLATE NOCASE DESC) WHERE `slug` != ”".
type Index struct {
	Name   string
	Unique bool
	// Table is the table the definition names; the schema functions always
	// create the index on the collection's own table.
	Table   string
	Columns []IndexColumn
	// Where is the partial-index condition as written (original quoting),
	// or "".
	Where string

	src       string
	whereToks []token
}

// IndexColumn is one indexed column or expression.
type IndexColumn struct {
	// Name is the column name (unquoted) or, when Expr is set, the
	// expression as written.
	Name string
	// Expr reports whether Name is an expression rather than a column.
	Expr    bool
	Collate string
	// Sort is "ASC", "DESC" or "".
	Sort string

	toks []token
}

// ParseIndex parses a CREATE [UNIQUE] INDEX [IF NOT EXISTS] statement.
// Identifiers may be quoted with `backticks`, "double quotes" or [brackets].
func ParseIndex(s string) (Index, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "; \t\r\n")
	toks, err := tokenize(s)
	if err != nil {
		return Index{}, fmt.Errorf("parse index: %w", err)
	}
	idx := Index{src: s}
	p := 0
	next := func() (token, bool) {
		if p >= len(toks) {
			return token{}, false
		}
		p++
		return toks[p-1], true
	}
	expect := func(kw string) error {
		t, ok := next()
		if !ok || !t.is(kw) {
			return fmt.Errorf("parse index %q: expected %s", s, kw)
		}
		return nil
	}
	if err := expect("CREATE"); err != nil {
		return Index{}, err
	}
	if p < len(toks) && toks[p].is("UNIQUE") {
		idx.Unique = true
		p++
	}
	if err := expect("INDEX"); err != nil {
		return Index{}, err
	}
	if p+2 < len(toks) && toks[p].is("IF") && toks[p+1].is("NOT") && toks[p+2].is("EXISTS") {
		p += 3
	}
	name, err := qualifiedName(toks, &p)
	if err != nil {
		return Index{}, fmt.Errorf("parse index %q: index name: %w", s, err)
	}
	idx.Name = name
	if err := expect("ON"); err != nil {
		return Index{}, err
	}
	table, err := qualifiedName(toks, &p)
	if err != nil {
		return Index{}, fmt.Errorf("parse index %q: table name: %w", s, err)
	}
	idx.Table = table
	if err := expect("("); err != nil {
		return Index{}, err
	}
	// Collect the column list up to the matching parenthesis.
	depth := 1
	start := p
	var parts [][]token
	for ; p < len(toks); p++ {
		t := toks[p]
		if t.kind != tkPunct {
			continue
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 1 {
				parts = append(parts, toks[start:p])
				start = p + 1
			}
		}
		if depth == 0 {
			parts = append(parts, toks[start:p])
			p++
			break
		}
	}
	if depth != 0 {
		return Index{}, fmt.Errorf("parse index %q: unbalanced parentheses", s)
	}
	for _, part := range parts {
		col, err := parseIndexColumn(s, part)
		if err != nil {
			return Index{}, fmt.Errorf("parse index %q: %w", s, err)
		}
		idx.Columns = append(idx.Columns, col)
	}
	if p < len(toks) {
		if !toks[p].is("WHERE") || p+1 >= len(toks) {
			return Index{}, fmt.Errorf("parse index %q: unexpected %q", s, toks[p].text)
		}
		idx.whereToks = toks[p+1:]
		idx.Where = s[toks[p+1].pos:]
	}
	return idx, nil
}

// qualifiedName reads name or schema.name at *p and returns the name.
func qualifiedName(toks []token, p *int) (string, error) {
	if *p >= len(toks) {
		return "", errors.New("missing")
	}
	name, ok := toks[*p].ident()
	if !ok || name == "" {
		return "", fmt.Errorf("unexpected %q", toks[*p].text)
	}
	*p++
	if *p+1 < len(toks) && toks[*p].is(".") {
		n2, ok := toks[*p+1].ident()
		if !ok {
			return "", fmt.Errorf("unexpected %q", toks[*p+1].text)
		}
		name = n2
		*p += 2
	}
	return name, nil
}

func parseIndexColumn(src string, part []token) (IndexColumn, error) {
	if len(part) == 0 {
		return IndexColumn{}, errors.New("empty index column")
	}
	var col IndexColumn
	if n := len(part); part[n-1].is("ASC") || part[n-1].is("DESC") {
		col.Sort = strings.ToUpper(part[n-1].text)
		part = part[:n-1]
	}
	if n := len(part); n >= 3 && part[n-2].is("COLLATE") {
		if c, ok := part[n-1].ident(); ok {
			col.Collate = c
			part = part[:n-2]
		}
	}
	if len(part) == 0 {
		return IndexColumn{}, errors.New("empty index column")
	}
	if len(part) == 1 {
		if name, ok := part[0].ident(); ok {
			col.Name = name
			return col, nil
		}
	}
	col.Expr = true
	col.Name = src[part[0].pos:part[len(part)-1].end]
	col.toks = part
	return col, nil
}

// SQL renders the index for dialect d on table, quoting identifiers and
// re-quoting those inside expressions and the WHERE clause with d.Quote.
func (idx Index) SQL(d Dialect, table string) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if idx.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX ")
	b.WriteString(d.Quote(idx.Name))
	b.WriteString(" ON ")
	b.WriteString(d.Quote(table))
	b.WriteString(" (")
	for i, c := range idx.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.sql(idx.src, d))
	}
	b.WriteString(")")
	if idx.Where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(requote(idx.src, idx.whereToks, d.Quote))
	}
	return b.String()
}

func (c IndexColumn) sql(src string, d Dialect) string {
	var s string
	switch {
	case c.Expr && c.toks != nil:
		s = requote(src, c.toks, d.Quote)
		if !enclosed(c.toks) {
			s = "(" + s + ")"
		}
	case c.Expr:
		s = "(" + c.Name + ")"
	default:
		s = d.Quote(c.Name)
	}
	if c.Collate != "" {
		if bareWord(c.Collate) {
			s += " COLLATE " + c.Collate
		} else {
			s += " COLLATE " + d.Quote(c.Collate)
		}
	}
	if c.Sort != "" {
		s += " " + c.Sort
	}
	return s
}

// key identifies the index's definition apart from its table, so an
// unchanged index survives a collection rename.
func (idx Index) key(d Dialect) string {
	return idx.SQL(d, "")
}

// bareWord reports whether s can be written unquoted: [A-Za-z_][A-Za-z0-9_]*.
func bareWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// enclosed reports whether toks is one parenthesized group: "(" ... ")".
func enclosed(toks []token) bool {
	if len(toks) < 2 || !toks[0].is("(") || !toks[len(toks)-1].is(")") {
		return false
	}
	depth := 0
	for i, t := range toks {
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
			if depth == 0 && i != len(toks)-1 {
				return false
			}
		}
	}
	return depth == 0
}

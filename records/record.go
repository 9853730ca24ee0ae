package records

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/store"
)

// Record is one row of a collection with normalized values (see Normalize)
// keyed by field name, plus the relations expanded for a response.
type Record struct {
	Collection *base.Collection
	Data       map[string]any
	// Expand holds expanded relations: segment → *Record or []*Record. Nil
	// when no expansion was requested.
	Expand map[string]any
}

// ID returns the record's id.
func (r *Record) ID() string {
	s, _ := r.Data["id"].(string)
	return s
}

// Get returns a field's value, or its zero value when unset.
func (r *Record) Get(name string) any {
	if v, ok := r.Data[name]; ok {
		return v
	}
	if f := r.Collection.Field(name); f != nil {
		return Zero(f)
	}
	return nil
}

// storedFields are the fields with a column: everything of a base or auth
// collection; a view's fields are its columns too.
func storedFields(c *base.Collection) []*base.Field {
	return c.Fields
}

// selectList renders the quoted column list of c under alias.
func selectList(d store.Dialect, c *base.Collection, alias string) string {
	var b strings.Builder
	qa := d.Quote(alias)
	for i, f := range storedFields(c) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(qa)
		b.WriteByte('.')
		b.WriteString(d.Quote(f.Name))
	}
	return b.String()
}

// scanRecords reads every row of rows as records of c. rows must have been
// produced by a SELECT of selectList(c).
func scanRecords(rows *sql.Rows, c *base.Collection) ([]*Record, error) {
	defer rows.Close()
	fields := storedFields(c)
	dest := make([]any, len(fields))
	ptrs := make([]any, len(fields))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	var out []*Record
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("scan %s: %w", c.Name, err)
		}
		out = append(out, decodeRecord(c, fields, dest))
		clear(dest)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", c.Name, err)
	}
	return out, nil
}

// decodeRecord is the record of c whose stored fields' column values are
// vals.
func decodeRecord(c *base.Collection, fields []*base.Field, vals []any) *Record {
	data := make(map[string]any, len(fields))
	for i, f := range fields {
		data[f.Name] = Decode(f, vals[i])
	}
	return &Record{Collection: c, Data: data}
}

// sqlPart is a fragment of SQL with its bound arguments.
type sqlPart struct {
	sql  string
	args []any
}

// selectRecords reads the records of c (aliased as its name) matching every
// non-empty condition of where, followed by tail (ORDER BY, LIMIT…) and its
// arguments. op names the operation in errors.
func (s *Service) selectRecords(ctx context.Context, q store.Querier, c *base.Collection, op string, where []sqlPart, tail string, tailArgs ...any) ([]*Record, error) {
	return s.selectFrom(ctx, q, s.Dialect.Quote(c.Name), c, op, where, tail, tailArgs...)
}

// selectByID is selectRecords for conditions on ids of c and an optional
// rule condition cond (in where): without one, the statement is built-in
// SQL only and reads through store.PlainSource.
func (s *Service) selectByID(ctx context.Context, q store.Querier, c *base.Collection, cond, op string, where []sqlPart, tail string) ([]*Record, error) {
	from := s.Dialect.Quote(c.Name)
	if cond == "" {
		q, from = store.PlainSource(s.Dialect, q, c.Name)
	}
	return s.selectFrom(ctx, q, from, c, op, where, tail)
}

// selectFrom is selectRecords reading FROM from (c's table, quoted or
// schema-qualified) aliased as c's name.
func (s *Service) selectFrom(ctx context.Context, q store.Querier, from string, c *base.Collection, op string, where []sqlPart, tail string, tailArgs ...any) ([]*Record, error) {
	d := s.Dialect
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(selectList(d, c, c.Name))
	b.WriteString(" FROM ")
	b.WriteString(from)
	b.WriteString(" AS ")
	b.WriteString(d.Quote(c.Name))
	clause, args := whereClause(where)
	b.WriteString(clause)
	b.WriteString(tail)
	args = append(args, tailArgs...)
	rows, err := q.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, classify(fmt.Errorf("%s: %w", op, err))
	}
	recs, err := scanRecords(rows, c)
	return recs, classify(err)
}

// idColumn is the quoted id column of c under its own alias.
func (s *Service) idColumn(c *base.Collection) string {
	return s.Dialect.Quote(c.Name) + "." + s.Dialect.Quote("id")
}

// whereClause renders " WHERE (a) AND (b)…" for the non-empty parts of
// where, with their arguments in order; "" when there are none.
func whereClause(where []sqlPart) (string, []any) {
	var b strings.Builder
	var args []any
	for _, w := range where {
		if w.sql == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(" WHERE (")
		} else {
			b.WriteString(" AND (")
		}
		b.WriteString(w.sql)
		b.WriteByte(')')
		args = append(args, w.args...)
	}
	return b.String(), args
}

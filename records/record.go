package records

import (
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
		data := make(map[string]any, len(fields))
		for i, f := range fields {
			data[f.Name] = Decode(f, dest[i])
			dest[i] = nil
		}
		out = append(out, &Record{Collection: c, Data: data})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", c.Name, err)
	}
	return out, nil
}

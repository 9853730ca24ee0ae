package store

// Qualifier is implemented by a DB on which a statement that names every
// table with its schema, and uses only the engine's built-in SQL (no
// filter or rule compiled by package rules), runs more cheaply through
// Qualified: store/postgres then points no connection at the org's schema
// for it (no search_path to set in the pooler-safe mode) and caches its
// plan per connection on direct connections. SQLite and libSQL keep one
// database per org and do not implement it.
type Qualifier interface {
	// QualifiedTable returns table's quoted, schema-qualified name.
	QualifiedTable(table string) string
	// Qualified returns a Querier for such statements only.
	Qualified() Querier
}

// PlainSource returns the Querier to run a statement of built-in SQL only
// on and the name its FROM gives table: Qualified and QualifiedTable when
// q is a Qualifier, else q and table quoted with d.
func PlainSource(d Dialect, q Querier, table string) (Querier, string) {
	if qq, ok := q.(Qualifier); ok {
		return qq.Qualified(), qq.QualifiedTable(table)
	}
	return q, d.Quote(table)
}

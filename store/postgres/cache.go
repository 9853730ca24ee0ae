package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Direct connections (SearchPathSession) cache their reads as named
// prepared statements: PostgreSQL then parses and plans a point read once
// per connection instead of on every request, which halves its CPU time
// per read (issue 5). Named statements are session state, so the
// pooler-safe mode (SearchPathLocal, the default) keeps unnamed ones.
//
// A prepared statement resolves its tables through the search_path it was
// planned with, and PostgreSQL re-analyzes it when it runs under another
// one, failing when the result columns' types differ ("cached plan must
// not change result type"). So the cached text starts with a comment
// naming the org's search_path: each org gets statements of its own, and
// a statement only ever runs in the schema it was planned in. A column
// type change in that schema (a field changed type) still invalidates a
// cached read once per connection; it is prepared again and retried.
//
// Statements whose tables are schema-qualified (withQualified, from
// store.Qualifier: the schema version read, reads by id) need no
// search_path and no comment.
//
// Only reads outside transactions with arguments are cached, and only
// when the URL did not choose an exec mode of its own: transactions (the
// writes and DDL) keep unnamed statements.

// cached returns the cached form of a read, when c caches it.
func (c *conn) cached(ctx context.Context, query string, args []driver.NamedValue) (string, []driver.NamedValue, bool) {
	if c.mode != SearchPathSession || c.inTx || len(args) == 0 ||
		c.Conn.Conn().Config().DefaultQueryExecMode != pgx.QueryExecModeExec {
		return "", nil, false
	}
	q := rebind(query, len(args))
	if !qualifiedFrom(ctx) {
		schema := schemaFrom(ctx)
		if schema == "" || schema != c.schema || strings.Contains(schema, "*/") {
			return "", nil, false
		}
		q = "/* " + schema + " */ " + q
	}
	cargs := make([]driver.NamedValue, 0, len(args)+1)
	// pgx reads leading arguments of its option types as options.
	cargs = append(cargs, driver.NamedValue{Value: pgx.QueryExecModeCacheStatement})
	cargs = append(cargs, args...)
	return q, cargs, true
}

// isStalePlan reports the error of a prepared statement whose result
// columns changed type since it was prepared.
func isStalePlan(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "0A000" && strings.Contains(pgErr.Message, "cached plan must not change result type")
}

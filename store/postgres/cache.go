package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Hot reads run as named prepared statements: PostgreSQL then parses and
// plans a point read once per connection instead of on every request,
// which halves its CPU time per read (issue 5). Which reads qualify
// depends on the mode:
//
// Statements whose tables are schema-qualified (withQualified, from
// store.Qualifier: the schema version read, the users mirror, reads by
// id) do not depend on search_path, so they are cached in both modes.
// pgx names a cached statement after a hash of its SQL, and the SQL names
// the org's schema: a name always means the same statement in the same
// schema, whichever server session a transaction pooler routes it to, so
// it can never read another org's data.
//
// On direct connections (SearchPathSession) other reads are cached too. A
// prepared statement resolves its tables through the search_path it was
// planned with, and PostgreSQL re-analyzes it when it runs under another
// one, failing when the result columns' types differ ("cached plan must
// not change result type"). So their cached text starts with a comment
// naming the org's search_path: each org gets statements of its own, and
// a statement only ever runs in the schema it was planned in. In the
// pooler-safe mode (SearchPathLocal) they stay unnamed, pipelined behind
// their set_config (pipeline.go).
//
// A column type change in a schema (a field changed type) invalidates a
// cached read once per connection; it is prepared again and retried.
//
// Only hot reads are prepared (admit.go), only reads outside transactions
// with arguments (transactions, the writes and DDL, keep unnamed
// statements), and only when the URL did not choose an exec mode of its
// own and Config.NoStatementCache is not set (RDS Proxy pins a client to
// its server connection once it sees a named statement).
//
// A transaction pooler without prepared-statement support (PgBouncer
// before 1.21, or max_prepared_statements=0) can send a named statement
// to a server session that lacks it (26000) or already has one of that
// name (42P05). Both fail before the statement runs, so the read is
// retried unnamed and the store stops naming statements for good.

// cached returns the SQL of a read as sent unnamed (query rebound), and,
// when c is to run it as a cached named statement, that statement's text
// and arguments.
func (c *conn) cached(ctx context.Context, query string, args []driver.NamedValue) (plain, named string, cargs []driver.NamedValue) {
	plain = rebind(query, len(args))
	if !c.cn.cache || c.inTx || len(args) == 0 || c.cn.noNamed.Load() {
		return plain, "", nil
	}
	named = plain
	switch {
	case qualifiedFrom(ctx):
	case c.mode == SearchPathSession:
		schema := schemaFrom(ctx)
		if schema == "" || schema != c.schema || strings.Contains(schema, "*/") {
			return plain, "", nil
		}
		named = "/* " + schema + " */ " + plain
	default:
		return plain, "", nil
	}
	if !c.cn.admit.admit(named) {
		return plain, "", nil
	}
	cargs = make([]driver.NamedValue, 0, len(args)+1)
	// pgx reads leading arguments of its option types as options.
	cargs = append(cargs, driver.NamedValue{Value: pgx.QueryExecModeCacheStatement})
	cargs = append(cargs, args...)
	return plain, named, cargs
}

// StatementCache reports whether the store runs hot reads as named
// prepared statements. It is false when Config.NoStatementCache is set or
// the URL chose its own default_query_exec_mode, and becomes false for
// good once a read found its named statement missing (SQLSTATE 26000) or
// its name taken (42P05) on the server session, as through a transaction
// pooler without prepared-statement support.
func (s *Store) StatementCache() bool {
	return s.cn.cache && !s.cn.noNamed.Load()
}

// isStalePlan reports the error of a prepared statement whose result
// columns changed type since it was prepared.
func isStalePlan(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "0A000" && strings.Contains(pgErr.Message, "cached plan must not change result type")
}

// isLostStatement reports the errors of a named statement the server
// session does not have (invalid_sql_statement_name) or already has under
// that name (duplicate_prepared_statement): a pooler switched sessions
// under the client. Both come before the statement runs.
func isLostStatement(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "26000" || pgErr.Code == "42P05")
}

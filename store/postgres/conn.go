package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hanzoai/base/store"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// SearchPathMode says how a connection is pointed at an org's schema.
type SearchPathMode int

const (
	// SearchPathLocal sends every statement outside an explicit
	// transaction pipelined behind set_config('search_path', ..., true)
	// under one Sync (one round trip, one implicit transaction; see
	// pipeline.go), and starts explicit transactions with SET LOCAL, so no
	// session state outlives a transaction. Safe behind PgBouncer / RDS
	// Proxy in transaction mode. It is the default.
	SearchPathLocal SearchPathMode = iota
	// SearchPathSession sets search_path on the session when a pooled
	// connection is used for another schema than last time, and also
	// caches hot unqualified reads as prepared statements per org
	// (cache.go): no set_config and no re-planning per read, but only
	// correct when every connection is a real server session (no
	// transaction pooler).
	SearchPathSession
)

type ctxKey int

const (
	schemaKey ctxKey = iota
	lockKey
	qualifiedKey
)

// withQualified marks the statements run with ctx as naming every table
// with its schema and using nothing of the support schema: they need no
// search_path.
func withQualified(ctx context.Context) context.Context {
	return context.WithValue(ctx, qualifiedKey, true)
}

func qualifiedFrom(ctx context.Context) bool {
	q, _ := ctx.Value(qualifiedKey).(bool)
	return q
}

// withSchema tells the driver the search_path (rendered, quoted
// identifiers) of the statements run with ctx.
func withSchema(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, schemaKey, path)
}

// withWriteLock makes BeginTx take the transaction-scoped advisory lock
// key before returning.
func withWriteLock(ctx context.Context, key int64) context.Context {
	return context.WithValue(ctx, lockKey, key)
}

func schemaFrom(ctx context.Context) string {
	s, _ := ctx.Value(schemaKey).(string)
	return s
}

// connector wraps pgx's database/sql connector with search_path handling,
// "?" rebinding and error classification.
type connector struct {
	base driver.Connector
	mode SearchPathMode
	// cache allows named prepared statements for hot reads (cache.go):
	// not with Config.NoStatementCache or a URL choosing its own
	// default_query_exec_mode.
	cache bool
	// noNamed is set for good once a pooler lost a named statement.
	noNamed atomic.Bool
	// admit picks the hot reads, store-wide.
	admit *admission
	// exec: connections default to pgx.QueryExecModeExec (unnamed
	// statements), which the pipelined mode needs (pipeline.go).
	exec bool
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, classify(err)
	}
	pc, ok := dc.(*stdlib.Conn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("postgres: unexpected driver connection %T", dc)
	}
	return &conn{Conn: pc, mode: c.mode, cn: c}, nil
}

func (c *connector) Driver() driver.Driver { return c.base.Driver() }

// conn is one server connection. database/sql uses it from one goroutine
// at a time.
type conn struct {
	*stdlib.Conn
	cn     *connector
	mode   SearchPathMode
	schema string // session search_path (SearchPathSession)
	inTx   bool   // an explicit transaction is open
	bad    bool   // a wrapper statement failed: discard the connection
}

var (
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
)

// simple runs sql (possibly several statements, no arguments) with the
// simple query protocol and returns the last command tag.
func (c *conn) simple(ctx context.Context, sql string) (pgconn.CommandTag, error) {
	res, err := c.Conn.Conn().PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return pgconn.CommandTag{}, classify(err)
	}
	if len(res) == 0 {
		return pgconn.CommandTag{}, nil
	}
	return res[len(res)-1].CommandTag, nil
}

func setPath(path string, local bool) string {
	if local {
		return "SET LOCAL search_path TO " + path
	}
	return "SET search_path TO " + path
}

// enter prepares the connection for a statement outside an explicit
// transaction; it reports whether the caller must end an implicit
// transaction with leave.
func (c *conn) enter(ctx context.Context) (bool, error) {
	schema := schemaFrom(ctx)
	if c.inTx || schema == "" {
		return false, nil
	}
	if c.mode == SearchPathSession {
		if c.schema == schema {
			return false, nil
		}
		if _, err := c.simple(ctx, setPath(schema, false)); err != nil {
			c.bad = true
			return false, err
		}
		c.schema = schema
		return false, nil
	}
	if _, err := c.simple(ctx, "BEGIN; "+setPath(schema, true)); err != nil {
		c.bad = true
		return false, err
	}
	return true, nil
}

// leave ends the implicit transaction of a statement; failed statements
// roll back. It runs even when the statement's context is done.
func (c *conn) leave(failed bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stmt := "COMMIT"
	if failed {
		stmt = "ROLLBACK"
	}
	tag, err := c.simple(ctx, stmt)
	if err != nil {
		c.bad = true
		return err
	}
	if !failed && tag.String() == "ROLLBACK" {
		return errors.New("postgres: statement transaction rolled back")
	}
	return nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if schema, ok := c.pipelined(ctx, len(args)); ok {
		return c.queryPipelined(ctx, schema, query, args)
	}
	implicit, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	plain, named, cargs := c.cached(ctx, query, args)
	if named != "" {
		r, err := c.Conn.QueryContext(ctx, named, cargs)
		if isStalePlan(err) {
			// pgx dropped the statement on the error: prepare it again.
			r, err = c.Conn.QueryContext(ctx, named, cargs)
		}
		switch {
		case isLostStatement(err):
			// A pooler without prepared-statement support: the read did
			// not run; run it unnamed, and never name statements again.
			c.cn.noNamed.Store(true)
		case err != nil:
			return nil, classify(err)
		default:
			return &rows{rowsImpl: r.(rowsImpl), c: c}, nil
		}
	}
	r, err := c.Conn.QueryContext(ctx, plain, args)
	if err != nil {
		if implicit {
			c.leave(true)
		}
		return nil, classify(err)
	}
	return &rows{rowsImpl: r.(rowsImpl), c: c, implicit: implicit}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if schema, ok := c.pipelined(ctx, len(args)); ok {
		return c.execPipelined(ctx, schema, query, args)
	}
	implicit, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.Conn.ExecContext(ctx, rebind(query, len(args)), args)
	if implicit {
		if lerr := c.leave(err != nil); err == nil && lerr != nil {
			return nil, lerr
		}
	}
	if err != nil {
		return nil, classify(err)
	}
	return res, nil
}

// PrepareContext is used by database/sql only for explicit Prepare calls;
// search_path then follows the surrounding transaction or session.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, rebind(query, strings.Count(query, "?")))
	return st, classify(err)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.inTx {
		return nil, errors.New("postgres: transaction already open")
	}
	var b strings.Builder
	b.WriteString("BEGIN")
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelRepeatableRead:
		b.WriteString(" ISOLATION LEVEL REPEATABLE READ")
	case sql.LevelSerializable:
		b.WriteString(" ISOLATION LEVEL SERIALIZABLE")
	case sql.LevelReadCommitted:
		b.WriteString(" ISOLATION LEVEL READ COMMITTED")
	default:
		return nil, fmt.Errorf("postgres: unsupported isolation level %d", opts.Isolation)
	}
	if opts.ReadOnly {
		b.WriteString(" READ ONLY")
	}
	if schema := schemaFrom(ctx); schema != "" {
		b.WriteString("; " + setPath(schema, true))
	}
	if key, ok := ctx.Value(lockKey).(int64); ok {
		b.WriteString("; SELECT pg_advisory_xact_lock(" + strconv.FormatInt(key, 10) + ")")
	}
	if _, err := c.simple(ctx, b.String()); err != nil {
		// The BEGIN may have gone through before a lock wait was
		// cancelled: never hand the connection back inside a transaction.
		c.bad = true
		if ctx.Err() != nil {
			return nil, fmt.Errorf("begin: %w", errors.Join(ctx.Err(), err))
		}
		return nil, err
	}
	c.inTx = true
	return &tx{c: c}, nil
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) IsValid() bool { return !c.bad && !c.inTx && !c.Conn.Conn().IsClosed() }

func (c *conn) ResetSession(ctx context.Context) error {
	if c.bad || c.inTx {
		return driver.ErrBadConn
	}
	return c.Conn.ResetSession(ctx)
}

// tx is an explicit transaction started by BeginTx.
type tx struct {
	c    *conn
	done bool
}

func (t *tx) end(stmt string) error {
	if t.done {
		return errors.New("postgres: transaction already finished")
	}
	t.done = true
	t.c.inTx = false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tag, err := t.c.simple(ctx, stmt)
	if err != nil {
		t.c.bad = true
		return err
	}
	if stmt == "COMMIT" && tag.String() == "ROLLBACK" {
		return errors.New("postgres: commit: the transaction had failed and was rolled back")
	}
	return nil
}

func (t *tx) Commit() error   { return t.end("COMMIT") }
func (t *tx) Rollback() error { return t.end("ROLLBACK") }

// rowsImpl is what stdlib returns from QueryContext.
type rowsImpl interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// rows normalizes values the way SQLite returns them (integral numbers
// as int64) and ends the statement's implicit transaction on Close.
type rows struct {
	rowsImpl
	c        *conn
	implicit bool
	kinds    []byte // per column: 'f' float8/float4, 'n' numeric, 0 other
	closed   bool
	failed   bool
}

func (r *rows) Next(dest []driver.Value) error {
	if r.kinds == nil {
		cols := r.rowsImpl.Columns()
		r.kinds = make([]byte, len(cols))
		for i := range cols {
			switch r.rowsImpl.ColumnTypeDatabaseTypeName(i) {
			case "FLOAT8", "FLOAT4":
				r.kinds[i] = 'f'
			case "NUMERIC":
				r.kinds[i] = 'n'
			}
		}
	}
	err := r.rowsImpl.Next(dest)
	if err != nil {
		if err != io.EOF {
			r.failed = true
			return classify(err)
		}
		return err
	}
	for i, k := range r.kinds {
		switch k {
		case 'f':
			if f, ok := dest[i].(float64); ok {
				dest[i] = numeric(f)
			}
		case 'n':
			if s, ok := dest[i].(string); ok {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					dest[i] = n
				} else if f, err := strconv.ParseFloat(s, 64); err == nil {
					dest[i] = numeric(f)
				}
			}
		}
	}
	return nil
}

// numeric returns f as int64 when it is integral and exactly
// representable, as SQLite's NUMERIC affinity stores such values.
func numeric(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.rowsImpl.Close()
	if r.implicit {
		if lerr := r.c.leave(err != nil || r.failed); err == nil {
			err = lerr
		}
	}
	return classify(err)
}

// rebind turns the n "?" placeholders of query into $1..$n and SQLite's
// `a IS b` / `a IS NOT b` (b not NULL, TRUE, FALSE, ...) into
// IS [NOT] DISTINCT FROM, leaving string literals, quoted identifiers,
// dollar-quoted strings and comments alone.
func rebind(query string, n int) string {
	// COMMENT ON ... IS 'text' is the one statement whose IS takes a
	// value.
	lower := strings.ToLower(query)
	rewrite := (strings.Contains(lower, "is") || strings.Contains(lower, "asc") || strings.Contains(lower, "desc")) &&
		!hasPrefixFold(strings.TrimSpace(query), "COMMENT")
	if (n == 0 || !strings.Contains(query, "?")) && !rewrite {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 2*n)
	arg := 0
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'' || ch == '"':
			j := skipQuoted(query, i, ch, ch == '\'' && i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i < 2 || !isIdentChar(query[i-2])))
			b.WriteString(query[i:j])
			i = j - 1
		case ch == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case ch == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end - 1
		case ch == '$' && (i == 0 || !isIdentChar(query[i-1])):
			if tag, ok := dollarTag(query[i:]); ok {
				j := strings.Index(query[i+len(tag):], tag)
				end := len(query)
				if j >= 0 {
					end = i + len(tag) + j + len(tag)
				}
				b.WriteString(query[i:end])
				i = end - 1
				continue
			}
			b.WriteByte(ch)
		case rewrite && isIdentStart(ch) && (i == 0 || !isIdentChar(query[i-1])):
			j := i
			for j < len(query) && isIdentChar(query[j]) {
				j++
			}
			w := query[i:j]
			switch {
			case strings.EqualFold(w, "IS"):
				if repl, end, ok := rewriteIS(query, i); ok {
					b.WriteString(repl)
					i = end - 1
					continue
				}
			case strings.EqualFold(w, "ASC") || strings.EqualFold(w, "DESC"):
				// SQLite sorts NULL first ascending and last descending.
				if next, _, _ := nextWord(query, j); next != "NULLS" {
					b.WriteString(w)
					if len(w) == 3 {
						b.WriteString(" NULLS FIRST")
					} else {
						b.WriteString(" NULLS LAST")
					}
					i = j - 1
					continue
				}
			}
			b.WriteString(w)
			i = j - 1
		case ch == '?' && n > 0:
			arg++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(arg))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// isOperands are the words after IS (or IS NOT) that PostgreSQL's IS
// already means.
var isOperands = map[string]bool{"NULL": true, "TRUE": true, "FALSE": true, "UNKNOWN": true,
	"DISTINCT": true, "OF": true, "NORMALIZED": true, "JSON": true, "DOCUMENT": true,
	"NFC": true, "NFD": true, "NFKC": true, "NFKD": true}

// rewriteIS rewrites the IS at i when it compares two values: it returns
// the replacement and the index just past the replaced words.
func rewriteIS(s string, i int) (string, int, bool) {
	if i+2 > len(s) || !strings.EqualFold(s[i:i+2], "IS") || i+2 < len(s) && isIdentChar(s[i+2]) {
		return "", 0, false
	}
	word := func(j int) (string, int, int) { return nextWord(s, j) }
	w1, _, end1 := word(i + 2)
	switch {
	case isOperands[w1]:
		return "", 0, false
	case w1 == "NOT":
		w2, _, _ := word(end1)
		if isOperands[w2] {
			return "", 0, false
		}
		return "IS DISTINCT FROM", end1, true
	}
	return "IS NOT DISTINCT FROM", i + 2, true
}

// nextWord returns the upper-cased keyword after spaces from j, with its
// start and end ("" when the next token is no plain word).
func nextWord(s string, j int) (string, int, int) {
	for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
		j++
	}
	k := j
	for k < len(s) && (s[k] == '_' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= 'A' && s[k] <= 'Z') {
		k++
	}
	if k < len(s) && isIdentChar(s[k]) { // an identifier with digits: not a keyword
		return "", j, j
	}
	return strings.ToUpper(s[j:k]), j, k
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// skipQuoted returns the index just past the quoted run starting at i.
// Doubled quotes escape; backslash escapes only in E” strings.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// dollarTag returns the opening tag ($$ or $name$) at the start of s.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9':
		default:
			return "", false
		}
	}
	return "", false
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// unavailable marks an error as store.ErrUnavailable while keeping the
// original in the chain (database/sql still sees driver.ErrBadConn).
type unavailable struct{ err error }

func (e *unavailable) Error() string { return "store unavailable: " + e.err.Error() }
func (e *unavailable) Unwrap() []error {
	return []error{store.ErrUnavailable, e.err}
}

// classify wraps errors caused by the server being unreachable, shutting
// down or refusing connections in store.ErrUnavailable.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if isUnavailable(err) {
		return &unavailable{err}
	}
	return err
}

func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, cannot connect now
			pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne) && !ne.Timeout(),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset")
}

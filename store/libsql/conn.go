package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/hanzoai/base/store"
)

// connector wraps libsql-client-go's connector so that every error of a
// statement, whatever database/sql entry point ran it (QueryRowContext
// included, whose error only surfaces at Scan), is classified: transport
// failures and a restarted server's answers wrap store.ErrUnavailable.
type connector struct{ base driver.Connector }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, classify(err)
	}
	return &conn{dc}, nil
}

func (c connector) Driver() driver.Driver { return c.base.Driver() }

// conn classifies the errors of a driver connection. The client's HTTP and
// WebSocket connections both implement the context interfaces used here.
type conn struct{ driver.Conn }

var (
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
)

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := ec.ExecContext(ctx, query, args)
	return r, classify(err)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := qc.QueryContext(ctx, query, args)
	return r, classify(err)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		st  driver.Stmt
		err error
	)
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, classify(err)
	}
	return &stmt{st}, nil
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if bc, ok := c.Conn.(driver.ConnBeginTx); ok {
		t, err := bc.BeginTx(ctx, opts)
		return t, classify(err)
	}
	t, err := c.Conn.Begin() //nolint:staticcheck // fallback for drivers without BeginTx
	return t, classify(err)
}

func (c *conn) ResetSession(ctx context.Context) error {
	if sr, ok := c.Conn.(driver.SessionResetter); ok {
		return sr.ResetSession(ctx)
	}
	return nil
}

// stmt classifies the errors of a prepared statement.
type stmt struct{ driver.Stmt }

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("libsql: statement without ExecContext")
	}
	r, err := ec.ExecContext(ctx, args)
	return r, classify(err)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errors.New("libsql: statement without QueryContext")
	}
	r, err := qc.QueryContext(ctx, args)
	return r, classify(err)
}

// unavailable marks an error as store.ErrUnavailable while keeping the
// original in the chain (database/sql still sees driver.ErrBadConn).
type unavailable struct{ err error }

func (e *unavailable) Error() string   { return "store unavailable: " + e.err.Error() }
func (e *unavailable) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }

// classify wraps store.ErrUnavailable around errors that mean the server
// cannot be reached or lost the stream the statement ran on, so the handler
// answers 503 rather than 500 or 400.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if isUnavailable(err) {
		return &unavailable{err}
	}
	return err
}

// unavailableText are fragments of the messages libsql-client-go builds
// from transport failures and from sqld's answers when it is starting,
// stopping or no longer knows a stream (after a restart its batons are
// gone). The client reports these as plain strings, sometimes wrapped in
// "failed to execute SQL", so the text is all there is to go on.
var unavailableText = []string{
	"connection refused", "connection reset", "broken pipe", "use of closed network connection",
	"server closed", "unexpected eof",
	"error code 502", "error code 503", "error code 504",
	"stream_expired", "stream is closed", "invalid baton",
	// sqld failing a whole request (HTTP 500, not a statement's error),
	// e.g. out of file descriptors: SQLITE_CANTOPEN, which store/sqlite
	// also reports as unavailable.
	"error code 500", "unable to open database file", "too many open files",
}

func isUnavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	msg := strings.ToLower(err.Error())
	// sqld with --max-active-namespaces evicts namespaces under churn and
	// can answer 404 "Namespace `x` doesn't exist" for one it created a
	// moment ago (seen in bench/cmd/orgs); a retry finds it again.
	if strings.Contains(msg, "namespace") && strings.Contains(msg, "doesn't exist") {
		return true
	}
	for _, s := range unavailableText {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

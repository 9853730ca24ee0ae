package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The pooler-safe mode (SearchPathLocal) points a statement that runs
// outside an explicit transaction at its org's schema in ONE round trip:
// pgx sends, in one write and under one Sync,
//
//	SELECT set_config('search_path', $1, true)   -- transaction-local
//	<the statement>
//
// The extended protocol runs every message up to a Sync in one implicit
// transaction, so the search_path lasts exactly as long as the statement
// (nothing outlives the Sync: a transaction pooler may hand the server
// connection to another client right after) and a failed statement rolls
// the transaction back. This replaced BEGIN; SET LOCAL / statement /
// COMMIT, three round trips, which made point reads 4.8× slower than
// SQLite's (issue 5).
//
// It needs the exec query mode (unnamed statements, Open's default): in
// the statement-caching modes pgx prepares the statement in a round trip
// of its own before the batch, when the search_path is not yet set. Other
// modes, and statements without arguments (which may hold several
// statements, only possible with the simple protocol), keep the three
// round trips.

// pipelined reports whether c runs query outside a transaction as one
// pipelined round trip.
func (c *conn) pipelined(ctx context.Context, nargs int) (string, bool) {
	if c.mode != SearchPathLocal || c.inTx || nargs == 0 {
		return "", false
	}
	schema := schemaFrom(ctx)
	if schema == "" || !c.cn.exec {
		return "", false
	}
	return schema, true
}

const setPathSQL = "SELECT set_config('search_path', $1, true)"

func namedArgs(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// sendPipelined sends set_config and query as one batch and reads the
// set_config result; the caller reads query's result from the returned
// batch and closes it.
func (c *conn) sendPipelined(ctx context.Context, schema, query string, args []driver.NamedValue) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue(setPathSQL, schema)
	b.Queue(rebind(query, len(args)), namedArgs(args)...)
	br := c.Conn.Conn().SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		c.checkConn(err)
		return nil, classify(err)
	}
	return br, nil
}

// checkConn marks c bad when err left the connection unusable or in an
// unknown state (anything but a server error, after which the server
// connection is idle again once the batch is read to its end).
func (c *conn) checkConn(err error) {
	var pgErr *pgconn.PgError
	if err != nil && (!errors.As(err, &pgErr) || c.Conn.Conn().IsClosed()) {
		c.bad = true
	}
}

func (c *conn) queryPipelined(ctx context.Context, schema, query string, args []driver.NamedValue) (driver.Rows, error) {
	br, err := c.sendPipelined(ctx, schema, query, args)
	if err != nil {
		return nil, err
	}
	rs, err := br.Query()
	if err == nil {
		// Preload the first row: errors of the statement arrive with it,
		// and database/sql wants the columns before Next.
		more := rs.Next()
		if err = rs.Err(); err == nil {
			return &pgxRows{rs: rs, br: br, c: c, m: c.Conn.Conn().TypeMap(), preloaded: true, more: more}, nil
		}
		rs.Close()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	c.checkConn(err)
	return nil, classify(err)
}

func (c *conn) execPipelined(ctx context.Context, schema, query string, args []driver.NamedValue) (driver.Result, error) {
	br, err := c.sendPipelined(ctx, schema, query, args)
	if err != nil {
		return nil, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.checkConn(err)
		return nil, classify(err)
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

// pgxRows adapts the pgx rows of a pipelined statement to database/sql,
// with the values database/sql gets from pgx's stdlib driver (and the
// SQLite-like number normalization of rows).
type pgxRows struct {
	rs        pgx.Rows
	br        pgx.BatchResults
	c         *conn
	m         *pgtype.Map
	funcs     []func([]byte) (driver.Value, error)
	kinds     []byte
	preloaded bool
	more      bool
	closed    bool
}

var (
	_ driver.Rows                           = (*pgxRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*pgxRows)(nil)
)

func (r *pgxRows) Columns() []string {
	fds := r.rs.FieldDescriptions()
	out := make([]string, len(fds))
	for i, fd := range fds {
		out[i] = fd.Name
	}
	return out
}

// ColumnTypeDatabaseTypeName is the upper-case type name, as stdlib's.
func (r *pgxRows) ColumnTypeDatabaseTypeName(i int) string {
	oid := r.rs.FieldDescriptions()[i].DataTypeOID
	if t, ok := r.m.TypeForOID(oid); ok {
		return strings.ToUpper(t.Name)
	}
	return strconv.FormatInt(int64(oid), 10)
}

func (r *pgxRows) init() {
	fds := r.rs.FieldDescriptions()
	r.funcs = make([]func([]byte) (driver.Value, error), len(fds))
	r.kinds = make([]byte, len(fds))
	for i, fd := range fds {
		r.funcs[i] = valueFunc(r.m, fd.DataTypeOID, fd.Format)
		switch fd.DataTypeOID {
		case pgtype.Float4OID, pgtype.Float8OID:
			r.kinds[i] = 'f'
		case pgtype.NumericOID:
			r.kinds[i] = 'n'
		}
	}
}

// valueFunc decodes a column of type oid into a driver.Value.
func valueFunc(m *pgtype.Map, oid uint32, format int16) func([]byte) (driver.Value, error) {
	switch oid {
	case pgtype.BoolOID:
		return scanAs[bool](m, oid, format, nil)
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		return scanAs[[]byte](m, oid, format, nil)
	case pgtype.Float4OID:
		return scanAs(m, oid, format, func(f float32) driver.Value { return float64(f) })
	case pgtype.Float8OID:
		return scanAs[float64](m, oid, format, nil)
	case pgtype.Int2OID:
		return scanAs(m, oid, format, func(n int16) driver.Value { return int64(n) })
	case pgtype.Int4OID:
		return scanAs(m, oid, format, func(n int32) driver.Value { return int64(n) })
	case pgtype.Int8OID:
		return scanAs[int64](m, oid, format, nil)
	case pgtype.DateOID:
		return scanValuer[pgtype.Date](m, oid, format)
	case pgtype.TimestampOID:
		return scanValuer[pgtype.Timestamp](m, oid, format)
	case pgtype.TimestamptzOID:
		return scanValuer[pgtype.Timestamptz](m, oid, format)
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		return scanValuer[pgtype.Uint32](m, oid, format)
	}
	return scanAs[string](m, oid, format, nil)
}

func scanAs[T any](m *pgtype.Map, oid uint32, format int16, conv func(T) driver.Value) func([]byte) (driver.Value, error) {
	var d T
	plan := m.PlanScan(oid, format, &d)
	return func(src []byte) (driver.Value, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		if conv != nil {
			return conv(d), nil
		}
		return d, nil
	}
}

func scanValuer[T any, P interface {
	*T
	driver.Valuer
}](m *pgtype.Map, oid uint32, format int16) func([]byte) (driver.Value, error) {
	var d T
	plan := m.PlanScan(oid, format, &d)
	return func(src []byte) (driver.Value, error) {
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return P(&d).Value()
	}
}

func (r *pgxRows) Next(dest []driver.Value) error {
	if r.funcs == nil {
		r.init()
	}
	more := r.more
	if r.preloaded {
		r.preloaded = false
	} else {
		more = r.rs.Next()
	}
	if !more {
		if err := r.rs.Err(); err != nil {
			return classify(err)
		}
		return io.EOF
	}
	for i, raw := range r.rs.RawValues() {
		if raw == nil {
			dest[i] = nil
			continue
		}
		v, err := r.funcs[i](raw)
		if err != nil {
			return fmt.Errorf("convert column %d: %w", i, err)
		}
		switch r.kinds[i] {
		case 'f':
			if f, ok := v.(float64); ok {
				v = numeric(f)
			}
		case 'n':
			if s, ok := v.(string); ok {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					v = n
				} else if f, err := strconv.ParseFloat(s, 64); err == nil {
					v = numeric(f)
				}
			}
		}
		dest[i] = v
	}
	return nil
}

// Close reads the statement to its end and the batch to its Sync, so the
// connection is idle (and the implicit transaction over) when database/sql
// takes it back.
func (r *pgxRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.rs.Close()
	err := r.rs.Err()
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.c.checkConn(err)
	}
	return classify(err)
}

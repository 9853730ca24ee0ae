package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"github.com/hanzoai/base/store"
)

// db is one Acquire of an org.
type db struct {
	s    *Store
	e    *store.Handle[*handle]
	h    *handle // e.Value
	once sync.Once
}

var _ store.DB = (*db)(nil)

func (d *db) Org() string            { return d.h.org }
func (d *db) Dialect() store.Dialect { return store.SQLite }

func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.h.db.QueryContext(ctx, query, args...)
}

func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.h.db.QueryRowContext(ctx, query, args...)
}

func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.h.db.ExecContext(ctx, query, args...)
}

// Begin waits (up to ctx) for the org's writer slot and starts BEGIN
// IMMEDIATE on one Hrana stream.
func (d *db) Begin(ctx context.Context) (store.Tx, error) {
	select {
	case d.h.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("begin %q: %w", d.h.org, ctx.Err())
	}
	tx, err := beginImmediate(ctx, d.h.db, func() { <-d.h.wsem })
	if err != nil {
		<-d.h.wsem
		return nil, fmt.Errorf("begin %q: %w", d.h.org, classify(err))
	}
	return tx, nil
}

func (d *db) Release() { d.once.Do(func() { d.s.pool.Release(d.e) }) }

// tx is a transaction on one pinned connection (one Hrana stream).
type tx struct {
	c       *sql.Conn
	release func()
	done    bool
}

func beginImmediate(ctx context.Context, d *sql.DB, release func()) (*tx, error) {
	for attempt := 0; ; attempt++ {
		c, err := d.Conn(ctx)
		if err != nil {
			return nil, err
		}
		_, err = c.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil {
			return &tx{c: c, release: release}, nil
		}
		discard(c)
		// The org's handle is open, so its namespace exists: a refusal
		// saying otherwise is sqld's eviction race (see missingRetries),
		// retried on a new connection.
		if attempt == len(missingRetries) || !isMissingNamespace(err) || !pause(ctx, missingRetries[attempt]) {
			return nil, err
		}
	}
}

// discard closes c and drops its stream from the pool.
func discard(c *sql.Conn) {
	c.Raw(func(any) error { return driver.ErrBadConn })
	c.Close()
}

func (t *tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.c.QueryContext(ctx, query, args...)
}

func (t *tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.c.QueryRowContext(ctx, query, args...)
}

func (t *tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.c.ExecContext(ctx, query, args...)
}

func (t *tx) end(stmt string) error {
	if t.done {
		return errors.New("libsql: transaction already finished")
	}
	t.done = true
	if t.release != nil {
		defer t.release()
	}
	_, err := t.c.ExecContext(context.Background(), stmt)
	if err != nil {
		discard(t.c)
		return fmt.Errorf("%s: %w", stmt, classify(err))
	}
	return t.c.Close()
}

func (t *tx) Commit() error   { return t.end("COMMIT") }
func (t *tx) Rollback() error { return t.end("ROLLBACK") }

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hanzoai/base/store"
)

// db is one acquisition of an org handle.
type db struct {
	s        *Store
	e        *store.Handle[*handle]
	h        *handle // e.Value
	released atomic.Bool
}

var _ store.DB = (*db)(nil)

func (d *db) Org() string { return d.h.org }

func (d *db) Dialect() store.Dialect { return store.SQLite }

// QueryContext reads through the org's read pool.
func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, done, err := d.h.rst.get(ctx, query)
	if err != nil {
		return nil, mapErr(err)
	}
	rows, err := st.QueryContext(ctx, args...)
	done()
	if err != nil {
		return nil, mapErr(err)
	}
	return rows, nil
}

// QueryRowContext reads one row through the org's read pool.
func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, done, err := d.h.rst.get(ctx, query)
	if err != nil {
		// Unpreparable: let database/sql report the same error in the Row.
		return d.h.r.QueryRowContext(ctx, query, args...)
	}
	defer done()
	return st.QueryRowContext(ctx, args...)
}

// ExecContext runs one statement in its own write transaction (BEGIN
// IMMEDIATE, so another process's commit cannot invalidate it midway),
// serialized with Begin.
func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, err := d.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return res, nil
}

// Begin waits (up to ctx) for the org's writer and starts BEGIN IMMEDIATE.
// The transaction keeps the handle open until Commit or Rollback.
func (d *db) Begin(ctx context.Context) (store.Tx, error) {
	select {
	case d.h.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("begin on %q: %w", d.h.org, ctx.Err())
	}
	d.s.pool.Retain(d.e)
	tx, err := d.h.w.BeginTx(ctx, nil)
	if err != nil {
		<-d.h.wsem
		d.s.pool.Release(d.e)
		return nil, fmt.Errorf("begin on %q: %w", d.h.org, mapErr(err))
	}
	return &txn{Tx: tx, s: d.s, e: d.e, h: d.h}, nil
}

// Release returns the handle; later calls are no-ops.
func (d *db) Release() {
	if d.released.CompareAndSwap(false, true) {
		d.s.pool.Release(d.e)
	}
}

// txn is a write transaction holding the org's writer.
type txn struct {
	*sql.Tx
	s    *Store
	e    *store.Handle[*handle]
	h    *handle
	once sync.Once
}

var _ store.Tx = (*txn)(nil)

func (t *txn) finish() {
	t.once.Do(func() {
		<-t.h.wsem
		t.s.pool.Release(t.e)
	})
}

// stmt returns the writer's cached statement for query, bound to t. The
// statement is prepared on the writer pool (its spare connection while t
// holds the other) and on t's connection the first time it runs there.
//
// It returns nil for statements that are not cached: schema changes, and
// statements that do not prepare outside t (they reference tables t itself
// created); those run directly on t.
func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	if !cacheable(query) {
		return nil
	}
	st, done, err := t.h.wst.get(ctx, query)
	if err != nil {
		return nil
	}
	// The transaction's statement holds its own reference to the prepared
	// statement (closed with the transaction); the cache entry may go.
	defer done()
	return t.Tx.StmtContext(ctx, st)
}

func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if st := t.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = t.Tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return res, nil
}

func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := t.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = t.Tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return rows, nil
}

// Commit commits and releases the writer.
func (t *txn) Commit() error {
	defer t.finish()
	if err := t.Tx.Commit(); err != nil {
		return fmt.Errorf("commit on %q: %w", t.h.org, mapErr(err))
	}
	return nil
}

// Rollback rolls back and releases the writer; after Commit it returns
// sql.ErrTxDone.
func (t *txn) Rollback() error {
	defer t.finish()
	return t.Tx.Rollback()
}

// QueryRowContext reads one row inside the transaction.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

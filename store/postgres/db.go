package postgres

import (
	"context"
	"database/sql"
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

var (
	_ store.DB        = (*db)(nil)
	_ store.Qualifier = (*db)(nil)
)

func (d *db) ctx(ctx context.Context) context.Context { return withSchema(ctx, d.h.path) }

func (d *db) Org() string { return d.h.org }

func (d *db) Dialect() store.Dialect { return Dialect }

// QueryContext runs a read in the org's schema.
func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.s.db.QueryContext(d.ctx(ctx), query, args...)
}

// QueryRowContext runs a one-row read in the org's schema.
func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.s.db.QueryRowContext(d.ctx(ctx), query, args...)
}

// QualifiedTable implements store.Qualifier.
func (d *db) QualifiedTable(table string) string {
	return quoteIdent(d.h.schema) + "." + quoteIdent(table)
}

// Qualified implements store.Qualifier: its statements run without the
// org's search_path (see withQualified), so the pooler-safe mode sends
// no set_config before them, and hot ones are cached as named prepared
// statements in both modes (cache.go).
func (d *db) Qualified() store.Querier { return qualified{d} }

// qualified runs schema-qualified statements of built-in SQL.
type qualified struct{ d *db }

func (q qualified) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.d.s.db.QueryContext(withQualified(ctx), query, args...)
}

func (q qualified) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return q.d.s.db.QueryRowContext(withQualified(ctx), query, args...)
}

func (q qualified) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.d.s.db.ExecContext(withQualified(ctx), query, args...)
}

// ExecContext runs one statement in its own transaction.
func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.s.db.ExecContext(d.ctx(ctx), query, args...)
}

// Begin starts a write transaction: it waits (up to ctx) for the org's
// in-process writer slot, then for the org's advisory lock, so writers
// to one org are serialized across processes.
func (d *db) Begin(ctx context.Context) (store.Tx, error) {
	select {
	case d.h.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("begin %q: %w", d.h.org, ctx.Err())
	}
	tx, err := d.s.db.BeginTx(withWriteLock(d.ctx(ctx), d.h.lockKey), nil)
	if err != nil {
		<-d.h.wsem
		if errors.Is(err, sql.ErrConnDone) || d.s.isClosed() {
			return nil, fmt.Errorf("begin %q: %w", d.h.org, store.ErrClosed)
		}
		return nil, fmt.Errorf("begin %q: %w", d.h.org, classify(err))
	}
	return &sqlTx{tx: tx, release: func() { <-d.h.wsem }}, nil
}

func (d *db) Release() { d.once.Do(func() { d.s.handles.Release(d.e) }) }

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// sqlTx adapts *sql.Tx to store.Tx and frees the writer slot once.
type sqlTx struct {
	tx      *sql.Tx
	release func()
	once    sync.Once
}

func (t *sqlTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *sqlTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t *sqlTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *sqlTx) done() {
	if t.release != nil {
		t.once.Do(t.release)
	}
}

func (t *sqlTx) Commit() error {
	defer t.done()
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

func (t *sqlTx) Rollback() error {
	defer t.done()
	return t.tx.Rollback()
}

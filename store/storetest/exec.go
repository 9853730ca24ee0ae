package storetest

import (
	"context"
	"testing"

	"github.com/hanzoai/base/store"
)

// ExecTx runs query in a write transaction of db and commits it, failing
// tb on any error: the set-up step (create a table, insert a row) of
// driver tests.
func ExecTx(tb testing.TB, db store.DB, query string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		tx.Rollback()
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

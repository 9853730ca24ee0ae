package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
)

// reltuples is the planner's row estimate of table in org's schema: -1
// until the table is first analyzed (or vacuumed).
func reltuples(tb testing.TB, s *postgres.Store, org, table string) float64 {
	tb.Helper()
	schema, err := s.Schema(org)
	if err != nil {
		tb.Fatal(err)
	}
	var n float64
	err = s.DB().QueryRowContext(context.Background(), `SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ? AND c.relname = ?`, schema, table).Scan(&n)
	if err != nil {
		tb.Fatalf("reltuples of %s.%s: %v", schema, table, err)
	}
	return n
}

func fillNotes(tb testing.TB, s *postgres.Store, org string, n int) {
	tb.Helper()
	ctx := context.Background()
	db, err := s.Acquire(ctx, org)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Release()
	tx, err := db.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT)`); err != nil {
		tb.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, ?::int) g`, n); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestOptimizeAnalyzesOrgSchemas: the optimize job ANALYZEs the tables of
// every org schema of its store (the planner's estimates appear), and
// leaves another store's schemas on the same server alone.
func TestOptimizeAnalyzesOrgSchemas(t *testing.T) {
	url := testsrv.PostgresURL(t)
	s := newStore(t, url, postgres.SearchPathLocal)
	defer s.Close()
	other := newStore(t, url, postgres.SearchPathLocal)
	defer other.Close()
	fillNotes(t, s, "acme", 120)
	fillNotes(t, s, "globex", 30)
	fillNotes(t, other, "acme", 10)
	for _, tc := range []struct {
		s   *postgres.Store
		org string
	}{{s, "acme"}, {s, "globex"}, {other, "acme"}} {
		if n := reltuples(t, tc.s, tc.org, "notes"); n != -1 {
			t.Fatalf("%s: reltuples %v before ANALYZE, want -1 (never analyzed); the test proves nothing", tc.org, n)
		}
	}

	j, ok := jobs.StoreOptimize(s)
	if !ok {
		t.Fatal("*postgres.Store does not implement jobs.Optimizer")
	}
	reg := jobs.NewRegistry(nil)
	if err := reg.Add(j); err != nil {
		t.Fatal(err)
	}
	if err := reg.Run(t.Context(), jobs.StoreOptimizeID); err != nil {
		t.Fatalf("optimize: %v", err)
	}
	if n := reltuples(t, s, "acme", "notes"); n != 120 {
		t.Errorf("acme.notes reltuples = %v after Optimize, want 120", n)
	}
	if n := reltuples(t, s, "globex", "notes"); n != 30 {
		t.Errorf("globex.notes reltuples = %v after Optimize, want 30", n)
	}
	if n := reltuples(t, s, "acme", "users"); n != 0 {
		t.Errorf("acme.users reltuples = %v after Optimize, want 0 (analyzed, empty)", n)
	}
	if n := reltuples(t, other, "acme", "notes"); n != -1 {
		t.Errorf("another store's schema was analyzed (reltuples %v)", n)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Optimize(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Optimize after Close = %v, want ErrClosed", err)
	}
}

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/store/sqlite"
)

// walSize is the size of org's -wal file (0 when it does not exist).
func walSize(tb testing.TB, s *sqlite.Store, org string) int64 {
	tb.Helper()
	p, err := s.Path(org)
	if err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(p + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// writeRows inserts n rows into a table of org's database, releasing it.
func writeRows(tb testing.TB, s *sqlite.Store, org string, n int) {
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
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (body) VALUES (?)`, strings.Repeat("x", 200)+string(rune('a'+i%26))); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestOptimizeCheckpointsWAL: after writes the WAL holds pages; Optimize
// checkpoints them into the database and truncates the WAL to 0 bytes,
// for open orgs and for orgs only present on disk, and leaves no org open
// that was not open before. The data is all there afterwards.
func TestOptimizeCheckpointsWAL(t *testing.T) {
	dir := t.TempDir()
	// A "previous process" wrote org "cold" and is gone: its file is on
	// disk, the store below never opened it.
	prev, err := sqlite.Open(sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	writeRows(t, prev, "cold", 10)
	if err := prev.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(sqlite.Config{Dir: dir, IdleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	writeRows(t, s, "hot", 500)
	writeRows(t, s, "warm", 50)
	for _, org := range []string{"hot", "warm"} {
		if n := walSize(t, s, org); n == 0 {
			t.Fatalf("%s: WAL is empty after writes; the test proves nothing", org)
		}
	}
	if n := s.OpenHandles(); n != 2 {
		t.Fatalf("%d open handles before Optimize, want 2", n)
	}

	// Through the job, as every trigger runs it.
	j, ok := jobs.StoreOptimize(s)
	if !ok {
		t.Fatal("*sqlite.Store does not implement jobs.Optimizer")
	}
	reg := jobs.NewRegistry(nil)
	if err := reg.Add(j); err != nil {
		t.Fatal(err)
	}
	if err := reg.Run(t.Context(), jobs.StoreOptimizeID); err != nil {
		t.Fatalf("optimize: %v", err)
	}
	for _, org := range []string{"hot", "warm", "cold"} {
		if n := walSize(t, s, org); n != 0 {
			t.Errorf("%s: WAL is %d bytes after Optimize, want 0", org, n)
		}
	}
	if n := s.OpenHandles(); n != 2 {
		t.Errorf("%d open handles after Optimize, want 2 (cold closed again)", n)
	}
	// The data survived the checkpoint: read it from the database file
	// alone, with a fresh store.
	fresh, err := sqlite.Open(sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for org, want := range map[string]int{"hot": 500, "warm": 50, "cold": 10} {
		db, err := fresh.Acquire(t.Context(), org)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM notes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Release()
		if n != want {
			t.Errorf("%s has %d rows, want %d", org, n, want)
		}
	}
	// Writes after a checkpoint start a new WAL, and the store still works.
	writeRows(t, s, "hot", 1)
	if n := walSize(t, s, "hot"); n == 0 {
		t.Error("no WAL after a write following Optimize")
	}
}

// TestOptimizeSkipsStrayFiles: files that are not org databases are left
// alone, and a cancelled ctx stops the run.
func TestOptimizeSkipsStrayFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeRows(t, s, "acme", 1)
	for _, name := range []string{"notes.txt", "Bad Name.db", "acme.db-journal"} {
		if err := os.WriteFile(filepath.Join(dir, "orgs", name), []byte("not a database"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Optimize(t.Context()); err != nil {
		t.Fatalf("Optimize with stray files: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Optimize(ctx); err == nil {
		t.Error("Optimize with a cancelled ctx succeeded")
	}
}

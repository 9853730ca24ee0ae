package sqlite_test

import (
	"fmt"
	"sync"
	"testing"
)

// TestCachedStatements runs more distinct reads than the statement cache
// holds, concurrently, and across a schema change, checking every result:
// cached statements must never answer for another text, another argument
// or a stale schema.
func TestCachedStatements(t *testing.T) {
	s := openStore(t, t.TempDir(), 0)
	ctx := t.Context()
	db, err := s.Acquire(ctx, "cache")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// 150 distinct texts (more than the cache keeps), each run with two
	// arguments, from 8 goroutines at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				q := fmt.Sprintf("SELECT v, %d FROM t WHERE id = ?", i)
				id := (i + g) % 200
				var v string
				var n int
				if err := db.QueryRowContext(ctx, q, id).Scan(&v, &n); err != nil {
					errs <- fmt.Errorf("%s (%d): %w", q, id, err)
					return
				}
				if v != fmt.Sprint("v", id) || n != i {
					errs <- fmt.Errorf("%s (%d) = %q, %d", q, id, v, n)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// A statement cached before a schema change sees the new schema.
	const star = "SELECT * FROM t WHERE id = ?"
	cols := func() []string {
		rows, err := db.QueryContext(ctx, star, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, _ := rows.Columns()
		return c
	}
	if got := cols(); len(got) != 2 {
		t.Fatalf("columns before = %v", got)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	if got := cols(); len(got) != 3 || got[2] != "w" {
		t.Fatalf("columns after ALTER = %v, want [id v w]", got)
	}
	// A text that does not prepare is an error, every time (not cached).
	for i := 0; i < 2; i++ {
		if _, err := db.QueryContext(ctx, "SELECT nope FROM t"); err == nil {
			t.Fatal("bad SQL succeeded")
		}
	}
}

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hanzoai/base"

	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/sqlite"
	"github.com/hanzoai/base/store/storetest"
)

func openStore(tb testing.TB, dir string, maxOpen int) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(sqlite.Config{Dir: dir, MaxOpen: maxOpen})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openStore(t, t.TempDir(), 32)
	})
}

func acquire(tb testing.TB, s *sqlite.Store, org string) store.DB {
	tb.Helper()
	db, err := s.Acquire(context.Background(), org)
	if err != nil {
		tb.Fatalf("Acquire(%q): %v", org, err)
	}
	return db
}

func users(tb testing.TB, db store.DB) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM "users"`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func insertUser(db store.DB, id string) error {
	tx, err := db.Begin(context.Background())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(context.Background(), `INSERT INTO "users" ("id", "sub") VALUES (?, ?)`, id, "sub-"+id); err != nil {
		return err
	}
	return tx.Commit()
}

// TestTwoStoresOneDir simulates two processes sharing a data directory:
// both race to create the same new orgs and then write to them at once.
func TestTwoStoresOneDir(t *testing.T) {
	dir := t.TempDir()
	a, b := openStore(t, dir, 8), openStore(t, dir, 8)
	const orgs, writers, each = 6, 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*orgs*writers*each)
	for i := range orgs {
		org := fmt.Sprintf("shared%d", i)
		for si, s := range []*sqlite.Store{a, b} {
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := s.Acquire(context.Background(), org)
					if err != nil {
						errs <- err
						return
					}
					defer db.Release()
					for k := range each {
						if err := insertUser(db, fmt.Sprintf("s%dw%dk%d", si, w, k)); err != nil {
							errs <- fmt.Errorf("%s: %w", org, err)
						}
					}
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range orgs {
		org := fmt.Sprintf("shared%d", i)
		for _, s := range []*sqlite.Store{a, b} {
			db := acquire(t, s, org)
			if n := users(t, db); n != 2*writers*each {
				t.Errorf("%s: %d users, want %d", org, n, 2*writers*each)
			}
			cs, err := store.LoadCollections(t.Context(), db)
			if err != nil || len(cs) != 1 {
				t.Errorf("%s: collections %d, %v (bootstrap ran twice?)", org, len(cs), err)
			}
			db.Release()
		}
	}
	// A schema change by one instance is visible to the other through
	// the schema version.
	da, db := acquire(t, a, "shared0"), acquire(t, b, "shared0")
	defer da.Release()
	defer db.Release()
	v0, err := store.SchemaVersion(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := da.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := &base.Collection{ID: "x", Name: "notes", Type: base.TypeBase, Fields: []*base.Field{base.RecordIDField()}}
	if err := store.CreateCollection(t.Context(), tx, da.Dialect(), c); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, _ := store.SchemaVersion(t.Context(), db); v != v0+1 {
		t.Errorf("other instance sees schema version %d, want %d", v, v0+1)
	}
}

func TestLRUBoundsOpenHandles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 16)
	fds0 := openFDs(t)
	for i := range 200 {
		db := acquire(t, s, fmt.Sprintf("o%d", i))
		if err := insertUser(db, "u"); err != nil {
			t.Fatal(err)
		}
		db.Release()
		if n := s.OpenHandles(); n > 16 {
			t.Fatalf("after %d orgs: %d open handles, cap 16", i+1, n)
		}
	}
	if fds0 >= 0 {
		// 16 handles x (writer + readers) x (db, wal, shm) at most, once
		// the background closes of evicted handles are done.
		limit := 16 * 3 * (1 + sqlite.DefaultReaders)
		deadline := time.Now().Add(5 * time.Second)
		for openFDs(t)-fds0 > limit && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if grown := openFDs(t) - fds0; grown > limit {
			t.Errorf("%d more open files after 200 orgs, limit %d", grown, limit)
		}
	}
	// Acquired handles are never evicted, even beyond the cap.
	var held []store.DB
	for i := range 40 {
		held = append(held, acquire(t, s, fmt.Sprintf("o%d", i)))
	}
	if n := s.OpenHandles(); n < 40 {
		t.Errorf("%d open handles while 40 are acquired", n)
	}
	for _, db := range held {
		if users(t, db) != 1 {
			t.Errorf("%s lost its data", db.Org())
		}
		db.Release()
	}
	if n := s.OpenHandles(); n > 16 {
		t.Errorf("%d open handles after release, cap 16", n)
	}
}

func openFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func TestIdleTimeoutClosesHandles(t *testing.T) {
	s, err := sqlite.Open(sqlite.Config{Dir: t.TempDir(), IdleTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held := acquire(t, s, "held")
	defer held.Release()
	acquire(t, s, "idle").Release()
	deadline := time.Now().Add(5 * time.Second)
	for s.OpenHandles() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.OpenHandles(); n != 1 {
		t.Fatalf("open handles = %d, want 1 (the held one)", n)
	}
	if users(t, held) != 0 {
		t.Error("held handle unusable")
	}
	// The idle org reopens with its data.
	db := acquire(t, s, "idle")
	defer db.Release()
	if err := insertUser(db, "x"); err != nil {
		t.Fatal(err)
	}
}

func TestFilesAndPragmas(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	db := acquire(t, s, "acme")
	defer db.Release()
	p := filepath.Join(dir, "orgs", "acme.db")
	if got, err := s.Path("acme"); err != nil || got != p {
		t.Errorf("Path = %q, %v; want %q", got, err, p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "0", "synchronous": "1"} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	if _, err := s.Path("../x"); err == nil {
		t.Error("Path accepted ../x")
	}
	// Reads go through a read-only pool: writes there fail loudly.
	if _, err := db.QueryContext(t.Context(), `INSERT INTO "users" ("id") VALUES ('q')`); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

func TestUnavailable(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 4)
	// A directory where the org file should be: the engine cannot open it.
	if err := os.Mkdir(filepath.Join(dir, "orgs", "broken.db"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := s.Acquire(t.Context(), "broken")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Acquire(broken) = %v, want ErrUnavailable", err)
	}
	// The failure is not cached.
	if err := os.Remove(filepath.Join(dir, "orgs", "broken.db")); err != nil {
		t.Fatal(err)
	}
	acquire(t, s, "broken").Release()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(t.Context(), "broken"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
}

func TestConcurrentColdAcquire(t *testing.T) {
	s := openStore(t, t.TempDir(), 4)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := s.Acquire(context.Background(), "cold")
			if err != nil {
				errs <- err
				return
			}
			db.Release()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	db := acquire(t, s, "cold")
	defer db.Release()
	cs, err := store.LoadCollections(t.Context(), db)
	if err != nil || len(cs) != 1 {
		t.Fatalf("collections = %d, %v", len(cs), err)
	}
}

// BenchmarkAcquireCold measures the first Acquire of an existing org file
// whose handle is closed: MaxOpen 1 and two alternating orgs evict the
// other org on every Release.
func BenchmarkAcquireCold(b *testing.B) {
	s := openStore(b, b.TempDir(), 1)
	orgs := []string{"cold-a", "cold-b"}
	for _, o := range orgs {
		acquire(b, s, o).Release()
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		db := acquire(b, s, orgs[i%2])
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT 1`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		db.Release()
	}
}

// BenchmarkAcquireWarm measures Acquire/Release of an open org.
func BenchmarkAcquireWarm(b *testing.B) {
	s := openStore(b, b.TempDir(), 4)
	acquire(b, s, "warm").Release()
	for b.Loop() {
		acquire(b, s, "warm").Release()
	}
}

// BenchmarkInsert measures one single-row insert through Begin/Commit.
func BenchmarkInsert(b *testing.B) {
	s := openStore(b, b.TempDir(), 4)
	db := acquire(b, s, "bench")
	defer db.Release()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		tx, err := db.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO "users" ("id", "sub") VALUES (?, ?)`, fmt.Sprint("u", i), fmt.Sprint("s", i)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

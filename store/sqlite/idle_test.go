package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/store/sqlite"
	"github.com/hanzoai/base/store/storetest"
)

// orgFDs counts this process's open file descriptors on files of dir's
// orgs (the database, its -wal and -shm), from /proc/self/fd.
func orgFDs(tb testing.TB, orgsDir string) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, orgsDir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// TestIdleOrgsHoldNoFiles uses several orgs (reads, writes, prepared
// statements), lets them go idle, and checks that once IdleTimeout passes
// no file descriptor of any org file remains open.
func TestIdleOrgsHoldNoFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(sqlite.Config{Dir: dir, IdleTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	orgsDir, err := filepath.Abs(filepath.Join(dir, "orgs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, org := range []string{"acme", "globex", "initech"} {
		db := acquire(t, s, org)
		storetest.ExecTx(t, db, `INSERT INTO "users" ("id", "sub") VALUES (?, ?)`, "u"+org, "s"+org)
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "users" WHERE "sub" = ?`, "s"+org).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: count = %d, %v", org, n, err)
		}
		db.Release()
	}
	if n := orgFDs(t, orgsDir); n == 0 {
		t.Fatal("no org file open right after use: the fd count cannot see them")
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.OpenHandles() > 0 || orgFDs(t, orgsDir) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the idle timeout: %d handles, %d org files still open", s.OpenHandles(), orgFDs(t, orgsDir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And the orgs come back on demand.
	db := acquire(t, s, "acme")
	defer db.Release()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "users"`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("acme after reopen: %d, %v", n, err)
	}
}

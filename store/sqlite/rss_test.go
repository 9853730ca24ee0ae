package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/sqlite"
)

// vmRSS returns this process's VmRSS in KiB.
func vmRSS(tb testing.TB) int64 {
	tb.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	tb.Fatal("VmRSS not found")
	return 0
}

// BenchmarkHandleMemory reports the resident memory an open, idle org
// handle costs after a typical first request (schema version, catalogue,
// one users lookup): RSS and Go heap per handle, with 200 handles open.
func BenchmarkHandleMemory(b *testing.B) {
	const n = 200
	dir := b.TempDir()
	ctx := context.Background()
	s0, err := sqlite.Open(sqlite.Config{Dir: dir, MaxOpen: n})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		db, err := s0.Acquire(ctx, fmt.Sprintf("org%04d", i))
		if err != nil {
			b.Fatal(err)
		}
		db.Release()
	}
	s0.Close()
	for b.Loop() {
		s, err := sqlite.Open(sqlite.Config{Dir: dir, MaxOpen: n, IdleTimeout: -1})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		r0 := vmRSS(b)
		for i := range n {
			db, err := s.Acquire(ctx, fmt.Sprintf("org%04d", i))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := store.SchemaVersion(ctx, db); err != nil {
				b.Fatal(err)
			}
			if _, err := store.LoadCollections(ctx, db); err != nil {
				b.Fatal(err)
			}
			var c int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "users" WHERE "id" = ?`, "x").Scan(&c); err != nil {
				b.Fatal(err)
			}
			db.Release()
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		r1 := vmRSS(b)
		b.ReportMetric(float64(r1-r0)/n, "rss-KiB/handle")
		b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/1024/n, "heap-KiB/handle")
		s.Close()
		runtime.GC()
		debug.FreeOSMemory()
		b.ReportMetric(float64(vmRSS(b)-r0)/n, "rss-after-close-KiB/handle")
	}
}

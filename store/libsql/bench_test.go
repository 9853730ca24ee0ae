package libsql_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store/libsql"
)

// BenchmarkColdAcquire measures the first Acquire of never-seen orgs
// (namespace creation and bootstrap) and of existing orgs on a fresh
// store (an open and one PRAGMA), against a real sqld with namespaces.
// BASE_BENCH_ORGS sets the org count (default 300).
func BenchmarkColdAcquire(b *testing.B) {
	srv := testsrv.SQLD(b, true)
	n := 300
	if v, err := strconv.Atoi(os.Getenv("BASE_BENCH_ORGS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		url := fmt.Sprintf("http://b%d-{org}.sqld.test:%s", time.Now().UnixNano()%100000, portOf(srv.Addr))
		create := coldRun(b, url, srv, n)
		reopen := coldRun(b, url, srv, n)
		b.ReportMetric(pct(create, 50), "create-p50-ms")
		b.ReportMetric(pct(create, 99), "create-p99-ms")
		b.ReportMetric(pct(reopen, 50), "cold-p50-ms")
		b.ReportMetric(pct(reopen, 99), "cold-p99-ms")
	}
}

func coldRun(b *testing.B, url string, srv *testsrv.Sqld, n int) []time.Duration {
	s, err := libsql.Open(libsql.Config{URL: url, Proxy: "http://" + srv.Addr, AdminURL: srv.AdminURL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	out := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		db, err := s.Acquire(ctx, fmt.Sprintf("org%05d", i))
		if err != nil {
			b.Fatal(err)
		}
		var v string
		if err := db.QueryRowContext(ctx, `SELECT "value" FROM "_meta" WHERE "key" = 'schema_version'`).Scan(&v); err != nil {
			b.Fatal(err)
		}
		out[i] = time.Since(start)
		db.Release()
	}
	return out
}

func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i].Microseconds()) / 1000
}

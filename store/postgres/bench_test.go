package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store/postgres"
)

// BenchmarkColdAcquire measures the first Acquire of never-seen orgs
// (schema creation and bootstrap) and of orgs that exist but that this
// instance has not seen (a fresh store: one catalogue query). Set
// BASE_BENCH_ORGS for the org count (default 1000).
func BenchmarkColdAcquire(b *testing.B) {
	url := os.Getenv("BASE_TEST_PG_URL")
	if url == "" {
		url = testsrv.Postgres(b).URL
	}
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("BASE_BENCH_ORGS")); err == nil && v > 0 {
		n = v
	}
	prefix := fmt.Sprintf("b%d_", time.Now().UnixNano()%100000)
	for b.Loop() {
		create := coldRun(b, url, prefix, n)
		reopen := coldRun(b, url, prefix, n)
		b.ReportMetric(pct(create, 50), "create-p50-ms")
		b.ReportMetric(pct(create, 99), "create-p99-ms")
		b.ReportMetric(pct(reopen, 50), "cold-p50-ms")
		b.ReportMetric(pct(reopen, 99), "cold-p99-ms")
	}
}

func coldRun(b *testing.B, url, prefix string, n int) []time.Duration {
	s, err := postgres.Open(postgres.Config{URL: url, SchemaPrefix: prefix})
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

package storetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hanzoai/base/store"
)

// BenchColdAcquire is a driver's BenchmarkColdAcquire: the first Acquire
// (and one read) of n never-seen orgs on a store open returns, then of the
// same orgs again on a second store (existing but cold), reported as p50
// and p99 in milliseconds. namespace is called once per iteration and
// returns an opener of stores on orgs no earlier iteration used (a fresh
// schema prefix, URL template, ...). BASE_BENCH_ORGS overrides n.
func BenchColdAcquire(b *testing.B, n int, namespace func() func() (store.Store, error)) {
	if v, err := strconv.Atoi(os.Getenv("BASE_BENCH_ORGS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		o := namespace()
		create := coldRun(b, o, n)
		reopen := coldRun(b, o, n)
		b.ReportMetric(percentile(create, 50), "create-p50-ms")
		b.ReportMetric(percentile(create, 99), "create-p99-ms")
		b.ReportMetric(percentile(reopen, 50), "cold-p50-ms")
		b.ReportMetric(percentile(reopen, 99), "cold-p99-ms")
	}
}

func coldRun(b *testing.B, open func() (store.Store, error), n int) []time.Duration {
	s, err := open()
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

func percentile(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i].Microseconds()) / 1000
}

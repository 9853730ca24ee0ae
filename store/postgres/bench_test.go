package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/storetest"
)

// BenchmarkColdAcquire measures the first Acquire of never-seen orgs
// (schema creation and bootstrap) and of orgs that exist but that this
// instance has not seen (a fresh store: one catalogue query). Set
// BASE_BENCH_ORGS for the org count (default 1000).
func BenchmarkColdAcquire(b *testing.B) {
	url := testsrv.PostgresURL(b)
	storetest.BenchColdAcquire(b, 1000, func() func() (store.Store, error) {
		prefix := fmt.Sprintf("b%d_", time.Now().UnixNano()%100000)
		return func() (store.Store, error) { return postgres.Open(postgres.Config{URL: url, SchemaPrefix: prefix}) }
	})
}

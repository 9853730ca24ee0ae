package libsql_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/libsql"
	"github.com/hanzoai/base/store/storetest"
)

// BenchmarkColdAcquire measures the first Acquire of never-seen orgs
// (namespace creation and bootstrap) and of existing orgs on a fresh
// store (an open and one PRAGMA), against a real sqld with namespaces.
// BASE_BENCH_ORGS sets the org count (default 300).
func BenchmarkColdAcquire(b *testing.B) {
	srv := testsrv.SQLD(b, true)
	storetest.BenchColdAcquire(b, 300, func() func() (store.Store, error) {
		url := fmt.Sprintf("http://b%d-{org}.sqld.test:%s", time.Now().UnixNano()%100000, portOf(srv.Addr))
		return func() (store.Store, error) {
			return libsql.Open(libsql.Config{URL: url, Proxy: "http://" + srv.Addr, AdminURL: srv.AdminURL})
		}
	})
}

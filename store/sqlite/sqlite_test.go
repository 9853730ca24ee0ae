package sqlite_test

import (
	"testing"

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

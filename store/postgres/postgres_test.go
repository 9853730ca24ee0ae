package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/storetest"
)

var prefixes atomic.Int64

// newStore opens a store with a fresh schema prefix, so stores on one
// server are as isolated as separate databases.
func newStore(t *testing.T, url string, mode postgres.SearchPathMode) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(postgres.Config{URL: url, SchemaPrefix: fmt.Sprintf("t%d_", prefixes.Add(1)), SearchPath: mode})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	url := testsrv.PostgresURL(t)
	for _, mode := range []struct {
		name string
		mode postgres.SearchPathMode
	}{{"local", postgres.SearchPathLocal}, {"session", postgres.SearchPathSession}} {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, url, mode.mode) })
		})
	}
}

package libsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/libsql"
	"github.com/hanzoai/base/store/storetest"
	libsqlclient "github.com/tursodatabase/libsql-client-go/libsql"
)

var stores atomic.Int64

// newStore opens a store whose orgs live in namespaces "t<n>-<org>" of
// srv, so stores sharing one sqld start empty.
func newStore(t testing.TB, srv *testsrv.Sqld, scheme string) *libsql.Store {
	t.Helper()
	n := stores.Add(1)
	cfg := libsql.Config{
		URL:      fmt.Sprintf("%s://t%d-{org}.sqld.test:%s", scheme, n, portOf(srv.Addr)),
		Proxy:    "http://" + srv.Addr,
		AdminURL: srv.AdminURL,
	}
	if scheme == "libsql" {
		cfg.URL += "?tls=0"
	}
	s, err := libsql.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return ""
}

func TestConformance(t *testing.T) {
	srv := testsrv.SQLD(t, true)
	for _, scheme := range []string{"http", "libsql"} {
		t.Run(scheme, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, srv, scheme) })
		})
	}
}

// TestWebSocket checks Hrana over ws:// against a single-database sqld
// (namespaced ws:// needs the org hostnames to resolve).
func TestWebSocket(t *testing.T) {
	srv := testsrv.SQLD(t, false)
	c, err := libsqlclient.NewConnector("ws://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	d := sql.OpenDB(c)
	defer d.Close()
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY, n NUMERIC)`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO t VALUES (?, ?)`, "a", 42); err != nil {
		t.Fatal(err)
	}
	var n any
	if err := d.QueryRowContext(ctx, `SELECT n FROM t WHERE id = ?`, "a").Scan(&n); err != nil || n != int64(42) {
		t.Fatalf("n = %#v, %v", n, err)
	}
}

func TestOpenRequiresTemplate(t *testing.T) {
	if _, err := libsql.Open(libsql.Config{URL: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("URL without {org} accepted")
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

package libsql_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/libsql"
	"github.com/hanzoai/base/store/storetest"
)

// missingProxy stands between the store and sqld and answers the next
// Fail requests as sqld does for a namespace it has just evicted:
// HTTP 404 "Namespace `x` doesn't exist".
type missingProxy struct {
	Fail, Refused atomic.Int32
	URL           string
}

func startMissingProxy(t *testing.T, sqldAddr string) *missingProxy {
	t.Helper()
	target, err := url.Parse("http://" + sqldAddr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the Host header sqld routes by
	p := &missingProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Fail.Add(-1) >= 0 {
			p.Refused.Add(1)
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "Namespace `x` doesn't exist")
			return
		}
		p.Fail.Store(0)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// refuse makes the proxy refuse the next n requests and returns how many
// it refused since the last call.
func (p *missingProxy) refuse(n int32) int32 {
	r := p.Refused.Swap(0)
	p.Fail.Store(n)
	return r
}

// TestMissingNamespaceRetried: sqld with --max-active-namespaces can
// answer 404 "Namespace `x` doesn't exist" for a namespace it has (its
// eviction race; 1-3% of requests at 10,000 orgs in bench/cmd/orgs).
// Once the namespace is known to exist, a statement outside a
// transaction, and a BEGIN, are retried and succeed, a write running
// exactly once; a statement inside a transaction is not retried; and
// refusals that outlast the retries are store.ErrUnavailable (503).
func TestMissingNamespaceRetried(t *testing.T) {
	srv := testsrv.SQLD(t, true)
	p := startMissingProxy(t, srv.Addr)
	s, err := libsql.Open(libsql.Config{
		URL:      "http://{org}.sqld.test:" + portOf(srv.Addr),
		Proxy:    p.URL,
		AdminURL: srv.AdminURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	db, err := s.Acquire(ctx, "evicted")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	storetest.ExecTx(t, db, `CREATE TABLE "items" ("id" TEXT PRIMARY KEY NOT NULL)`)
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "items"`).Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}

	p.refuse(2)
	if n := count(); n != 0 {
		t.Fatalf("%d items, want 0", n)
	}
	if r := p.refuse(2); r != 2 {
		t.Fatalf("read: %d requests refused, want 2", r)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO "items" ("id") VALUES ('a')`); err != nil {
		t.Fatalf("write refused twice: %v", err)
	}
	if r := p.refuse(0); r != 2 {
		t.Fatalf("write: %d requests refused, want 2", r)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d items after one retried insert, want 1", n)
	}

	p.refuse(100)
	var n int
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "items"`).Scan(&n)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("read refused for good: %v, want store.ErrUnavailable", err)
	}
	if r := p.refuse(0); r < 2 || r > 8 {
		t.Fatalf("read refused for good: %d attempts, want a few", r)
	}

	p.refuse(1)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatalf("begin refused once: %v", err)
	}
	if r := p.refuse(1); r != 1 {
		t.Fatalf("begin: %d requests refused, want 1", r)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO "items" ("id") VALUES ('b')`); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("statement in a transaction refused once: %v, want store.ErrUnavailable, not retried", err)
	}
	tx.Rollback()
	if r := p.refuse(0); r != 1 {
		t.Fatalf("transaction statement: %d requests refused, want 1", r)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d items, want 1", n)
	}
}

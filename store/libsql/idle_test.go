package libsql_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store/libsql"
)

// sqldGauge reads one gauge from sqld's admin /metrics.
func sqldGauge(tb testing.TB, adminURL, name string) int {
	tb.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			return int(n)
		}
	}
	return 0 // sqld omits a gauge it never set
}

// TestIdleOrgsHoldNothing: an libSQL org holds nothing on the server
// between requests. The store keeps no idle Hrana stream (each statement's
// stream is closed when its connection returns to the pool), so sqld's
// open stream count is back to zero once the requests are done; the
// handles themselves (a *sql.DB each, no sockets of their own: HTTP
// keep-alive connections are shared by every org) close after
// IdleTimeout.
func TestIdleOrgsHoldNothing(t *testing.T) {
	srv := testsrv.SQLD(t, true)
	s, err := libsql.Open(libsql.Config{
		URL:         fmt.Sprintf("http://i%d-{org}.sqld.test:%s", stores.Add(1), portOf(srv.Addr)),
		Proxy:       "http://" + srv.Addr,
		AdminURL:    srv.AdminURL,
		IdleTimeout: 150 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, org := range []string{"acme", "globex", "initech"} {
		db, err := s.Acquire(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO "users" ("id", "sub") VALUES (?, ?)`, "u"+org, "s"+org); err != nil {
			t.Fatal(err)
		}
		if n := sqldGauge(t, srv.AdminURL, "libsql_server_stream_handles"); n < 1 {
			t.Fatalf("open transaction: sqld reports %d streams; the gauge cannot see ours", n)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "users"`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: count = %d, %v", org, n, err)
		}
		db.Release()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		streams := sqldGauge(t, srv.AdminURL, "libsql_server_stream_handles")
		if streams == 0 && s.OpenHandles() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the idle timeout: %d open streams on sqld, %d handles", streams, s.OpenHandles())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package libsql_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/libsql"
	"github.com/hanzoai/base/store/storetest"
)

// TestServerRestart kills sqld (SIGKILL) while writers and readers run,
// starts it again on the same address, and checks that every failure in
// between wraps store.ErrUnavailable, that the same Store recovers, and
// that every acknowledged commit survived.
func TestServerRestart(t *testing.T) {
	srv := testsrv.SQLD(t, true)
	s, err := libsql.Open(libsql.Config{
		URL:      fmt.Sprintf("http://{org}.sqld.test:%s", portOf(srv.Addr)),
		Proxy:    "http://" + srv.Addr,
		AdminURL: srv.AdminURL,
		// A short client timeout so requests to the dead server fail
		// quickly rather than hanging the test.
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	orgs := []string{"acme", "globex"}
	for _, org := range orgs {
		db, err := s.Acquire(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		storetest.ExecTx(t, db, `CREATE TABLE "items" ("id" TEXT PRIMARY KEY NOT NULL, "n" NUMERIC NOT NULL DEFAULT 0)`)
		db.Release()
	}

	var (
		mu         sync.Mutex
		acked      = map[string][]string{} // org → ids whose COMMIT succeeded
		bad        []string
		failed     atomic.Int64
		seq        atomic.Int64
		stop       = make(chan struct{})
		wg         sync.WaitGroup
		restarted  atomic.Bool
		ackedAfter atomic.Int64
	)
	check := func(op string, err error) bool {
		if err == nil {
			return true
		}
		failed.Add(1)
		if !errors.Is(err, store.ErrUnavailable) {
			mu.Lock()
			bad = append(bad, fmt.Sprintf("%s: %v", op, err))
			mu.Unlock()
		}
		return false
	}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				org := orgs[(w+i)%len(orgs)]
				db, err := s.Acquire(ctx, org)
				if !check("acquire", err) {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if w%3 == 2 { // a reader
					var n int
					check("count", db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "items"`).Scan(&n))
					db.Release()
					continue
				}
				id := fmt.Sprintf("r%014d", seq.Add(1))
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				tx, err := db.Begin(rctx)
				if check("begin", err) {
					_, err = tx.ExecContext(rctx, `INSERT INTO "items" ("id", "n") VALUES (?, ?)`, id, i)
					if check("insert", err) {
						if check("commit", tx.Commit()) {
							mu.Lock()
							acked[org] = append(acked[org], id)
							if restarted.Load() {
								ackedAfter.Add(1)
							}
							mu.Unlock()
						}
					} else {
						tx.Rollback()
					}
				}
				cancel()
				db.Release()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	srv.Crash()
	time.Sleep(700 * time.Millisecond)
	failedWhileDown := failed.Load()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted.Store(true)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	if failedWhileDown == 0 {
		t.Fatal("no operation failed while sqld was down: the fault was not exercised")
	}
	if len(bad) > 0 {
		t.Errorf("%d errors did not wrap store.ErrUnavailable, e.g. %v", len(bad), bad[:min(len(bad), 5)])
	}
	total := 0
	for _, org := range orgs {
		total += len(acked[org])
		db, err := s.Acquire(ctx, org)
		if err != nil {
			t.Fatalf("acquire %s after restart: %v", org, err)
		}
		have := map[string]bool{}
		rows, err := db.QueryContext(ctx, `SELECT "id" FROM "items"`)
		if err != nil {
			t.Fatalf("%s: list after restart: %v", org, err)
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			have[id] = true
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		var lost []string
		for _, id := range acked[org] {
			if !have[id] {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			t.Errorf("%s: %d acknowledged writes lost, e.g. %v", org, len(lost), lost[:min(len(lost), 5)])
		}
		db.Release()
	}
	// Writes after the restart were acknowledged too: the store recovered
	// without being reopened.
	after := ackedAfter.Load()
	if after == 0 {
		t.Error("no write was acknowledged after the restart")
	}
	t.Logf("%d writes acknowledged (%d after the restart), %d operations failed (%d while down)",
		total, after, failed.Load(), failedWhileDown)
}

// TestTxAcrossRestart starts a transaction, restarts sqld under it, and
// checks that the next statement on the transaction's stream (whose baton
// the new server does not know: a statement error that is really a
// transport one) and its Commit fail as store.ErrUnavailable, that the
// uncommitted row is gone, and that the next transaction succeeds.
func TestTxAcrossRestart(t *testing.T) {
	srv := testsrv.SQLD(t, true)
	s, err := libsql.Open(libsql.Config{
		URL:      fmt.Sprintf("http://{org}.sqld.test:%s", portOf(srv.Addr)),
		Proxy:    "http://" + srv.Addr,
		AdminURL: srv.AdminURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	db, err := s.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	exec := func(q string, args ...any) error {
		tx, err := db.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	if err := exec(`CREATE TABLE "items" ("id" TEXT PRIMARY KEY NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO "items" ("id") VALUES ('before')`); err != nil {
		t.Fatal(err)
	}
	srv.Crash()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO "items" ("id") VALUES ('after')`)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("statement on a stream the restarted server lost: %v, want store.ErrUnavailable", err)
	}
	if err := tx.Commit(); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("commit on a lost stream: %v, want store.ErrUnavailable", err)
	}
	if err := exec(`INSERT INTO "items" ("id") VALUES ('next')`); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "items"`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after the restart = %d, %v; want 1 (only the committed one)", n, err)
	}
}

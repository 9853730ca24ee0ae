package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// TestPostgresIdleInstanceHoldsNoConnections: base serve on PostgreSQL
// serves many orgs through one small pool; once its connections have been
// idle longer than base_conn_idle, the instance holds no PostgreSQL
// session at all (pg_stat_activity), whatever the number of orgs it
// served.
func TestPostgresIdleInstanceHoldsNoConnections(t *testing.T) {
	pg := testsrv.Postgres(t)
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin, "BASE_STORE=postgres", "BASE_STORE_URL="+pg.URL+"&base_conn_idle=300ms")
	token := srv.Token(t, "--sub", "built-in/ops", "--org", "built-in", "--global-admin")

	probe, err := sql.Open("pgx", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probe.SetMaxOpenConns(1)
	sessions := func() int {
		t.Helper()
		var n int
		err := probe.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 40; i += 4 {
				req, _ := http.NewRequest("GET", srv.URL+"/v1/collections/users/records?perPage=1", nil)
				req.Header.Set("Authorization", token)
				req.Header.Set("X-Org-Id", fmt.Sprintf("idle%02d", i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					bad.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of 40 first requests to new orgs failed", bad.Load())
	}
	if n := sessions(); n == 0 {
		t.Fatal("no session right after 40 requests: the probe cannot see the instance's connections")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := sessions()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d PostgreSQL sessions still open after the instance went idle", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLibSQLRestartUnderLoad runs base serve on sqld, kills sqld (SIGKILL)
// while clients create records, and starts it again: every request answers
// 200 or a 503 in the PocketBase error envelope, Base recovers without a
// restart, and every acknowledged create is there afterwards.
func TestLibSQLRestartUnderLoad(t *testing.T) {
	sq := testsrv.SQLD(t, true)
	_, port, _ := strings.Cut(sq.Addr, ":")
	u := "http://{org}.sqld.test:" + port + "?proxy=" + url.QueryEscape("http://"+sq.Addr) + "&admin=" + url.QueryEscape(sq.AdminURL)
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin, "BASE_STORE=libsql", "BASE_STORE_URL="+u)
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")

	st, _ := pgCall(t, "POST", srv.URL+"/v1/collections", admin, map[string]any{
		"name": "items", "listRule": "", "viewRule": "",
		"fields": []any{map[string]any{"name": "key", "type": "text"}},
	})
	if st != 200 {
		t.Fatalf("create items: %d", st)
	}

	var (
		mu        sync.Mutex
		acked     []string
		bad       []string
		failed    atomic.Int64
		restarted atomic.Bool
		after     atomic.Int64
		seq       atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("k%06d", seq.Add(1))
				st, body := pgCall(t, "POST", srv.URL+"/v1/collections/items/records", admin, map[string]any{"key": key})
				switch {
				case st == 200:
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
					if restarted.Load() {
						after.Add(1)
					}
				case st == 503 && body["status"] == float64(503) && body["message"] != nil && body["data"] != nil:
					failed.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%s: %d %v", key, st, body))
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(time.Second)
	sq.Crash()
	time.Sleep(time.Second)
	failedWhileDown := failed.Load()
	if err := sq.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted.Store(true)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	if failedWhileDown == 0 {
		t.Fatal("no request failed while sqld was down: the fault was not exercised")
	}
	if len(bad) > 0 {
		t.Errorf("%d answers were neither 200 nor a 503 envelope, e.g. %v", len(bad), bad[:min(len(bad), 5)])
	}
	if after.Load() == 0 {
		t.Error("no create acknowledged after sqld came back: Base did not recover")
	}
	stored := map[string]bool{}
	for page := 1; ; page++ {
		st, list := pgCall(t, "GET", fmt.Sprintf("%s/v1/collections/items/records?perPage=500&page=%d&skipTotal=1", srv.URL, page), admin, nil)
		if st != 200 {
			t.Fatalf("list page %d after the restart: %d %v", page, st, list)
		}
		items, _ := list["items"].([]any)
		for _, it := range items {
			stored[it.(map[string]any)["key"].(string)] = true
		}
		if len(items) < 500 {
			break
		}
	}
	var lost []string
	for _, k := range acked {
		if !stored[k] {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged creates lost, e.g. %v", len(lost), lost[:min(len(lost), 5)])
	}
	t.Logf("%d creates acknowledged (%d after the restart), %d answered 503 (%d while down), %d stored",
		len(acked), after.Load(), failed.Load(), failedWhileDown, len(stored))
}

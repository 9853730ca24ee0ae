package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
)

// pgCall sends a JSON request and returns the status and decoded body.
func pgCall(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestThreeInstancesOnePostgres runs three base serve processes on one
// PostgreSQL, writes through all three concurrently (contested unique keys
// and a shared counter), restarts PostgreSQL in the middle, and then checks
// that every acknowledged write is there and the counter counts exactly
// the acknowledged increments (plus at most the unacknowledged attempts).
func TestThreeInstancesOnePostgres(t *testing.T) {
	pg := testsrv.Postgres(t)
	bin := buildBase(t, t.TempDir())
	dir := t.TempDir()
	env := []string{"BASE_STORE=postgres", "BASE_STORE_URL=" + pg.URL}
	var srvs []*Server
	for i := 0; i < 3; i++ {
		srvs = append(srvs, startBaseDir(t, bin, dir, env...))
	}
	admin := srvs[0].Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")

	st, _ := pgCall(t, "POST", srvs[0].URL+"/v1/collections", admin, map[string]any{
		"name": "items", "listRule": "", "viewRule": "",
		"fields":  []any{map[string]any{"name": "key", "type": "text"}},
		"indexes": []string{"CREATE UNIQUE INDEX `idx_items_key` ON `items` (`key`)"},
	})
	if st != 200 {
		t.Fatalf("create items: %d", st)
	}
	// The schema made through instance 0 is honoured by 1 and 2 at once.
	st, _ = pgCall(t, "POST", srvs[2].URL+"/v1/collections", admin, map[string]any{
		"name": "counters", "fields": []any{map[string]any{"name": "views", "type": "number"}},
	})
	if st != 200 {
		t.Fatalf("create counters via instance 2: %d", st)
	}
	st, c := pgCall(t, "POST", srvs[1].URL+"/v1/collections/counters/records", admin, map[string]any{"views": 0})
	if st != 200 {
		t.Fatalf("create counter via instance 1: %d", st)
	}
	counter := c["id"].(string)

	var (
		ackedInc, triedInc atomic.Int64
		mu                 sync.Mutex
		ackedKeys          = map[string]int{}
		bad                []string
	)
	const workers, ops = 12, 60
	restart := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < ops; i++ {
				if w == 0 && i == ops/3 {
					close(restart) // PostgreSQL restarts while the others write
				}
				s := srvs[(w+i)%3]
				if i%2 == 0 {
					key := fmt.Sprintf("k%d", (w*ops+i)/4) // four writers contend per key
					st, _ := pgCall(t, "POST", s.URL+"/v1/collections/items/records", admin, map[string]any{"key": key})
					mu.Lock()
					switch {
					case st == 200:
						ackedKeys[key]++
					case st == 400, st == 503, st == 0:
					default:
						bad = append(bad, fmt.Sprintf("create %s: %d", key, st))
					}
					mu.Unlock()
				} else {
					triedInc.Add(1)
					st, _ := pgCall(t, "PATCH", s.URL+"/v1/collections/counters/records/"+counter, admin, map[string]any{"views+": 1})
					switch {
					case st == 200:
						ackedInc.Add(1)
					case st == 503, st == 0:
					default:
						mu.Lock()
						bad = append(bad, fmt.Sprintf("increment: %d", st))
						mu.Unlock()
					}
				}
			}
		}(w)
	}
	<-restart
	if err := pg.Restart(); err != nil {
		t.Fatalf("restart postgres: %v", err)
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("unexpected statuses (want 200, 400 for a taken key, or 503 during the restart): %v", bad)
	}

	// Every instance recovers without a restart of Base.
	for i, s := range srvs {
		deadline := time.Now().Add(15 * time.Second)
		for {
			st, _ := pgCall(t, "GET", s.URL+"/v1/collections/counters/records/"+counter, admin, nil)
			if st == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d not recovered after the restart: %d", i, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	_, got := pgCall(t, "GET", srvs[0].URL+"/v1/collections/counters/records/"+counter, admin, nil)
	views := int64(got["views"].(float64))
	if views < ackedInc.Load() || views > triedInc.Load() {
		t.Errorf("counter = %d, want between %d acknowledged and %d attempted increments", views, ackedInc.Load(), triedInc.Load())
	}
	_, list := pgCall(t, "GET", srvs[1].URL+"/v1/collections/items/records?perPage=1000", admin, nil)
	stored := map[string]int{}
	for _, it := range list["items"].([]any) {
		stored[it.(map[string]any)["key"].(string)]++
	}
	for key, n := range ackedKeys {
		if n != 1 {
			t.Errorf("key %s acknowledged %d times; the unique index allows one", key, n)
		}
		if stored[key] != 1 {
			t.Errorf("acknowledged key %s stored %d times", key, stored[key])
		}
	}
	for key, n := range stored {
		if n != 1 {
			t.Errorf("key %s stored %d times", key, n)
		}
	}
	t.Logf("%d increments acknowledged of %d tried, counter %d; %d keys acknowledged, %d stored",
		ackedInc.Load(), triedInc.Load(), views, len(ackedKeys), len(stored))
}

package lambdaadapter_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	lambdaadapter "github.com/hanzoai/base/adapters/lambda"
	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/store/sqlite"
)

// TestScheduledEventRunsJob: the event the Terraform module's EventBridge
// target sends ({"detail":{"job":"__baseStoreOptimize__"}}) runs the
// SQLite optimize job through a JobScheduler: the org's WAL, full after
// writes, is checkpointed to 0 bytes.
func TestScheduledEventRunsJob(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(sqlite.Config{Dir: t.TempDir(), IdleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := st.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE notes (body TEXT)`); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes VALUES (?)`, strings.Repeat("n", 500)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Release()
	path, _ := st.Path("acme")
	wal := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if wal() == 0 {
		t.Fatal("WAL empty after writes; the test proves nothing")
	}

	reg := jobs.NewRegistry(nil)
	j, _ := jobs.StoreOptimize(st)
	if err := reg.Add(j); err != nil {
		t.Fatal(err)
	}
	a := newAdapter(t, http.HandlerFunc(echo), lambdaadapter.JobScheduler{Jobs: reg})
	out, err := a.Invoke(ctx, readEvent(t, "eventbridge-optimize.json"))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if string(out) != `{"ok":true}` {
		t.Errorf("response %s", out)
	}
	if n := wal(); n != 0 {
		t.Errorf("WAL is %d bytes after the scheduled job, want 0", n)
	}

	// A job the registry does not have, or no job at all, fails the
	// invocation so that EventBridge retries and alarms.
	for _, ev := range []string{
		`{"source":"aws.events","detail-type":"Scheduled Event","detail":{"job":"__nope__"}}`,
		`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`,
	} {
		if _, err := a.Invoke(ctx, []byte(ev)); err == nil {
			t.Errorf("Invoke(%s) succeeded", ev)
		}
	}
	// Without a Scheduler, scheduled events fail too.
	bare, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(echo)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Invoke(ctx, readEvent(t, "eventbridge-optimize.json")); err == nil {
		t.Error("a scheduled event succeeded without a Scheduler")
	}
}

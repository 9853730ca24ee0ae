package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hanzoai/base/jobs"
)

// logBuffer collects JSON log lines (slog's handler serializes writes).
type logBuffer struct{ bytes.Buffer }

func (b *logBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, nil)), b
}

func mustAdd(tb testing.TB, r *jobs.Registry, j jobs.Job) {
	tb.Helper()
	if err := r.Add(j); err != nil {
		tb.Fatal(err)
	}
}

func TestRegistryAddListRun(t *testing.T) {
	log, logs := newLogger()
	r := jobs.NewRegistry(log)
	var ran atomic.Int32
	boom := errors.New("boom")
	mustAdd(t, r, jobs.Job{ID: "b", Expression: "@daily", Run: func(context.Context) error { ran.Add(1); return nil }})
	mustAdd(t, r, jobs.Job{ID: "a", Expression: " 0 * * * * ", Run: func(context.Context) error { return boom }})
	mustAdd(t, r, jobs.Job{ID: "c", Expression: "* * * * *", Run: func(context.Context) error { panic("kaput") }})

	for _, bad := range []jobs.Job{
		{ID: "", Expression: "@daily", Run: func(context.Context) error { return nil }},
		{ID: "x", Expression: "@daily"},
		{ID: "x", Expression: "61 * * * *", Run: func(context.Context) error { return nil }},
		{ID: "a", Expression: "@daily", Run: func(context.Context) error { return nil }}, // taken
	} {
		if err := r.Add(bad); err == nil {
			t.Errorf("Add(%+v) succeeded", bad)
		}
	}

	var got []string
	for _, j := range r.List() {
		got = append(got, j.ID+"="+j.Expression)
	}
	if want := "a=0 * * * *,b=@daily,c=* * * * *"; strings.Join(got, ",") != want {
		t.Errorf("List = %v, want %s", got, want)
	}

	ctx := t.Context()
	if err := r.Run(ctx, "b"); err != nil || ran.Load() != 1 {
		t.Errorf("Run(b) = %v, ran %d times", err, ran.Load())
	}
	if err := r.Run(ctx, "a"); !errors.Is(err, boom) || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Run(a) = %v, want boom naming the job", err)
	}
	if err := r.Run(ctx, "c"); err == nil || !strings.Contains(err.Error(), "panic: kaput") {
		t.Errorf("Run(c) = %v, want the panic as an error", err)
	}
	var unknown *jobs.UnknownJobError
	if err := r.Run(ctx, "nope"); !errors.As(err, &unknown) || unknown.ID != "nope" {
		t.Errorf("Run(nope) = %v, want *UnknownJobError", err)
	}

	// One line per run: job, duration, and the error when it failed.
	lines := logs.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3: %v", len(lines), lines)
	}
	for i, want := range []struct{ job, level, err string }{{"b", "INFO", ""}, {"a", "ERROR", "boom"}, {"c", "ERROR", "kaput"}} {
		l := lines[i]
		if l["job"] != want.job || l["level"] != want.level || l["duration"] == nil {
			t.Errorf("log line %d = %v, want job %s at %s with a duration", i, l, want.job, want.level)
		}
		if e, _ := l["err"].(string); !strings.Contains(e, want.err) || (want.err == "") != (e == "") {
			t.Errorf("log line %d err = %q, want %q", i, e, want.err)
		}
	}
}

func TestRegistryDue(t *testing.T) {
	r := jobs.NewRegistry(nil)
	nop := func(context.Context) error { return nil }
	mustAdd(t, r, jobs.Job{ID: jobs.StoreOptimizeID, Expression: jobs.StoreOptimizeExpression, Run: nop})
	mustAdd(t, r, jobs.Job{ID: jobs.IAMCleanupID, Expression: jobs.IAMCleanupExpression, Run: nop})
	mustAdd(t, r, jobs.Job{ID: "quarter", Expression: "*/15 * * * *", Run: nop})
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"2026-11-24 00:00", "__baseIAMCleanup__,__baseStoreOptimize__,quarter"},
		{"2026-11-24 13:00", "__baseIAMCleanup__,quarter"},
		{"2026-11-24 13:45", "quarter"},
		{"2026-11-24 13:46", ""},
	} {
		if got := strings.Join(r.Due(utc(tc.at)), ","); got != tc.want {
			t.Errorf("Due(%s) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

// TestRegistryRunDoesNotOverlap: a second Run of a running job waits for
// the first to end (or for its ctx).
func TestRegistryRunDoesNotOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := jobs.NewRegistry(nil)
		var active, maxActive atomic.Int32
		mustAdd(t, r, jobs.Job{ID: "slow", Expression: "@hourly", Run: func(ctx context.Context) error {
			n := active.Add(1)
			defer active.Add(-1)
			if n > maxActive.Load() {
				maxActive.Store(n)
			}
			time.Sleep(10 * time.Second)
			return nil
		}})
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := r.Run(context.Background(), "slow"); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait() // one run sleeping, two waiting for it
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Run(ctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run with a 5 s deadline behind a 10 s run = %v, want DeadlineExceeded", err)
		}
		wg.Wait()
		if took := time.Since(start); took != 30*time.Second {
			t.Errorf("three runs took %s, want 30s (one after another)", took)
		}
		if maxActive.Load() != 1 {
			t.Errorf("%d runs at once, want 1", maxActive.Load())
		}
	})
}

// In a synctest bubble the clock starts at 2000-01-01 00:00:00 UTC and
// only moves when every goroutine is blocked, so the Runner's minute
// arithmetic is exact.

func TestRunnerRunsDueJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := jobs.NewRegistry(nil)
		var mu sync.Mutex
		runs := map[string][]time.Time{}
		record := func(id string) func(context.Context) error {
			return func(context.Context) error {
				mu.Lock()
				runs[id] = append(runs[id], time.Now())
				mu.Unlock()
				return nil
			}
		}
		mustAdd(t, r, jobs.Job{ID: "minutely", Expression: "* * * * *", Run: record("minutely")})
		mustAdd(t, r, jobs.Job{ID: "five", Expression: "*/5 * * * *", Run: record("five")})
		mustAdd(t, r, jobs.Job{ID: "hourly", Expression: "@hourly", Run: record("hourly")})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- jobs.NewRunner(r, nil).Run(ctx) }()

		time.Sleep(10*time.Minute + 30*time.Second)
		synctest.Wait()
		mu.Lock()
		if n := len(runs["minutely"]); n != 10 {
			t.Errorf("minutely ran %d times in 10.5 minutes, want 10", n)
		}
		for i, at := range runs["minutely"] {
			if want := time.Date(2000, 1, 1, 0, i+1, 0, 0, time.UTC); !at.Equal(want) {
				t.Errorf("minutely run %d at %s, want %s", i, at.UTC(), want)
			}
		}
		if n := len(runs["five"]); n != 2 {
			t.Errorf("*/5 ran %d times, want 2 (00:05, 00:10)", n)
		}
		if n := len(runs["hourly"]); n != 0 {
			t.Errorf("@hourly ran %d times before 01:00", n)
		}
		mu.Unlock()

		time.Sleep(50 * time.Minute) // 01:00:30
		synctest.Wait()
		mu.Lock()
		if n := len(runs["hourly"]); n != 1 {
			t.Errorf("@hourly ran %d times by 01:00:30, want 1", n)
		}
		mu.Unlock()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	})
}

// TestRunnerSkipsOverlap: a job that outlasts its interval is skipped for
// the minutes it is still running, never run twice at once.
func TestRunnerSkipsOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := newLogger()
		r := jobs.NewRegistry(nil)
		var active, maxActive atomic.Int32
		var mu sync.Mutex
		var starts []time.Time
		mustAdd(t, r, jobs.Job{ID: "slow", Expression: "* * * * *", Run: func(context.Context) error {
			n := active.Add(1)
			defer active.Add(-1)
			if n > maxActive.Load() {
				maxActive.Store(n)
			}
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			time.Sleep(150 * time.Second)
			return nil
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- jobs.NewRunner(r, log).Run(ctx) }()
		time.Sleep(8*time.Minute + 10*time.Second)
		synctest.Wait()
		mu.Lock()
		var got []int
		for _, s := range starts {
			got = append(got, s.Minute())
		}
		mu.Unlock()
		// 00:01 runs until 00:03:30 (02 and 03 skipped), 00:04 until
		// 00:06:30 (05, 06 skipped), 00:07 still running at 00:08.
		if want := []int{1, 4, 7}; !equalInts(got, want) {
			t.Errorf("started at minutes %v, want %v", got, want)
		}
		if maxActive.Load() != 1 {
			t.Errorf("%d runs at once, want 1", maxActive.Load())
		}
		skipped := 0
		for _, l := range logs.lines(t) {
			if l["job"] == "slow" && strings.Contains(l["msg"].(string), "skipped") {
				skipped++
			}
		}
		if skipped != 5 {
			t.Errorf("%d skips logged, want 5 (02, 03, 05, 06, 08)", skipped)
		}
		cancel()
		<-done
	})
}

// TestRunnerStopsOnCancel: Run returns once ctx is done, after the jobs it
// started have returned, and those jobs see the cancellation.
func TestRunnerStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := jobs.NewRegistry(nil)
		var sawCancel, finished atomic.Bool
		mustAdd(t, r, jobs.Job{ID: "long", Expression: "* * * * *", Run: func(ctx context.Context) error {
			<-ctx.Done()
			sawCancel.Store(true)
			time.Sleep(3 * time.Second) // cleanup after cancellation
			finished.Store(true)
			return ctx.Err()
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- jobs.NewRunner(r, nil).Run(ctx) }()
		time.Sleep(90 * time.Second) // the job started at 00:01
		cancel()
		start := time.Now()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if !sawCancel.Load() || !finished.Load() {
			t.Errorf("Run returned before its job ended (saw cancel %v, finished %v)", sawCancel.Load(), finished.Load())
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Errorf("Run returned %s after cancel, want 3s (the job's cleanup)", took)
		}

		// With nothing running, Run returns at once.
		ctx, cancel = context.WithCancel(context.Background())
		go func() { done <- jobs.NewRunner(jobs.NewRegistry(nil), nil).Run(ctx) }()
		time.Sleep(10 * time.Second)
		cancel()
		start = time.Now()
		<-done
		if took := time.Since(start); took != 0 {
			t.Errorf("idle Run returned %s after cancel", took)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

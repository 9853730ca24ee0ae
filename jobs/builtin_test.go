package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hanzoai/base/jobs"
)

// optimizingStore and plainStore stand for drivers with and without
// maintenance to do.
type optimizingStore struct{ calls int }

func (s *optimizingStore) Optimize(context.Context) error { s.calls++; return nil }

type plainStore struct{}

type cleaner struct{ n int }

func (c cleaner) Cleanup(context.Context) (int, error) { return c.n, nil }

func TestStoreOptimize(t *testing.T) {
	if _, ok := jobs.StoreOptimize(plainStore{}); ok {
		t.Error("a store without Optimize got an optimize job")
	}
	st := &optimizingStore{}
	j, ok := jobs.StoreOptimize(st)
	if !ok || j.ID != jobs.StoreOptimizeID || j.Expression != "0 0 * * *" {
		t.Fatalf("StoreOptimize = %+v, %v", j, ok)
	}
	r := jobs.NewRegistry(nil)
	mustAdd(t, r, j)
	if err := r.Run(t.Context(), jobs.StoreOptimizeID); err != nil || st.calls != 1 {
		t.Errorf("Run = %v, Optimize called %d times", err, st.calls)
	}
}

func TestIAMCleanup(t *testing.T) {
	log, logs := newLogger()
	r := jobs.NewRegistry(nil)
	mustAdd(t, r, jobs.IAMCleanup(func(context.Context) (jobs.Cleaner, error) { return cleaner{n: 7}, nil }, log))
	if err := r.Run(t.Context(), jobs.IAMCleanupID); err != nil {
		t.Fatal(err)
	}
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["purged"] != float64(7) {
		t.Errorf("log = %v, want one line with purged 7", lines)
	}
	// The IAM failed to start: the job fails with its error.
	down := errors.New("iam down")
	r2 := jobs.NewRegistry(nil)
	mustAdd(t, r2, jobs.IAMCleanup(func(context.Context) (jobs.Cleaner, error) { return nil, down }, nil))
	if err := r2.Run(t.Context(), jobs.IAMCleanupID); !errors.Is(err, down) || !strings.Contains(err.Error(), jobs.IAMCleanupID) {
		t.Errorf("Run = %v, want the IAM's error", err)
	}
}

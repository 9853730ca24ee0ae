package sqlite

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestFailedSharedOpenDropsWaiters checks that when the first open of an
// org fails, every Acquire that waited on it gets the error and drops its
// reference to the failed handle, and that the next Acquire opens afresh.
// The opener is stood in for (its open parked) so that the waiters are
// certain to arrive while it is in flight; its failure goes through the
// same failOpen that Acquire uses.
func TestFailedSharedOpenDropsWaiters(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &handle{org: "acme", refs: 1, ready: make(chan struct{}), wsem: make(chan struct{}, 1)}
	s.mu.Lock()
	s.handles["acme"] = h
	s.mu.Unlock()

	const waiters = 8
	errs := make(chan error, waiters)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := s.Acquire(context.Background(), "acme")
			if err == nil {
				db.Release()
			}
			errs <- err
		}()
	}
	refs := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return h.refs
	}
	for deadline := time.Now().Add(5 * time.Second); refs() != waiters+1; {
		if time.Now().After(deadline) {
			t.Fatalf("refs = %d, want %d waiting", refs(), waiters+1)
		}
		time.Sleep(time.Millisecond)
	}
	boom := errors.New("open failed")
	if err := s.failOpen(h, boom); !errors.Is(err, boom) {
		t.Fatalf("failOpen = %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, boom) {
			t.Errorf("waiter got %v, want the open's error", err)
		}
	}
	if n := refs(); n != 0 {
		t.Errorf("failed handle still has %d references", n)
	}
	if n := s.OpenHandles(); n != 0 {
		t.Errorf("open handles = %d after a failed open", n)
	}
	db, err := s.Acquire(context.Background(), "acme")
	if err != nil {
		t.Fatalf("Acquire after a failed open: %v", err)
	}
	db.Release()
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeHandles is a Handles over plain values that records what it opened
// and closed; open blocks on gate when gate is non-nil.
type fakeHandles struct {
	mu     sync.Mutex
	opened []string
	closed []string
	gate   chan error
}

func (f *fakeHandles) config(maxOpen int, idle time.Duration) HandlesConfig[string] {
	return HandlesConfig[string]{MaxOpen: maxOpen, IdleTimeout: idle,
		Open: func(ctx context.Context, org string) (string, error) {
			if f.gate != nil {
				if err := <-f.gate; err != nil {
					return "", err
				}
			}
			f.mu.Lock()
			f.opened = append(f.opened, org)
			f.mu.Unlock()
			return "h-" + org, nil
		},
		Close: func(hs []string) {
			f.mu.Lock()
			f.closed = append(f.closed, hs...)
			f.mu.Unlock()
		},
	}
}

func (f *fakeHandles) closedList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.closed)
}

// TestHandlesFailedSharedOpen: when the first open of an org fails, every
// Acquire that waited on it gets the error and keeps no reference, and
// the next Acquire opens afresh.
func TestHandlesFailedSharedOpen(t *testing.T) {
	f := &fakeHandles{gate: make(chan error)}
	p := NewHandles(f.config(8, -1))
	defer p.Close()
	const callers = 9
	errs := make(chan error, callers)
	for range callers {
		go func() {
			h, err := p.Acquire(context.Background(), "acme")
			if err == nil {
				p.Release(h)
			}
			errs <- err
		}()
	}
	refs := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		if h := p.m["acme"]; h != nil {
			return h.refs
		}
		return -1
	}
	for deadline := time.Now().Add(5 * time.Second); refs() != callers; {
		if time.Now().After(deadline) {
			t.Fatalf("refs = %d, want %d callers sharing one open", refs(), callers)
		}
		time.Sleep(time.Millisecond)
	}
	boom := errors.New("open failed")
	f.gate <- boom
	for range callers {
		if err := <-errs; !errors.Is(err, boom) {
			t.Errorf("caller got %v, want the open's error", err)
		}
	}
	if n := p.Len(); n != 0 {
		t.Fatalf("%d handles open after a failed open", n)
	}
	go func() { f.gate <- nil }()
	h, err := p.Acquire(context.Background(), "acme")
	if err != nil || h.Value != "h-acme" {
		t.Fatalf("Acquire after a failed open: %v %v", h, err)
	}
	p.Release(h)
}

// TestHandlesLRU: idle handles beyond MaxOpen close least recently used
// first; acquired ones never do.
func TestHandlesLRU(t *testing.T) {
	f := &fakeHandles{}
	p := NewHandles(f.config(2, -1))
	defer p.Close()
	ctx := context.Background()
	held, _ := p.Acquire(ctx, "held")
	for _, org := range []string{"a", "b", "c"} {
		h, err := p.Acquire(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(h)
	}
	if got := f.closedList(); !slices.Equal(got, []string{"h-a", "h-b"}) {
		t.Fatalf("closed %v, want the least recently used idle ones [h-a h-b]", got)
	}
	if ok, _ := p.Has("held"); !ok {
		t.Fatal("an acquired handle was closed")
	}
	p.Release(held)
	if p.Len() != 2 || len(f.closedList()) != 2 {
		t.Fatalf("%d open, closed %v after releasing held: want held and c kept idle", p.Len(), f.closedList())
	}
}

// TestHandlesIdleTimeout: the janitor closes what stayed idle that long,
// and a re-acquired handle is not closed under its user.
func TestHandlesIdleTimeout(t *testing.T) {
	f := &fakeHandles{}
	p := NewHandles(f.config(100, 30*time.Millisecond))
	defer p.Close()
	ctx := context.Background()
	h, _ := p.Acquire(ctx, "quiet")
	p.Release(h)
	busy, _ := p.Acquire(ctx, "busy")
	for deadline := time.Now().Add(5 * time.Second); !slices.Contains(f.closedList(), "h-quiet"); {
		if time.Now().After(deadline) {
			t.Fatal("idle handle never closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if slices.Contains(f.closedList(), "h-busy") {
		t.Fatal("an acquired handle was closed by the janitor")
	}
	p.Release(busy)
}

// TestHandlesCloseIfIdle closes only a handle nobody holds.
func TestHandlesCloseIfIdle(t *testing.T) {
	f := &fakeHandles{}
	p := NewHandles(f.config(100, -1))
	defer p.Close()
	h, _ := p.Acquire(context.Background(), "acme")
	if p.CloseIfIdle(h) {
		t.Fatal("closed a handle still acquired")
	}
	p.Release(h)
	if !p.CloseIfIdle(h) || p.Len() != 0 {
		t.Fatal("an idle handle was not closed")
	}
}

// TestHandlesCancelAndClose: a caller that gives up waiting keeps no
// reference; Close waits for the open in flight, closes everything and
// refuses later Acquires.
func TestHandlesCancelAndClose(t *testing.T) {
	f := &fakeHandles{gate: make(chan error)}
	p := NewHandles(f.config(100, -1))
	opened := make(chan *Handle[string])
	go func() {
		h, err := p.Acquire(context.Background(), "acme")
		if err != nil {
			panic(err)
		}
		opened <- h
	}()
	for p.Len() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Acquire(ctx, "acme"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	f.gate <- nil
	h := <-opened
	<-closed
	if got := f.closedList(); !slices.Equal(got, []string{"h-acme"}) {
		t.Fatalf("Close closed %v", got)
	}
	if h.refs != 1 {
		t.Errorf("refs = %d: the cancelled waiter kept its reference", h.refs)
	}
	if _, err := p.Acquire(context.Background(), "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close: %v", err)
	}
	if _, err := p.Has("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Has after Close: %v", err)
	}
	p.Close()
}

func BenchmarkHandlesAcquireRelease(b *testing.B) {
	f := &fakeHandles{}
	p := NewHandles(f.config(256, -1))
	defer p.Close()
	orgs := make([]string, 64)
	for i := range orgs {
		orgs[i] = fmt.Sprint("org", i)
	}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			h, _ := p.Acquire(ctx, orgs[i%len(orgs)])
			p.Release(h)
			i++
		}
	})
}

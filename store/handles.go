package store

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Handles is the reference-counted set of open per-org handles that a
// driver keeping state per org (store/sqlite's files, store/libsql's
// connections) puts behind Acquire:
//
//   - concurrent Acquires of a cold org share one open, whose failure every
//     waiter sees (and none keeps a reference to);
//   - a released handle stays open, idle, for the next request; idle handles
//     beyond MaxOpen are closed least recently used first, and any idle for
//     IdleTimeout by a background janitor, so an org nobody uses holds
//     nothing;
//   - Close closes every handle, waiting for opens in flight.
//
// H is the driver's own handle; Handles never looks inside it.
type Handles[H any] struct {
	cfg HandlesConfig[H]

	mu     sync.Mutex
	m      map[string]*Handle[H]
	idle   *list.List // *Handle[H] with refs == 0; front is most recent
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// HandlesConfig configures NewHandles.
type HandlesConfig[H any] struct {
	// MaxOpen caps the handles kept open; beyond it idle ones are closed.
	MaxOpen int
	// IdleTimeout closes handles idle that long; negative never does.
	IdleTimeout time.Duration
	// Open opens org's handle. It runs once per cold org, with a context
	// no single waiter's cancellation ends.
	Open func(ctx context.Context, org string) (H, error)
	// Close closes handles evicted or left at Close. It is called without
	// the set's lock held, and may hand the work to another goroutine.
	Close func(hs []H)
}

// Handle is one org's entry: the driver's handle once opened, and the
// references Acquire handed out.
type Handle[H any] struct {
	Org   string
	Value H

	// Guarded by Handles.mu.
	refs     int
	elem     *list.Element
	lastUsed time.Time

	ready chan struct{} // closed once Open returned
	err   error
}

// NewHandles returns a running set; Close stops it.
func NewHandles[H any](cfg HandlesConfig[H]) *Handles[H] {
	p := &Handles[H]{cfg: cfg, m: map[string]*Handle[H]{}, idle: list.New(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.janitor()
	return p
}

// Acquire returns org's handle with a reference the caller gives back with
// Release, opening it when it is not open. Errors wrap ErrClosed after
// Close, ctx's error when the caller gave up waiting for another caller's
// open, or what Open returned.
func (p *Handles[H]) Acquire(ctx context.Context, org string) (*Handle[H], error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("acquire %q: %w", org, ErrClosed)
	}
	if h := p.m[org]; h != nil {
		h.refs++
		if h.elem != nil {
			p.idle.Remove(h.elem)
			h.elem = nil
		}
		p.mu.Unlock()
		select {
		case <-h.ready:
		case <-ctx.Done():
			p.Release(h)
			return nil, fmt.Errorf("acquire %q: %w", org, ctx.Err())
		}
		if h.err != nil {
			p.Release(h)
			return nil, h.err
		}
		return h, nil
	}
	h := &Handle[H]{Org: org, refs: 1, ready: make(chan struct{})}
	p.m[org] = h
	p.mu.Unlock()

	// The open is shared by every waiter, so one caller's cancellation
	// must not fail it.
	v, err := p.cfg.Open(context.WithoutCancel(ctx), org)
	if err != nil {
		h.err = err
		p.mu.Lock()
		if p.m[org] == h {
			delete(p.m, org)
		}
		h.refs--
		p.mu.Unlock()
		close(h.ready)
		return nil, err
	}
	h.Value = v
	close(h.ready)
	return h, nil
}

// Retain adds a reference to an acquired handle.
func (p *Handles[H]) Retain(h *Handle[H]) {
	p.mu.Lock()
	h.refs++
	p.mu.Unlock()
}

// Release drops a reference; the last one makes h idle and may close the
// least recently used idle handles beyond MaxOpen.
func (p *Handles[H]) Release(h *Handle[H]) {
	p.mu.Lock()
	h.refs--
	if h.refs > 0 {
		p.mu.Unlock()
		return
	}
	var victims []H
	if !p.closed && p.m[h.Org] == h && h.err == nil {
		h.lastUsed = time.Now()
		h.elem = p.idle.PushFront(h)
		for len(p.m) > p.cfg.MaxOpen && p.idle.Len() > 0 {
			victims = append(victims, p.evictLocked(p.idle.Back()))
		}
	}
	p.mu.Unlock()
	p.close(victims)
}

// CloseIfIdle closes h when it is idle (nobody acquired it since its last
// Release) and reports whether it did: maintenance that opened an org
// nobody uses must not leave it open until the idle timeout.
func (p *Handles[H]) CloseIfIdle(h *Handle[H]) bool {
	p.mu.Lock()
	if h.refs != 0 || h.elem == nil || p.m[h.Org] != h {
		p.mu.Unlock()
		return false
	}
	v := p.evictLocked(h.elem)
	p.mu.Unlock()
	p.close([]H{v})
	return true
}

// Has reports whether org's handle is open (or opening); false with
// ErrClosed after Close.
func (p *Handles[H]) Has(org string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, fmt.Errorf("%q: %w", org, ErrClosed)
	}
	return p.m[org] != nil, nil
}

// Len is how many handles are open (acquired or idle).
func (p *Handles[H]) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// evictLocked removes the idle entry at e; the caller closes its value
// after unlocking.
func (p *Handles[H]) evictLocked(e *list.Element) H {
	h := p.idle.Remove(e).(*Handle[H])
	h.elem = nil
	delete(p.m, h.Org)
	return h.Value
}

func (p *Handles[H]) close(hs []H) {
	if len(hs) > 0 {
		p.cfg.Close(hs)
	}
}

// janitor closes handles idle for longer than IdleTimeout.
func (p *Handles[H]) janitor() {
	defer close(p.done)
	if p.cfg.IdleTimeout < 0 {
		<-p.stop
		return
	}
	t := time.NewTicker(min(max(p.cfg.IdleTimeout/4, 10*time.Millisecond), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			var victims []H
			p.mu.Lock()
			for e := p.idle.Back(); e != nil; e = p.idle.Back() {
				if now.Sub(e.Value.(*Handle[H]).lastUsed) < p.cfg.IdleTimeout {
					break
				}
				victims = append(victims, p.evictLocked(e))
			}
			p.mu.Unlock()
			p.close(victims)
		}
	}
}

// Close stops the janitor and closes every handle, acquired or not, once
// opens in flight have finished; Acquire fails afterwards. It is safe to
// call more than once.
func (p *Handles[H]) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var all []*Handle[H]
	for _, h := range p.m {
		all = append(all, h)
	}
	p.m = map[string]*Handle[H]{}
	p.idle.Init()
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	var vs []H
	for _, h := range all {
		<-h.ready
		if h.err == nil {
			vs = append(vs, h.Value)
		}
	}
	p.close(vs)
}

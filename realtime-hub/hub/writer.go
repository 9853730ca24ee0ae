package hub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// Writing to clients.
//
// A goroutine per client woken for every event costs a scheduler hand-off
// per delivery (110,000 a second at 10,000 subscribers × 11 events/s) and
// a stack per client. Instead, clients whose connection is a plain socket
// (the hijacked HTTP/1.1 connection of an SSE stream or a WebSocket) are
// written by a small pool of writer shards: a shard owns a share of the
// clients, and one wake-up of its goroutine writes every client that has
// something queued, in a tight loop, with non-blocking writes. A write the
// socket cannot take whole leaves its remainder to a short-lived drain
// goroutine of that client (blocking, with the write timeout); until it is
// drained the shard skips the client, whose queue keeps growing up to its
// bound and then disconnects it. The number of shards bounds the CPU the
// fan-out can take, so the API's request handlers are not starved.
//
// Clients on other connections (HTTP/2 streams, TLS) keep a goroutine of
// their own (sseLoop, wsLoop).

// maxPending bounds the bytes a drain goroutine holds for one client
// beyond its queue (frames written while it drains, e.g. WebSocket pongs).
const maxPending = 4 << 20

// errSlow is returned by writes to a client whose pending bytes exceed
// maxPending.
var errSlow = errors.New("realtime: client too slow")

// shard is one writer goroutine and the clients it writes.
type shard struct {
	h      *Hub
	signal chan struct{} // cap 1: ready is non-empty

	mu      sync.Mutex
	ready   []*client            // clients with something queued
	members map[*client]struct{} // every client of the shard (keepalive)
}

func newShard(h *Hub) *shard {
	return &shard{h: h, signal: make(chan struct{}, 1), members: map[*client]struct{}{}}
}

// add marks c as having something queued.
func (s *shard) add(c *client) {
	s.mu.Lock()
	s.ready = append(s.ready, c)
	first := len(s.ready) == 1
	s.mu.Unlock()
	if first {
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

func (s *shard) join(c *client) {
	s.mu.Lock()
	s.members[c] = struct{}{}
	s.mu.Unlock()
}

func (s *shard) leave(c *client) {
	s.mu.Lock()
	delete(s.members, c)
	s.mu.Unlock()
}

// run writes the shard's ready clients until the hub closes.
func (s *shard) run(done <-chan struct{}) {
	var (
		work  []*client
		batch []*message
		buf   []byte
	)
	tick := time.NewTicker(max(s.h.cfg.KeepAlive/5, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.signal:
		case now := <-tick.C:
			s.keepalive(now)
			continue
		case <-done:
			return
		}
		s.mu.Lock()
		work, s.ready = s.ready, work[:0]
		s.mu.Unlock()
		now := time.Now()
		for _, c := range work {
			batch, buf = s.flush(c, now, batch, buf)
		}
		clear(work)
		if cap(buf) > 1<<20 {
			buf = nil // don't keep a burst's buffer
		}
	}
}

// flush writes everything queued for c; batch and buf are reused.
func (s *shard) flush(c *client, now time.Time, batch []*message, buf []byte) ([]*message, []byte) {
	if c.out.draining() {
		return batch, buf // the drain goroutine re-adds c when done
	}
	batch = c.take(batch)
	if len(batch) == 0 {
		return batch, buf
	}
	defer clear(batch)
	select {
	case <-c.dead:
		return batch, buf
	default:
	}
	var err error
	buf = buf[:0]
	if c.wsc != nil {
		// Every frame of the batch goes out in one write: the library
		// flushes each message, into the corked buffer.
		c.out.cork(buf)
		for _, m := range batch {
			if err = c.wsc.Write(context.Background(), websocket.MessageText, m.wsFrame()); err != nil {
				break
			}
		}
		var err2 error
		buf, err2 = c.out.uncork()
		err = errors.Join(err, err2)
	} else {
		buf = appendSSE(buf, c.id, batch)
		_, err = c.out.Write(buf)
	}
	c.lastWrite = now
	if err != nil {
		c.kill()
		return batch, buf
	}
	s.h.stats.Delivered.Add(int64(len(batch)))
	return batch, buf
}

// keepalive pings the shard's clients idle for KeepAlive.
func (s *shard) keepalive(now time.Time) {
	s.mu.Lock()
	var idle []*client
	for c := range s.members {
		if now.Sub(c.lastWrite) >= s.h.cfg.KeepAlive {
			c.lastWrite = now
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		if c.wsc != nil {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
				defer cancel()
				if c.wsc.Ping(ctx) != nil {
					c.kill()
				}
			}()
			continue
		}
		if _, err := c.out.Write(ssePing); err != nil {
			c.kill()
		}
	}
}

var ssePing = []byte(":ping\n\n")

// appendSSE appends the SSE frames of batch for client id.
func appendSSE(buf []byte, id string, batch []*message) []byte {
	for _, m := range batch {
		buf = append(buf, "id:"...)
		buf = append(buf, id...)
		buf = append(buf, ':')
		buf = append(buf, m.id...)
		buf = append(buf, m.sse...)
	}
	return buf
}

// outConn is a client's socket written without blocking: a write the
// socket cannot take whole is finished by a drain goroutine, and the
// writes that follow it queue behind it. Optionally corked: writes collect
// in a buffer and go out in one system call at uncork.
type outConn struct {
	net.Conn
	rc syscall.RawConn

	mu      sync.Mutex
	drained func(error) // called when a drain ends (nil error: all written)
	err     error
	corked  bool
	cbuf    []byte
	drain   bool
	pend    []byte
	spare   []byte
}

// newOutConn wraps conn when it is a socket whose descriptor can be written
// directly; ok is false otherwise.
func newOutConn(conn net.Conn) (*outConn, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	return &outConn{Conn: conn, rc: rc}, true
}

func (o *outConn) draining() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.drain
}

// Write writes p without blocking; see outConn.
func (o *outConn) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	if o.corked {
		o.cbuf = append(o.cbuf, p...)
		return len(p), nil
	}
	return o.writeLocked(p)
}

func (o *outConn) writeLocked(p []byte) (int, error) {
	if o.drain {
		if len(o.pend)+len(p) > maxPending {
			o.err = errSlow
			go o.Conn.Close()
			return 0, o.err
		}
		o.pend = append(o.pend, p...)
		return len(p), nil
	}
	n := 0
	var werr error
	err := o.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			if e == syscall.EINTR {
				continue
			}
			if e != nil {
				if e != syscall.EAGAIN {
					werr = e
				}
				return true
			}
			if m <= 0 {
				return true
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		o.err = err
		return n, err
	}
	if n < len(p) {
		o.pend = append(o.pend[:0], p[n:]...)
		o.drain = true
		go o.drainLoop()
	}
	return len(p), nil
}

// drainLoop writes the pending bytes with the write timeout until none
// are left.
func (o *outConn) drainLoop() {
	var err error
	for {
		o.mu.Lock()
		if len(o.pend) == 0 {
			_ = o.Conn.SetWriteDeadline(time.Time{})
			o.drain = false
			o.mu.Unlock()
			break
		}
		b := o.pend
		o.pend = o.spare[:0]
		o.mu.Unlock()
		_ = o.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err = o.Conn.Write(b); err != nil {
			o.mu.Lock()
			o.err = err
			o.mu.Unlock()
			o.Conn.Close()
			break
		}
		o.mu.Lock()
		o.spare = b[:0]
		if cap(o.spare) > 256<<10 {
			o.spare = nil
		}
		o.mu.Unlock()
	}
	o.mu.Lock()
	drained := o.drained
	o.mu.Unlock()
	if drained != nil {
		drained(err)
	}
}

// cork collects the following writes in buf until uncork.
func (o *outConn) cork(buf []byte) {
	o.mu.Lock()
	o.corked, o.cbuf = true, buf[:0]
	o.mu.Unlock()
}

// uncork writes what was collected since cork in one write and returns the
// buffer for reuse.
func (o *outConn) uncork() ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.cbuf
	o.corked, o.cbuf = false, nil
	if len(b) == 0 || o.err != nil {
		return b[:0], o.err
	}
	_, err := o.writeLocked(b)
	return b[:0], err
}

// attach hands c's writing to a shard through out (after the stream's
// first bytes are written); what is already queued is written next.
func (h *Hub) attach(c *client, out *outConn) {
	s := h.shards[int(h.nextShard.Add(1))%len(h.shards)]
	drained := func(err error) {
		if err != nil {
			c.kill()
			return
		}
		c.mu.Lock()
		if len(c.queue) > 0 {
			s.add(c)
		}
		c.mu.Unlock()
	}
	out.mu.Lock()
	out.drained = drained
	out.mu.Unlock()
	s.join(c)
	c.mu.Lock()
	c.out, c.shard = out, s
	if len(c.queue) > 0 {
		s.add(c)
	}
	c.mu.Unlock()
}

// wsHijacker lets websocket.Accept take the connection over while the hub
// keeps its socket: the WebSocket library writes through an outConn (so a
// shard's writes never block) with a small write buffer.
type wsHijacker struct {
	http.ResponseWriter
	out *outConn
}

func (w *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	out, ok := newOutConn(conn)
	if !ok {
		return conn, brw, nil
	}
	w.out = out
	// What the server read past the request (e.g. the byte of its
	// background read) stays readable: it is already buffered in the
	// reader handed over, because the library keeps only what is
	// buffered. Writes go through out, buffered only up to a frame header
	// and a small payload (every message is flushed, into the shard's
	// corked buffer).
	br := bufio.NewReaderSize(out, 1<<10)
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), out), max(1<<10, n))
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return out, bufio.NewReadWriter(br, bufio.NewWriterSize(out, 1<<10)), nil
}

// Unwrap exposes the ResponseWriter to http.ResponseController.
func (w *wsHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

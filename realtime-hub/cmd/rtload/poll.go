package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// poller reads many subscriber sockets from a few goroutines, each waiting
// in its own epoll set, instead of one goroutine per subscriber woken by
// the runtime's poller for every event: the generator shares the machine
// with the server it measures, and its read path should cost little more
// than the read system call. Latency stays honest: an event is timed when
// its bytes are read (recorder.record), whichever goroutine reads them.
type poller struct {
	sets []*pollSet
	wait time.Duration
	next int
	mu   sync.Mutex
}

type pollSet struct {
	wait  time.Duration // > 0: poll every wait instead of sleeping in epoll_wait
	epfd  int
	mu    sync.Mutex
	conns map[int32]*pollConn
}

// pollConn is one subscriber socket and its parser state.
type pollConn struct {
	fd      int
	rec     *recorder
	ws      bool   // WebSocket frames (else SSE lines)
	partial []byte // bytes of an incomplete line or frame
	done    chan error
}

func newPoller(n int, wait time.Duration) (*poller, error) {
	p := &poller{wait: wait}
	for range max(1, n) {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("epoll: %w", err)
		}
		s := &pollSet{epfd: fd, wait: wait, conns: map[int32]*pollConn{}}
		p.sets = append(p.sets, s)
		go s.run()
	}
	return p, nil
}

// add takes conn over (it is closed; its socket is read through a
// duplicate descriptor) after leftover, the bytes already read past the
// handshake. The returned channel receives the read error that ends it.
func (p *poller) add(conn net.Conn, leftover []byte, ws bool, rec *recorder) (<-chan error, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("poller: not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := raw.Control(func(f uintptr) { fd, derr = syscall.Dup(int(f)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	conn.Close() // the runtime's poller lets go of it; the duplicate stays open, non-blocking
	pc := &pollConn{fd: fd, rec: rec, ws: ws, done: make(chan error, 1)}
	pc.consume(leftover)
	p.mu.Lock()
	s := p.sets[p.next%len(p.sets)]
	p.next++
	p.mu.Unlock()
	s.mu.Lock()
	s.conns[int32(fd)] = pc
	s.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil, err
	}
	return pc.done, nil
}

func (s *pollSet) run() {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	timeout := -1
	if s.wait > 0 {
		timeout = 0
	}
	for {
		n, err := syscall.EpollWait(s.epfd, events, timeout)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		if n == 0 {
			time.Sleep(s.wait)
			continue
		}
		for _, ev := range events[:n] {
			s.mu.Lock()
			pc := s.conns[ev.Fd]
			s.mu.Unlock()
			if pc == nil {
				continue
			}
			m, err := syscall.Read(pc.fd, buf)
			if m > 0 {
				pc.consume(buf[:m])
				continue
			}
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if err == nil {
				err = errors.New("EOF")
			}
			syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, pc.fd, nil)
			s.mu.Lock()
			delete(s.conns, ev.Fd)
			s.mu.Unlock()
			syscall.Close(pc.fd)
			pc.done <- err
		}
	}
}

// consume parses b, continuing an incomplete line or frame.
func (pc *pollConn) consume(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(pc.partial) > 0 {
		pc.partial = append(pc.partial, b...)
		b = pc.partial
	}
	var rest []byte
	if pc.ws {
		rest = pc.frames(b)
	} else {
		rest = pc.lines(b)
	}
	pc.partial = append(pc.partial[:0], rest...)
}

// lines records every SSE data line of b and returns the incomplete tail.
func (pc *pollConn) lines(b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return b
		}
		if line := b[:i]; bytes.HasPrefix(line, dataPrefix) {
			pc.rec.record(line[len(dataPrefix):])
		}
		b = b[i+1:]
	}
}

var dataPrefix = []byte("data:")

// frames records every WebSocket event frame of b (server frames are not
// masked), answers pings, and returns the incomplete tail.
func (pc *pollConn) frames(b []byte) []byte {
	for len(b) >= 2 {
		op := b[0] & 0x0f
		n, h := int(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return b
			}
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return b
			}
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < h+n {
			return b
		}
		payload := b[h : h+n]
		switch op {
		case 0x1: // text
			if bytes.Contains(payload, wsEventType) {
				pc.rec.record(payload)
			}
		case 0x9: // ping
			syscall.Write(pc.fd, clientFrame(0xA, payload))
		}
		b = b[h+n:]
	}
	return b
}

var wsEventType = []byte(`"type":"event"`)

// clientFrame is a masked client frame (RFC 6455 §5.3) of opcode op.
func clientFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

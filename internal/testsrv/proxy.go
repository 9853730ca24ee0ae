package testsrv

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// CountingProxy forwards TCP connections to a server and counts the reads
// of client data it forwards: one per client write (flush) on loopback,
// so the round trips a statement costs show up as its count.
type CountingProxy struct {
	ln     net.Listener
	target string
	writes atomic.Int64
	wg     sync.WaitGroup
}

// StartCountingProxy listens on a free loopback port, forwarding to target
// (host:port), until tb ends.
func StartCountingProxy(tb testing.TB, target string) *CountingProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &CountingProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// Addr is the proxy's host:port.
func (p *CountingProxy) Addr() string { return p.ln.Addr().String() }

// Writes is how many client writes the proxy has forwarded.
func (p *CountingProxy) Writes() int64 { return p.writes.Load() }

func (p *CountingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					p.writes.Add(1)
					if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			io.Copy(c, s)
		}()
	}
}

package hub_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/realtime-hub/hub"
)

// clientFrame is a masked client text frame.
func clientFrame(payload string) []byte {
	f := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	}
	key := [4]byte{1, 2, 3, 4}
	f = append(f, key[:]...)
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}

// readServerFrame reads one unmasked server frame.
func readServerFrame(tb testing.TB, br *bufio.Reader) (byte, string) {
	tb.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		tb.Fatalf("frame header: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		tb.Fatalf("frame payload: %v", err)
	}
	return h[0] & 0x0f, string(p)
}

// A client frame that arrives in the same packet as the upgrade request is
// read by the HTTP server before the hub takes the connection over; the hub
// must still see it (here: the subscription, then an event).
func TestWebSocketFrameWithUpgradeRequest(t *testing.T) {
	_, in, tok := newMemoryInstance(t)
	host := strings.TrimPrefix(in.srv.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /v1/realtime/ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), clientFrame(`{"type":"subscribe","topics":["posts/*"]}`)...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	status, _ := br.ReadString('\n')
	if !strings.Contains(status, " 101 ") {
		t.Fatalf("status %q", status)
	}
	for line := ""; line != "\r\n"; {
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if op, f := readServerFrame(t, br); op != 1 || !strings.Contains(f, `"type":"connect"`) {
		t.Fatalf("first frame %d %s", op, f)
	}
	// The subscription is applied asynchronously: retry the create until
	// an event arrives.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		mustCall(t, 200, in.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": fmt.Sprint("ws-", i), "published": true})
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := br.Peek(1); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event: the subscribe frame sent with the upgrade request was lost")
		}
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if op, f := readServerFrame(t, br); op != 1 || !strings.Contains(f, `"type":"event"`) || !strings.Contains(f, `"title":"ws-`) {
		t.Fatalf("event frame %d %s", op, f)
	}
}

// A subscriber that stops reading is disconnected once its socket and its
// queue are full, while another subscriber of the same hub keeps receiving
// every event on time; the slow one then resumes with Last-Event-ID and
// gets exactly what it missed.
func TestSlowSSEClientDisconnectedAndResumes(t *testing.T) {
	d := newDeployment(t)
	b := bus.NewMemory(bus.MemoryConfig{})
	t.Cleanup(func() { b.Close() })
	in := newInstance(t, d, b, func(c *hub.Config) { c.QueueSize = 8 })
	tok := seed(t, d, in.srv.URL)
	url := in.srv.URL
	host := strings.TrimPrefix(url, "http://")

	fast := openSSE(t, url, "")
	fast.subscribe(t, url, "", 204, "posts/*")

	// The slow client: a small receive buffer, and it stops reading after
	// PB_CONNECT.
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := dialer.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /api/realtime HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	br := bufio.NewReaderSize(conn, 512)
	var slowID string
	for slowID == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := strings.CutPrefix(line, "id:"); ok {
			slowID = strings.TrimSpace(id)
		}
	}
	slow := &sseClient{clientID: slowID}
	slow.subscribe(t, url, "", 204, "posts/*")

	title := strings.Repeat("x", 4000)
	// Loopback sockets buffer a few MB before a write would block.
	n, start := 3000, time.Now()
	ids := make([]string, 0, n)
	for i := range n {
		rec := mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": fmt.Sprintf("%03d%s", i, title[3:]), "published": true})
		ids = append(ids, rec["id"].(string))
		ev := fast.next(t, 2*time.Second) // on time: each event before the next create
		if got := decodeData(t, ev)["record"].(map[string]any)["id"]; got != ids[i] {
			t.Fatalf("fast client event %d: record %v, want %s", i, got, ids[i])
		}
		if in.hub.Stats().Overflows.Load() > 0 && n == 3000 {
			n = i + 20 // a few more after the disconnect, to resume
		}
		if i+1 == n {
			break
		}
	}
	ids = ids[:n]
	t.Logf("%d events to the fast client in %v", n, time.Since(start))
	if in.hub.Stats().Overflows.Load() == 0 {
		t.Fatal("the slow client was not disconnected")
	}

	// Read what the slow client got before it was cut off, then resume.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	// As an EventSource, the last event id is that of the last complete
	// event (an event cut off mid-line was not received).
	var cur, last string
	seen := map[string]bool{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		if id, ok := strings.CutPrefix(line, "id:"); ok {
			cur = strings.TrimSpace(id)
		}
		if data, ok := strings.CutPrefix(line, "data:"); ok && strings.Contains(data, `"record"`) {
			for _, id := range ids {
				if strings.Contains(data, id) {
					seen[id] = true
				}
			}
			last = cur
		}
	}
	if last == "" || len(seen) == 0 || len(seen) >= n {
		t.Fatalf("slow client read %d events before the disconnect (last id %q); want some, not all", len(seen), last)
	}
	t.Logf("slow client read %d of %d events before the disconnect; resuming after %s", len(seen), n, last)
	resumed := openSSE(t, url, last)
	if resumed.clientID != slowID {
		t.Fatalf("resumed as %q, want the session %q", resumed.clientID, slowID)
	}
	for len(seen) < n {
		ev := resumed.next(t, 5*time.Second)
		id := decodeData(t, ev)["record"].(map[string]any)["id"].(string)
		if seen[id] {
			t.Fatalf("event of %s delivered twice", id)
		}
		seen[id] = true
	}
	resumed.none(t, 200*time.Millisecond)
}

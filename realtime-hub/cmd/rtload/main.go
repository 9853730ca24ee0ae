// Command rtload measures realtime delivery: it starts an in-process Base
// (SQLite store, API handler, hub on the in-process bus) or targets -url
// (a separate `base serve`), opens -subs SSE or WebSocket guest subscribers
// on posts/* (gated by the list rule `published = true`), creates -rate
// records per second for -duration, and reports the delivery latency
// percentiles (create request sent → event read by a subscriber), the
// deliveries per second, the writer's create latency and, with -pid, the
// server's peak RSS and CPU use.
//
//	base serve --http 127.0.0.1:18090 --dir /tmp/rt &
//	rtload -url http://127.0.0.1:18090 -pid $! \
//	  -token "$(base token --dir /tmp/rt --sub default/admin --org default --admin)" \
//	  -subs 1000 -rate 20 -duration 20s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/realtime-hub/hub"
	"github.com/hanzoai/base/store/sqlite"
)

func main() {
	subs := flag.Int("subs", 1000, "subscribers")
	rate := flag.Int("rate", 20, "creates per second")
	dur := flag.Duration("duration", 10*time.Second, "measurement duration")
	transport := flag.String("transport", "sse", "sse or ws")
	url := flag.String("url", "", "target base URL (default: in-process server)")
	token := flag.String("token", "", "superuser token for -url (creates the collection)")
	pid := flag.Int("pid", 0, "server process id: sample its RSS and CPU time")
	cpuprofile := flag.String("cpuprofile", "", "write this process's CPU profile (with the in-process server: the hub's too)")
	connect := flag.Int("connect", 200, "subscribers connecting at once")
	memprofile := flag.String("memprofile", "", "write this process's heap profile at the end of the write phase")
	raw := flag.Bool("raw", true, "read SSE streams from a plain TCP connection (leaner than net/http's client, so the generator leaves more CPU to the server); needs an unchunked stream, as base serve sends over HTTP/1.1")
	pollWait := flag.Duration("pollwait", time.Millisecond, "with -pollers: instead of sleeping in epoll_wait until a write wakes it, a poller with nothing ready sleeps this long and polls again (adds up to this much to the measured latency; spares the server the cost of waking the generator on every loopback write, which a remote client would not charge it; 0: sleep in epoll_wait)")
	pollers := flag.Int("pollers", 2, "with -raw: read every subscriber socket from this many epoll goroutines (0: a goroutine per subscriber); WebSocket too: the handshake and frames are then done by hand")
	hidden := flag.Bool("hidden", false, "create records the list rule hides (published=false): subscribers evaluate every event and receive none")
	flag.Parse()

	base := *url
	adminTok := *token
	if base == "" {
		var stop func()
		base, adminTok, stop = startLocal()
		defer stop()
	}
	if err := setup(base, adminTok); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DialContext: (&net.Dialer{}).DialContext}
	client := &http.Client{Transport: tr}

	var poll *poller
	if *raw && *pollers > 0 {
		p, err := newPoller(*pollers, *pollWait)
		if err != nil {
			log.Fatal(err)
		}
		poll = p
	}
	t0 := time.Now()
	recs := make([]*recorder, *subs)
	var ready, done sync.WaitGroup
	sem := make(chan struct{}, *connect)
	var failed atomic.Int64
	for i := range recs {
		rec := &recorder{}
		recs[i] = rec
		ready.Add(1)
		done.Add(1)
		sem <- struct{}{}
		go func() {
			defer done.Done()
			once := sync.OnceFunc(func() { <-sem; ready.Done() })
			var err error
			switch {
			case *transport == "ws" && poll != nil:
				err = runWSRaw(ctx, base, poll, once, rec)
			case *transport == "ws":
				err = runWS(ctx, base, once, rec)
			default:
				err = runSSE(ctx, client, base, *raw, poll, once, rec)
			}
			once()
			if err != nil && ctx.Err() == nil {
				failed.Add(1)
				log.Printf("subscriber: %v", err)
			}
		}()
	}
	ready.Wait()
	fmt.Fprintf(os.Stderr, "%d %s subscribers connected in %v (%d failed)\n", *subs, *transport, time.Since(t0).Round(time.Millisecond), failed.Load())

	var sampler *procSampler
	if *pid > 0 {
		sampler = startSampler(*pid)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}

	var wlat latencies
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	start := time.Now()
	end := start.Add(*dur)
	created := 0
	var writes sync.WaitGroup
	for time.Now().Before(end) {
		<-tick.C
		writes.Add(1)
		go func() {
			defer writes.Done()
			sent := time.Now()
			body, _ := json.Marshal(map[string]any{"title": strconv.FormatInt(sent.UnixNano(), 10), "published": !*hidden})
			req, _ := http.NewRequest("POST", base+"/v1/collections/posts/records", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				log.Printf("create: %v", err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			wlat.add(time.Since(sent))
		}()
		created++
	}
	writes.Wait()
	writeEnd := time.Now()
	// Drain: wait until every delivery arrived or 5 s passed.
	expected := int64(created) * int64(*subs-int(failed.Load()))
	if *hidden {
		expected = 0
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if total(recs) >= expected {
			break
		}
	}
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			log.Fatal(err)
		}
		runtime.GC()
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	var srv procStats
	if sampler != nil {
		srv = sampler.stop()
	}
	cancel()
	delivered := total(recs)
	var all []time.Duration
	for _, r := range recs {
		r.mu.Lock()
		all = append(all, r.d...)
		r.mu.Unlock()
	}
	lat := latencies{d: all}
	p := lat.percentiles()
	w := wlat.percentiles()
	secs := writeEnd.Sub(start).Seconds()
	fmt.Printf("transport=%s subs=%d rate=%d/s duration=%v created=%d deliveries=%d/%d (%.0f/s over the write phase) failed-subs=%d\n",
		*transport, *subs, *rate, *dur, created, delivered, expected, float64(delivered)/secs, failed.Load())
	fmt.Printf("delivery latency: p50=%v p90=%v p99=%v max=%v\n", p[0], p[1], p[2], p[3])
	fmt.Printf("create latency:   p50=%v p90=%v p99=%v max=%v\n", w[0], w[1], w[2], w[3])
	if sampler != nil {
		fmt.Printf("server: peak RSS %.0f MiB (VmHWM %.0f MiB), CPU %.2f cores; rtload %.2f cores; other processes %.2f cores (machine busy %.2f of %d cores)\n",
			float64(srv.peakRSS)/(1<<20), float64(srv.hwm)/(1<<20), srv.cpu, srv.self, max(0, srv.busy-srv.cpu-srv.self), srv.busy, runtime.NumCPU())
	}
}

// recorder collects one subscriber's delivery latencies.
type recorder struct {
	mu sync.Mutex
	d  []time.Duration
	n  atomic.Int64
}

// record notes the latency of an event whose record title is its send time
// in Unix nanoseconds; it scans the bytes instead of decoding the JSON, so
// the generator's cost per delivery stays small next to the server's.
func (r *recorder) record(data []byte) {
	i := bytes.Index(data, titleKey)
	if i < 0 {
		return
	}
	var ns int64
	for _, c := range data[i+len(titleKey):] {
		if c < '0' || c > '9' {
			break
		}
		ns = ns*10 + int64(c-'0')
	}
	if ns == 0 {
		return
	}
	d := time.Since(time.Unix(0, ns))
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
	r.n.Add(1)
}

var titleKey = []byte(`"title":"`)

func total(recs []*recorder) int64 {
	var n int64
	for _, r := range recs {
		n += r.n.Load()
	}
	return n
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }
func (l *latencies) percentiles() [4]time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return [4]time.Duration{}
	}
	slices.Sort(l.d)
	at := func(q float64) time.Duration {
		return l.d[min(len(l.d)-1, int(q*float64(len(l.d))))].Round(100 * time.Microsecond)
	}
	return [4]time.Duration{at(0.5), at(0.9), at(0.99), l.d[len(l.d)-1].Round(100 * time.Microsecond)}
}

func runSSE(ctx context.Context, client *http.Client, base string, raw bool, poll *poller, ready func(), rec *recorder) error {
	var br *bufio.Reader
	var rawConn net.Conn
	if raw {
		host := strings.TrimPrefix(base, "http://")
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
		if err != nil {
			return err
		}
		defer conn.Close()
		rawConn = conn
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		if _, err := io.WriteString(conn, "GET /api/realtime HTTP/1.1\r\nHost: "+host+"\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
			return err
		}
		br = bufio.NewReaderSize(conn, 4<<10)
		status, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.Contains(status, " 200 ") {
			return fmt.Errorf("stream: %s", strings.TrimSpace(status))
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(strings.ToLower(line), "transfer-encoding:") {
				return fmt.Errorf("stream is chunked: run with -raw=false")
			}
			if line == "\r\n" {
				break
			}
		}
	} else {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime", nil)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		br = bufio.NewReaderSize(res.Body, 16<<10)
	}
	subscribed := false
	var id string
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(line, []byte("id:")) && !subscribed:
			id = strings.TrimSpace(string(line[3:]))
		case bytes.HasPrefix(line, []byte("data:")):
			if !subscribed {
				subscribed = true
				body, _ := json.Marshal(map[string]any{"clientId": id, "subscriptions": []string{"posts/*"}})
				r, err := client.Post(base+"/api/realtime", "application/json", bytes.NewReader(body))
				if err != nil {
					return fmt.Errorf("subscribe: %w", err)
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != 204 {
					return fmt.Errorf("subscribe: status %d", r.StatusCode)
				}
				ready()
				if poll != nil && rawConn != nil {
					left, _ := br.Peek(br.Buffered())
					done, err := poll.add(rawConn, left, false, rec)
					if err != nil {
						return err
					}
					select {
					case err := <-done:
						return err
					case <-ctx.Done():
						return nil
					}
				}
				continue
			}
			rec.record(line[5:])
		}
	}
}

// runWSRaw opens a WebSocket by hand on a plain TCP connection and hands
// it to the poller, which parses the frames.
func runWSRaw(ctx context.Context, base string, poll *poller, ready func(), rec *recorder) error {
	host := strings.TrimPrefix(base, "http://")
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := io.WriteString(conn, "GET /v1/realtime/ws HTTP/1.1\r\nHost: "+host+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 4<<10)
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(status, " 101 ") {
		return fmt.Errorf("websocket: %s", strings.TrimSpace(status))
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := conn.Write(clientFrame(0x1, []byte(`{"type":"subscribe","topics":["posts/*"]}`))); err != nil {
		return err
	}
	left, _ := br.Peek(br.Buffered())
	done, err := poll.add(conn, left, true, rec)
	if err != nil {
		return err
	}
	ready()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return nil
	}
}

func runWS(ctx context.Context, base string, ready func(), rec *recorder) error {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/realtime/ws", nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","topics":["posts/*"]}`)); err != nil {
		return err
	}
	ready()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(`"type":"event"`)) {
			rec.record(data)
		}
	}
}

// procStats are a process's peak resident set and CPU use.
type procStats struct {
	peakRSS, hwm int64
	cpu          float64 // cores used by the server
	self         float64 // cores used by rtload
	busy         float64 // cores used by the whole machine (/proc/stat)
}

type procSampler struct {
	pid  int
	stop func() procStats
}

// startSampler samples /proc/pid every 250 ms: VmRSS (peak kept), VmHWM,
// and utime+stime for the CPU cores used over the sampling period.
func startSampler(pid int) *procSampler {
	ps := &procSampler{pid: pid}
	quit := make(chan struct{})
	res := make(chan procStats)
	go func() {
		var st procStats
		c0, s0, t0 := cpuTicks(pid), cpuTicks(os.Getpid()), time.Now()
		b0, _ := machineTicks()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			rss, hwm := memStatus(pid)
			st.peakRSS = max(st.peakRSS, rss)
			st.hwm = max(st.hwm, hwm)
			select {
			case <-t.C:
			case <-quit:
				secs := time.Since(t0).Seconds()
				st.cpu = float64(cpuTicks(pid)-c0) / 100 / secs
				st.self = float64(cpuTicks(os.Getpid())-s0) / 100 / secs
				b1, _ := machineTicks()
				st.busy = float64(b1-b0) / 100 / secs
				res <- st
				return
			}
		}
	}()
	ps.stop = func() procStats { close(quit); return <-res }
	return ps
}

func memStatus(pid int) (rss, hwm int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			hwm = n << 10
		}
	}
	return rss, hwm
}

// machineTicks returns the machine's non-idle CPU time in clock ticks.
func machineTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, nil
}

// cpuTicks returns utime+stime of pid in clock ticks (USER_HZ = 100).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// startLocal runs Base in-process on a temp dir; the returned token is
// empty because the default org's guest... collection creation goes
// through the store directly.
func startLocal() (string, string, func()) {
	dir, err := os.MkdirTemp("", "rtload")
	if err != nil {
		log.Fatal(err)
	}
	st, err := sqlite.Open(sqlite.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	b := bus.NewMemory(bus.MemoryConfig{})
	api, err := handler.New(handler.Config{Store: st, Publisher: b, Verifier: adminVerifier{}})
	if err != nil {
		log.Fatal(err)
	}
	h, err := hub.New(hub.Config{Store: st, Bus: b, Verifier: adminVerifier{}, QueueSize: 4096})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/realtime", h.Handler())
	mux.Handle("/v1/realtime/", h.Handler())
	mux.Handle("/api/realtime", h.Handler())
	mux.Handle("/", api)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	return srv.URL, "rtload-admin", func() {
		srv.Close()
		h.Close()
		b.Close()
		st.Close()
		os.RemoveAll(dir)
	}
}

// adminVerifier trusts exactly the token "rtload-admin" as an org admin
// of "default" (in-process mode only).
type adminVerifier struct{}

func (adminVerifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	if token != "rtload-admin" {
		return nil, fmt.Errorf("unknown token")
	}
	return map[string]any{"sub": "rtload", "owner": "default", "isAdmin": true}, nil
}

// setup creates the posts collection, its list rule gating guests.
func setup(base, token string) error {
	body, _ := json.Marshal(map[string]any{
		"name": "posts", "type": "base",
		"fields":   []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "published", "type": "bool"}},
		"listRule": "published = true", "viewRule": "published = true", "createRule": "",
	})
	req, _ := http.NewRequest("POST", base+"/v1/collections", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 && res.StatusCode != 400 {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("create collection: %d %s", res.StatusCode, b)
	}
	return nil
}

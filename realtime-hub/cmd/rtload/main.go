// Command rtload measures realtime delivery: it starts an in-process Base
// (SQLite store, API handler, hub on the in-process bus) or targets -url,
// opens -subs SSE or WebSocket guest subscribers on posts/* (gated by the
// list rule `published = true`), creates -rate records per second for
// -duration, and reports the delivery latency percentiles (create request
// sent → event read by a subscriber), the deliveries per second and the
// writer's create latency.
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
	var lat latencies
	var delivered atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ready sync.WaitGroup
	t0 := time.Now()
	tr := &http.Transport{MaxIdleConnsPerHost: 100, DialContext: (&net.Dialer{}).DialContext}
	client := &http.Client{Transport: tr}
	for i := 0; i < *subs; i++ {
		ready.Add(1)
		go func() {
			var err error
			if *transport == "ws" {
				err = runWS(ctx, base, &ready, &lat, &delivered)
			} else {
				err = runSSE(ctx, client, base, &ready, &lat, &delivered)
			}
			if err != nil && ctx.Err() == nil {
				log.Printf("subscriber: %v", err)
			}
		}()
	}
	ready.Wait()
	fmt.Fprintf(os.Stderr, "%d %s subscribers connected in %v\n", *subs, *transport, time.Since(t0).Round(time.Millisecond))
	lat.reset()
	delivered.Store(0)

	var wlat latencies
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	end := time.Now().Add(*dur)
	start := time.Now()
	created := 0
	for time.Now().Before(end) {
		<-tick.C
		go func() {
			sent := time.Now()
			body, _ := json.Marshal(map[string]any{"title": strconv.FormatInt(sent.UnixNano(), 10), "published": true})
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
	time.Sleep(2 * time.Second) // drain
	elapsed := time.Since(start)
	cancel()
	p := lat.percentiles()
	w := wlat.percentiles()
	fmt.Printf("transport=%s subs=%d rate=%d/s duration=%v created=%d deliveries=%d (%.0f/s, expected %d)\n",
		*transport, *subs, *rate, *dur, created, delivered.Load(), float64(delivered.Load())/elapsed.Seconds(), created**subs)
	fmt.Printf("delivery latency: p50=%v p90=%v p99=%v max=%v\n", p[0], p[1], p[2], p[3])
	fmt.Printf("create latency:   p50=%v p90=%v p99=%v max=%v\n", w[0], w[1], w[2], w[3])
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }
func (l *latencies) reset()              { l.mu.Lock(); l.d = nil; l.mu.Unlock() }
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

// record notes the latency of an event whose title is its send time.
func record(data []byte, lat *latencies, n *atomic.Int64) {
	var m struct {
		Record struct {
			Title string `json:"title"`
		} `json:"record"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	ns, err := strconv.ParseInt(m.Record.Title, 10, 64)
	if err != nil {
		return
	}
	lat.add(time.Since(time.Unix(0, ns)))
	n.Add(1)
}

func runSSE(ctx context.Context, client *http.Client, base string, ready *sync.WaitGroup, lat *latencies, n *atomic.Int64) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime", nil)
	res, err := client.Do(req)
	if err != nil {
		ready.Done()
		return err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	subscribed := false
	var id string
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("id:")) && !subscribed:
			id = string(line[3:])
		case bytes.HasPrefix(line, []byte("data:")):
			if !subscribed {
				subscribed = true
				body, _ := json.Marshal(map[string]any{"clientId": id, "subscriptions": []string{"posts/*"}})
				r, err := client.Post(base+"/api/realtime", "application/json", bytes.NewReader(body))
				if err != nil || r.StatusCode != 204 {
					ready.Done()
					return fmt.Errorf("subscribe: %v %v", err, r)
				}
				r.Body.Close()
				ready.Done()
				continue
			}
			record(line[5:], lat, n)
		}
	}
	return sc.Err()
}

func runWS(ctx context.Context, base string, ready *sync.WaitGroup, lat *latencies, n *atomic.Int64) error {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/v1/realtime/ws", nil)
	if err != nil {
		ready.Done()
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","topics":["posts/*"]}`)); err != nil {
		ready.Done()
		return err
	}
	ready.Done()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(`"type":"event"`)) {
			record(data, lat, n)
		}
	}
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

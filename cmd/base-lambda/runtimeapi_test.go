package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runtimeAPI is a Lambda Runtime API server (the subset aws-lambda-go
// uses: next, response, error, init/error), standing in for the Lambda
// service: tests queue events and read back what the function answered.
type runtimeAPI struct {
	srv    *httptest.Server
	events chan invocation

	mu      sync.Mutex
	results map[string]chan result
	seq     int
	polling int // /next requests waiting
	conns   int // open client connections
}

type invocation struct {
	id      string
	payload []byte
}

// result is what the function posted for one invocation.
type result struct {
	body  []byte
	err   bool // posted to /error
	at    time.Time
	error string
}

func newRuntimeAPI(tb testing.TB) *runtimeAPI {
	tb.Helper()
	rt := &runtimeAPI{events: make(chan invocation, 64), results: map[string]chan result{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		rt.polling++
		rt.mu.Unlock()
		defer func() {
			rt.mu.Lock()
			rt.polling--
			rt.mu.Unlock()
		}()
		select {
		case inv := <-rt.events:
			if r.Context().Err() != nil {
				// The poller went away (a function process killed while it
				// long-polled) as its event arrived: keep the event for the
				// next one, as the Lambda service would, instead of losing it.
				rt.events <- inv
				return
			}
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:base")
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
			h.Set("Content-Type", "application/json")
			w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	post := func(isErr bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			rt.mu.Lock()
			ch := rt.results[r.PathValue("id")]
			rt.mu.Unlock()
			if ch == nil {
				http.Error(w, "unknown invocation", http.StatusBadRequest)
				return
			}
			ch <- result{body: b, err: isErr, at: time.Now(), error: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", post(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", post(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tb.Errorf("function reported an init error: %s", b)
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = httptest.NewUnstartedServer(mux)
	rt.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		rt.mu.Lock()
		switch st {
		case http.StateNew:
			rt.conns++
		case http.StateClosed, http.StateHijacked:
			rt.conns--
		}
		rt.mu.Unlock()
	}
	rt.srv.Start()
	tb.Cleanup(rt.srv.Close)
	return rt
}

// quiesce waits until no function process is connected: after killing
// one, its connections must be gone before the next event is queued — a
// /next request it sent just before dying can still be read from the
// socket and handed the event, which then goes nowhere.
func (rt *runtimeAPI) quiesce(tb testing.TB) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		rt.mu.Lock()
		n := rt.polling + rt.conns
		rt.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d runtime API polls or connections still open", n)
		}
	}
}

// addr is the AWS_LAMBDA_RUNTIME_API value.
func (rt *runtimeAPI) addr() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

// invoke queues payload and returns a channel with the function's answer.
func (rt *runtimeAPI) invoke(payload []byte) <-chan result {
	rt.mu.Lock()
	rt.seq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", rt.seq)
	ch := make(chan result, 1)
	rt.results[id] = ch
	rt.mu.Unlock()
	rt.events <- invocation{id: id, payload: payload}
	return ch
}

// call invokes and waits for the answer.
func (rt *runtimeAPI) call(tb testing.TB, payload []byte) result {
	tb.Helper()
	select {
	case res := <-rt.invoke(payload):
		return res
	case <-time.After(30 * time.Second):
		tb.Fatal("no answer from the function within 30s")
	}
	return result{}
}

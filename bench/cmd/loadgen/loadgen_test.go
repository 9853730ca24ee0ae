package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", ms(7), 99, 7 * time.Millisecond},
		{"median of 4 is the 2nd", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p100 is max", hundred, 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		rss, hwm int64
		wantErr  bool
	}{
		{"real shape", "Name:\tbase\nVmPeak:\t 1000 kB\nVmHWM:\t   98765 kB\nVmRSS:\t   91234 kB\nThreads: 9\n", 91234, 98765, false},
		{"missing hwm", "VmRSS:\t 5 kB\n", 0, 0, true},
		{"garbage number", "VmRSS:\t x kB\nVmHWM:\t 1 kB\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && (rss != tt.rss || hwm != tt.hwm) {
				t.Errorf("got rss %d hwm %d, want %d %d", rss, hwm, tt.rss, tt.hwm)
			}
		})
	}
}

func TestRSSSamplerOwnProcess(t *testing.T) {
	s, err := StartRSSSampler(os.Getpid(), 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s.Mark()
	big := make([]byte, 64<<20) // touch 64 MiB so RSS must grow past it
	for i := range big {
		big[i] = 1
	}
	peak := s.PeakSinceMark()
	s.Stop()
	s.Stop() // twice is fine
	if peak < 64<<10 {
		t.Errorf("peak RSS since mark %d KiB after touching 64 MiB", peak)
	}
	if s.HWM() < s.Peak() || s.Peak() < peak {
		t.Errorf("HWM %d, peak %d, peak since mark %d: want HWM >= peak >= mark peak", s.HWM(), s.Peak(), peak)
	}
	_ = big[len(big)-1]
	if _, err := StartRSSSampler(1<<30, time.Second); err == nil {
		t.Error("sampler started on a missing pid")
	}
}

// TestRunScenarioCounts runs a real closed loop against a server that fails
// every third request and checks the bookkeeping.
func TestRunScenarioCounts(t *testing.T) {
	var n, posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "tok" {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		if n.Add(1)%3 == 0 {
			http.Error(w, `{"status":500,"message":"boom"}`, http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL, Prefix: "/api", Token: "tok", Clients: 4, Duration: 300 * time.Millisecond,
		Warmup: 50 * time.Millisecond, Pages: 3, Seed: 1, Timeout: time.Second}
	c := newClient(cfg)
	d := &Dataset{PostIDs: []string{"a", "b"}, AuthorIDs: []string{"x"}}
	sc, _ := scenarioByName("create")
	res := RunScenario(context.Background(), c, sc, d, cfg, 0)

	if res.Requests == 0 || res.RPS <= 0 {
		t.Fatalf("no requests measured: %+v", res)
	}
	if int64(res.Requests) > n.Load() || int64(res.Requests) > posts.Load() {
		t.Errorf("measured %d requests, server saw %d (%d POSTs)", res.Requests, n.Load(), posts.Load())
	}
	// Roughly a third fail; exactness depends on warm-up boundaries.
	if res.Non2xx < res.Requests/5 || res.Non2xx > res.Requests/2 {
		t.Errorf("non2xx %d of %d, want about a third", res.Non2xx, res.Requests)
	}
	if res.Errors != res.Non2xx+res.TransportErrors {
		t.Errorf("errors %d != non2xx %d + transport %d", res.Errors, res.Non2xx, res.TransportErrors)
	}
	if len(res.ErrorSamples) != maxErrorSamples || !strings.Contains(res.ErrorSamples[0], "500") {
		t.Errorf("error samples: %q", res.ErrorSamples)
	}
	if !(res.P50MS <= res.P90MS && res.P90MS <= res.P99MS && res.P99MS <= res.MaxMS) {
		t.Errorf("percentiles out of order: %+v", res)
	}
	if res.Seconds < 0.3 {
		t.Errorf("window %.3fs shorter than the duration", res.Seconds)
	}
}

// TestVerify checks that a server answering list requests without honouring
// the filter, or without expanding, is caught.
func TestVerify(t *testing.T) {
	good := postRecord{ID: "p1", Title: "lorem ipsum", Views: 500, Status: "published", Author: "a1", Created: "2024-01-02 00:00:00.000Z"}
	tests := []struct {
		name     string
		scenario string
		item     map[string]any
		total    int
		wantErr  string
	}{
		{"list ok", "list", item(good, false), 7, ""},
		{"list ignores filter", "list", item(postRecord{ID: "p1", Views: 5, Status: "draft", Created: good.Created}, false), 7, "does not match"},
		{"list wrong total", "list", item(good, false), 8, "totalItems"},
		{"expand ok", "expand", item(good, true), 3, ""},
		{"expand missing", "expand", item(good, false), 3, "expand.author"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{
					"page": 1, "perPage": 20, "totalItems": tt.total, "items": []any{tt.item},
				})
			}))
			defer srv.Close()
			cfg := Config{URL: srv.URL, Prefix: "/api", Clients: 1, Seed: 1, Timeout: time.Second}
			sc, _ := scenarioByName(tt.scenario)
			err := Verify(context.Background(), newClient(cfg), sc, &Dataset{PostIDs: []string{"p1"}}, cfg,
				&SetupSummary{ListMatches: 7, ExpandMatches: 3})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Verify err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func item(p postRecord, expand bool) map[string]any {
	m := map[string]any{"id": p.ID, "title": p.Title, "views": p.Views, "status": p.Status,
		"author": p.Author, "created": p.Created}
	if expand {
		m["expand"] = map[string]any{"author": map[string]any{"id": p.Author, "name": "x"}}
	}
	return m
}

func TestListQueryEncoding(t *testing.T) {
	// The wire form the issue asks for: && escaped, the filter quoted as is.
	q := listQuery(3)
	for _, want := range []string{"page=3", "perPage=20", "sort=-created", "filter=%28views%3E100+%26%26+status%3D%27published%27%29"} {
		if !strings.Contains(q, want) {
			t.Errorf("%s lacks %s", q, want)
		}
	}
	if q := expandQuery(1); !strings.Contains(q, "expand=author") || !strings.Contains(q, "filter=title~%27lorem%27") {
		t.Errorf("expand query %s", q)
	}
}

package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// When COLDSTART_HELPER_ADDR is set the test binary acts as the server under
// test: it sleeps COLDSTART_HELPER_DELAY_MS, then serves 200 on /health (or
// exits at once with COLDSTART_HELPER_CRASH).
func TestMain(m *testing.M) {
	if addr := os.Getenv("COLDSTART_HELPER_ADDR"); addr != "" {
		if os.Getenv("COLDSTART_HELPER_CRASH") != "" {
			os.Exit(3)
		}
		ms, _ := strconv.Atoi(os.Getenv("COLDSTART_HELPER_DELAY_MS"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
		if err := http.ListenAndServe(addr, nil); err != nil {
			os.Exit(2)
		}
		return
	}
	os.Exit(m.Run())
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestMeasure(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv("COLDSTART_HELPER_ADDR", addr)
	t.Setenv("COLDSTART_HELPER_DELAY_MS", "40")
	cfg := Config{Command: []string{os.Args[0]}, URL: "http://" + addr + "/health", N: 3, Discard: 1,
		Timeout: 10 * time.Second, Grace: 2 * time.Second}
	res, err := Measure(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 3 || len(res.Discarded) != 1 {
		t.Fatalf("samples %v discarded %v", res.Samples, res.Discarded)
	}
	for _, v := range res.Samples {
		if v < 40 || v > 5000 {
			t.Errorf("sample %.2fms: the server sleeps 40ms before listening", v)
		}
	}
	if !(res.MinMS <= res.MedianMS && res.MedianMS <= res.P90MS && res.P90MS <= res.MaxMS) {
		t.Errorf("summary out of order: %+v", res)
	}
	// Every run was stopped: nothing answers any more.
	if ok, _ := healthy(context.Background(), http.DefaultClient, cfg.URL); ok {
		t.Error("a server is still running after Measure")
	}
}

func TestMeasureServerExits(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv("COLDSTART_HELPER_ADDR", addr)
	t.Setenv("COLDSTART_HELPER_CRASH", "1")
	_, err := Measure(context.Background(), Config{Command: []string{os.Args[0]}, URL: "http://" + addr + "/health",
		N: 1, Timeout: 5 * time.Second, Grace: time.Second})
	if err == nil {
		t.Fatal("Measure succeeded against a server that exits")
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		samples               []float64
		median, p90, min, max float64
	}{
		{[]float64{3, 1, 2}, 2, 3, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 4, 1, 4},
		{[]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 5.5, 9, 1, 10},
	}
	for _, tt := range tests {
		r := &Result{Samples: tt.samples}
		r.summarize()
		if r.MedianMS != tt.median || r.P90MS != tt.p90 || r.MinMS != tt.min || r.MaxMS != tt.max {
			t.Errorf("%v: got median %v p90 %v min %v max %v", tt.samples, r.MedianMS, r.P90MS, r.MinMS, r.MaxMS)
		}
	}
}

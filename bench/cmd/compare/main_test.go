package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeResult(t testing.TB, dir, name string, rps, p99 float64, rss int64, cold float64, verified bool) string {
	t.Helper()
	body := fmt.Sprintf(`{"target":%q,"version":"v","date":"d","load":{"records":10000,"clients":32,
	"scenarios":[{"name":"list","requests":10,"verified":%v,"rps":%v,"p99Ms":%v},
	             {"name":"view","requests":10,"verified":%v,"rps":%v,"p99Ms":%v}],
	"peakRSSKB":%d,"vmHWMKB":%d},"coldstart":{"medianMs":%v}}`,
		name, verified, rps, p99, verified, rps, p99, rss, rss, cold)
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	ref := writeResult(t, dir, "pocketbase", 1000, 50, 100_000, 25, true)
	tests := []struct {
		name     string
		rps, p99 float64
		rss      int64
		cold     float64
		verified bool
		wantOK   bool
		wantText string
	}{
		{"meets all", 1600, 40, 50_000, 10, true, true, "all targets met"},
		{"too slow", 1400, 40, 50_000, 10, true, false, "1.40x"},
		{"worse p99", 1600, 60, 50_000, 10, true, false, "targets missed"},
		{"more memory", 1600, 40, 200_000, 10, true, false, "peak RSS"},
		{"slow cold start", 1600, 40, 50_000, 31, true, false, "targets missed"},
		{"wrong answers", 1600, 40, 50_000, 10, false, false, "wrong-answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cand := writeResult(t, t.TempDir(), "base", tt.rps, tt.p99, tt.rss, tt.cold, tt.verified)
			var out strings.Builder
			ok, err := run([]string{cand, ref}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || !strings.Contains(out.String(), tt.wantText) {
				t.Errorf("ok = %v (want %v), output:\n%s", ok, tt.wantOK, out.String())
			}
		})
	}
}

package cloudrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hanzoai/base/adapters/cloudrun"
)

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name, traceparent, cloud string
		want                     cloudrun.Trace
		ok                       bool
	}{
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", cloudrun.Trace{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true}, true},
		{"traceparent unsampled wins over cloud", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00", "105445aa7843bc8bf206b12000100000/1;o=1", cloudrun.Trace{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", false}, true},
		{"cloud trace context", "", "105445aa7843bc8bf206b12000100000/1;o=1", cloudrun.Trace{"105445aa7843bc8bf206b12000100000", "0000000000000001", true}, true},
		{"cloud without span", "", "105445aa7843bc8bf206b12000100000", cloudrun.Trace{TraceID: "105445aa7843bc8bf206b12000100000"}, true},
		{"bad traceparent falls back", "00-zz-00f067aa0ba902b7-01", "105445aa7843bc8bf206b12000100000/18446744073709551615;o=0", cloudrun.Trace{"105445aa7843bc8bf206b12000100000", "ffffffffffffffff", false}, true},
		{"all-zero id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", cloudrun.Trace{}, false},
		{"short", "", "abc/1", cloudrun.Trace{}, false},
		{"none", "", "", cloudrun.Trace{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.traceparent != "" {
				h.Set("Traceparent", tt.traceparent)
			}
			if tt.cloud != "" {
				h.Set("X-Cloud-Trace-Context", tt.cloud)
			}
			got, ok := cloudrun.ParseTrace(h)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseTrace = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestLogLines checks that request logs are Cloud Logging structured JSON
// correlated with the request's trace.
func TestLogLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(cloudrun.LogHandler(&buf, "my-project", slog.LevelDebug)).With("svc", "base")
	h := cloudrun.Tracing(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "request", "status", 200)
		log.WarnContext(r.Context(), "slow")
		log.ErrorContext(context.Background(), "no trace here")
		log.DebugContext(r.Context(), "debug", slog.Group("g", "k", "v"))
	}))
	r := httptest.NewRequest("GET", "/v1/health", nil)
	r.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/255;o=1")
	h.ServeHTTP(httptest.NewRecorder(), r)

	want := []struct {
		severity, message string
		traced            bool
	}{{"INFO", "request", true}, {"WARNING", "slow", true}, {"ERROR", "no trace here", false}, {"DEBUG", "debug", true}}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.Bytes())
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, line)
		}
		if m["severity"] != want[i].severity || m["message"] != want[i].message || m["svc"] != "base" || m["time"] == nil {
			t.Errorf("line %d = %v", i, m)
		}
		if _, ok := m["level"]; ok {
			t.Errorf("line %d still has level: %v", i, m)
		}
		if !want[i].traced {
			if _, ok := m[cloudrun.FieldTrace]; ok {
				t.Errorf("line %d has a trace without a request: %v", i, m)
			}
			continue
		}
		if m[cloudrun.FieldTrace] != "projects/my-project/traces/105445aa7843bc8bf206b12000100000" || m[cloudrun.FieldSpanID] != "00000000000000ff" || m[cloudrun.FieldTraceSampled] != true {
			t.Errorf("line %d trace fields: %v", i, m)
		}
	}
}

func TestFunctionOpensOnceAndRetriesFailures(t *testing.T) {
	calls := 0
	fail := true
	fn := cloudrun.Function(func(ctx context.Context) (http.Handler, error) {
		calls++
		if fail {
			return nil, errors.New("store unreachable")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, traced := cloudrun.TraceFrom(r.Context())
			if !traced {
				t.Error("function requests must be traced")
			}
			w.WriteHeader(204)
		}), nil
	}, nil)
	req := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		fn(w, r)
		return w
	}
	if w := req(); w.Code != 503 || w.Body.String() != `{"status":503,"message":"Service unavailable.","data":{}}` {
		t.Errorf("failed open: %d %s", w.Code, w.Body)
	}
	fail = false
	for range 3 {
		if w := req(); w.Code != 204 {
			t.Errorf("status %d", w.Code)
		}
	}
	if calls != 2 {
		t.Errorf("open called %d times, want 2 (one failure, one success)", calls)
	}
}

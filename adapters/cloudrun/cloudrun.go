// Package cloudrun adapts Base to Google Cloud Run and Cloud Functions
// (2nd gen): structured JSON logs in Cloud Logging's format, with every
// line of a request correlated to its trace (from traceparent or
// X-Cloud-Trace-Context), and a lazily initialized HTTP function for
// functions-framework-go. Serving and SIGTERM draining are plain HTTP:
// cmd/base-cloudrun runs the handler with adapters/http on $PORT.
package cloudrun

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Trace is the trace context of one request.
type Trace struct {
	TraceID string // 32 lower-case hex digits
	SpanID  string // 16 lower-case hex digits, or ""
	Sampled bool
}

type traceKey struct{}

// WithTrace returns ctx carrying t.
func WithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace ctx carries, if any.
func TraceFrom(ctx context.Context) (Trace, bool) {
	t, ok := ctx.Value(traceKey{}).(Trace)
	return t, ok
}

// ParseTrace reads the W3C traceparent header, else Google's
// X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1", span id in decimal). It
// reports false when neither holds a valid trace id.
func ParseTrace(h http.Header) (Trace, bool) {
	if t, ok := parseTraceparent(h.Get("Traceparent")); ok {
		return t, true
	}
	return parseCloudTrace(h.Get("X-Cloud-Trace-Context"))
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.Trim(s, "0") != ""
}

// parseTraceparent: version-traceid-parentid-flags.
func parseTraceparent(v string) (Trace, bool) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || !isHex(parts[1], 32) || !isHex(parts[2], 16) || len(parts[3]) != 2 {
		return Trace{}, false
	}
	flags, err := strconv.ParseUint(parts[3], 16, 8)
	if err != nil {
		return Trace{}, false
	}
	return Trace{TraceID: strings.ToLower(parts[1]), SpanID: strings.ToLower(parts[2]), Sampled: flags&1 == 1}, true
}

// parseCloudTrace: TRACE_ID[/SPAN_ID][;o=OPTIONS].
func parseCloudTrace(v string) (Trace, bool) {
	v = strings.TrimSpace(v)
	rest, opts, _ := strings.Cut(v, ";")
	id, span, _ := strings.Cut(rest, "/")
	if !isHex(id, 32) {
		return Trace{}, false
	}
	t := Trace{TraceID: strings.ToLower(id), Sampled: strings.TrimSpace(opts) == "o=1"}
	if n, err := strconv.ParseUint(span, 10, 64); err == nil && n != 0 {
		t.SpanID = hex.EncodeToString([]byte{byte(n >> 56), byte(n >> 48), byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	return t, true
}

// Tracing is middleware that puts the request's trace into its context,
// where LogHandler finds it.
func Tracing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := ParseTrace(r.Header); ok {
			r = r.WithContext(WithTrace(r.Context(), t))
		}
		next.ServeHTTP(w, r)
	})
}

// Cloud Logging's special JSON fields
// (https://cloud.google.com/logging/docs/structured-logging).
const (
	FieldTrace        = "logging.googleapis.com/trace"
	FieldSpanID       = "logging.googleapis.com/spanId"
	FieldTraceSampled = "logging.googleapis.com/trace_sampled"
)

// Severity maps a slog level to a Cloud Logging severity.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < slog.LevelError+4:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

// LogHandler returns a slog.Handler writing one JSON object per line in
// Cloud Logging's structured format: "severity", "message", "time" (RFC
// 3339), the record's attributes, and — for a record logged with a
// request's context — the trace fields, "projects/PROJECT/traces/ID" when
// project is known.
func LogHandler(w io.Writer, project string, level slog.Leveler) slog.Handler {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				lvl, _ := a.Value.Any().(slog.Level)
				return slog.String("severity", Severity(lvl))
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	})
	return traceHandler{Handler: h, project: project}
}

type traceHandler struct {
	slog.Handler
	project string
}

func (t traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if tr, ok := TraceFrom(ctx); ok {
		r = r.Clone()
		if t.project != "" {
			r.AddAttrs(slog.String(FieldTrace, "projects/"+t.project+"/traces/"+tr.TraceID))
		} else {
			r.AddAttrs(slog.String(FieldTrace, tr.TraceID))
		}
		if tr.SpanID != "" {
			r.AddAttrs(slog.String(FieldSpanID, tr.SpanID))
		}
		r.AddAttrs(slog.Bool(FieldTraceSampled, tr.Sampled))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{Handler: t.Handler.WithAttrs(attrs), project: t.project}
}

func (t traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{Handler: t.Handler.WithGroup(name), project: t.project}
}

// Function returns an HTTP function for functions-framework-go: the
// handler is built by open on the first request (Cloud Functions starts
// the framework's server before any request) and reused afterwards, every
// request traced. If open fails, the request is answered 503 in the
// PocketBase envelope and the next request tries again.
func Function(open func(ctx context.Context) (http.Handler, error), log *slog.Logger) func(http.ResponseWriter, *http.Request) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		mu sync.Mutex
		h  http.Handler
	)
	get := func(ctx context.Context) (http.Handler, error) {
		mu.Lock()
		defer mu.Unlock()
		if h != nil {
			return h, nil
		}
		opened, err := open(ctx)
		if err != nil {
			return nil, err
		}
		h = Tracing(opened)
		return h, nil
	}
	return func(w http.ResponseWriter, r *http.Request) {
		hh, err := get(context.WithoutCancel(r.Context()))
		if err != nil {
			log.ErrorContext(r.Context(), "base function: start failed", "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":503,"message":"Service unavailable.","data":{}}`)
			return
		}
		hh.ServeHTTP(w, r)
	}
}

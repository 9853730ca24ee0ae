package handler

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// jsonLogs returns a logger writing JSON lines and a func decoding them.
func jsonLogs(tb testing.TB) (*slog.Logger, func() []map[string]any) {
	tb.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return logger, func() []map[string]any {
		var lines []map[string]any
		for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				tb.Fatalf("log line %q: %v", l, err)
			}
			lines = append(lines, m)
		}
		return lines
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mk := func(name string) middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name+">")
				next.ServeHTTP(w, r)
				order = append(order, "<"+name)
			})
		}
	}
	h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }), mk("a"), mk("b"), mk("c"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got, want := strings.Join(order, " "), "a> b> c> h <c <b <a"; got != want {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestRecoverer(t *testing.T) {
	t.Run("before write", func(t *testing.T) {
		logger, lines := jsonLogs(t)
		h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom secret") }), recoverer(logger))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/api/x", nil))
		want := `{"status":500,"message":"Something went wrong while processing your request.","data":{}}` + "\n"
		if w.Code != 500 || w.Body.String() != want {
			t.Errorf("got %d %s", w.Code, w.Body.String())
		}
		ls := lines()
		if len(ls) != 1 {
			t.Fatalf("log lines = %v", ls)
		}
		l := ls[0]
		if l["level"] != "ERROR" || l["panic"] != "boom secret" || l["path"] != "/api/x" || l["method"] != "POST" ||
			!strings.Contains(l["stack"].(string), "middleware_test.go") {
			t.Errorf("log = %v", l)
		}
	})
	t.Run("after write keeps the started response", func(t *testing.T) {
		logger, lines := jsonLogs(t)
		h := chain(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(202)
			_, _ = io.WriteString(w, "partial")
			panic("late")
		}), accessLog(logger), recoverer(logger))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 202 || w.Body.String() != "partial" {
			t.Errorf("got %d %q", w.Code, w.Body.String())
		}
		if ls := lines(); len(ls) != 2 {
			t.Errorf("want a panic line and an access line, got %v", ls)
		}
	})
	for _, order := range []string{"recoverer outside accessLog", "accessLog outside recoverer"} {
		t.Run(order, func(t *testing.T) {
			logger, lines := jsonLogs(t)
			mws := []middleware{recoverer(logger), accessLog(logger)}
			if order == "accessLog outside recoverer" {
				mws[0], mws[1] = mws[1], mws[0]
			}
			h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), mws...)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/p", nil))
			want := `{"status":500,"message":"Something went wrong while processing your request.","data":{}}` + "\n"
			if w.Code != 500 || w.Body.String() != want {
				t.Errorf("got %d %s", w.Code, w.Body.String())
			}
			ls := lines()
			if len(ls) != 2 {
				t.Fatalf("want a panic line and an access line, got %v", ls)
			}
			if ls[0]["msg"] != "panic serving request" || ls[0]["requestId"] == "" || ls[0]["requestId"] != ls[1]["requestId"] {
				t.Errorf("panic line = %v", ls[0])
			}
			if ls[1]["msg"] != "request" || ls[1]["status"] != 500.0 || ls[1]["level"] != "WARN" {
				t.Errorf("access line = %v", ls[1])
			}
		})
	}
	t.Run("abort handler re-panics", func(t *testing.T) {
		logger, _ := jsonLogs(t)
		h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), recoverer(logger), accessLog(logger))
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
}

func TestAccessLog(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		reqID     string
		handler   http.HandlerFunc
		status    float64
		bytes     float64
		level     string
		path      string
		org, user string
	}{
		{
			name: "json with org and user", target: "/v1/collections/posts/records?page=2",
			handler: func(w http.ResponseWriter, r *http.Request) {
				setLogAttrs(r, slog.String("org", "acme"))
				setLogAttrs(r, slog.String("user", "u1"))
				writeJSON(w, r, 200, map[string]any{"a": 1})
			},
			status: 200, bytes: 8, level: "INFO", path: "/v1/collections/posts/records?page=2", org: "acme", user: "u1",
		},
		{
			name: "token dropped from the query", target: "/api/files/c/r/a.png?thumb=10x10&token=SECRET&download=1",
			handler: func(w http.ResponseWriter, r *http.Request) { writeNoContent(w) },
			status:  204, level: "INFO", path: "/api/files/c/r/a.png?thumb=10x10&download=1",
		},
		{
			name: "implicit 200", target: "/x",
			handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") },
			status:  200, bytes: 5, level: "INFO", path: "/x",
		},
		{
			name: "nothing written", target: "/x", reqID: "req-123",
			handler: func(http.ResponseWriter, *http.Request) {},
			status:  200, level: "INFO", path: "/x",
		},
		{
			name: "5xx at warn", target: "/x",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeError(w, r, slog.New(slog.DiscardHandler), io.ErrUnexpectedEOF)
			},
			status: 500, bytes: 89, level: "WARN", path: "/x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, lines := jsonLogs(t)
			h := chain(tt.handler, accessLog(logger))
			r := httptest.NewRequest("GET", tt.target, nil)
			r.RemoteAddr = "203.0.113.7:5555"
			if tt.reqID != "" {
				r.Header.Set("X-Request-Id", tt.reqID)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			ls := lines()
			if len(ls) != 1 {
				t.Fatalf("want exactly one line, got %v", ls)
			}
			l := ls[0]
			if l["msg"] != "request" || l["level"] != tt.level || l["method"] != "GET" || l["path"] != tt.path ||
				l["status"] != tt.status || l["bytes"] != tt.bytes || l["remoteIp"] != "203.0.113.7" {
				t.Errorf("log = %v", l)
			}
			if _, ok := l["duration"].(float64); !ok {
				t.Errorf("duration = %#v", l["duration"])
			}
			id, _ := l["requestId"].(string)
			if tt.reqID != "" && id != tt.reqID {
				t.Errorf("requestId = %q, want %q", id, tt.reqID)
			}
			if id == "" || w.Header().Get("X-Request-Id") != id {
				t.Errorf("requestId %q, response header %q", id, w.Header().Get("X-Request-Id"))
			}
			if tt.org != "" && (l["org"] != tt.org || l["user"] != tt.user) {
				t.Errorf("org/user = %v/%v", l["org"], l["user"])
			}
			if strings.Contains(strings.Join([]string{l["path"].(string)}, ""), "SECRET") {
				t.Error("token leaked into the log")
			}
		})
	}
}

func TestAccessLogRequestIDGeneratedWhenInvalid(t *testing.T) {
	logger, lines := jsonLogs(t)
	var seen string
	h := chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = requestID(r.Context()) }), accessLog(logger))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "bad id\n"+strings.Repeat("x", 200))
	h.ServeHTTP(httptest.NewRecorder(), r)
	l := lines()[0]
	if seen == "" || l["requestId"] != seen || strings.Contains(seen, " ") {
		t.Errorf("handler saw %q, logged %v", seen, l["requestId"])
	}
}

func TestAccessLogKeepsFlusher(t *testing.T) {
	logger, _ := jsonLogs(t)
	h := chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapped writer is not a Flusher")
		}
		_, _ = io.WriteString(w, "data: x\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	}), accessLog(logger))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/realtime", nil))
	if !w.Flushed {
		t.Error("not flushed")
	}
}

func TestSetLogAttrsWithoutAccessLog(t *testing.T) {
	setLogAttrs(httptest.NewRequest("GET", "/", nil), slog.String("org", "x")) // must not panic
	if requestID(httptest.NewRequest("GET", "/", nil).Context()) != "" {
		t.Error("request id without accessLog")
	}
}

func TestLogPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a", "/a"},
		{"/a?x=1&y=2", "/a?x=1&y=2"},
		{"/a?token=s", "/a"},
		{"/a?token=s&x=1", "/a?x=1"},
		{"/a?x=1&Token=s&token&y=2", "/a?x=1&y=2"},
		{"/a?%74oken=s&x=%2C", "/a?x=%2C"},
		{"/a?tokens=keep", "/a?tokens=keep"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := logPath(u); got != tt.want {
			t.Errorf("logPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/file" {
			w.Header().Del("X-Frame-Options")
		}
	}), securityHeaders)
	for _, path := range []string{"/", "/file"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		want := map[string]string{
			"X-Xss-Protection":           "1; mode=block",
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "SAMEORIGIN",
			"Cross-Origin-Opener-Policy": "same-origin",
		}
		if path == "/file" {
			want["X-Frame-Options"] = ""
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name        string
		allowed     []string
		method      string
		origin      string
		reqHeaders  string
		wantStatus  int
		wantReached bool
		wantOrigin  string
		wantMethods string
		wantHeaders string
		wantVary    string
	}{
		{"default simple", nil, "GET", "https://app.example", "", 200, true, "*", "", "", ""},
		{"default without origin", nil, "GET", "", "", 200, true, "*", "", "", ""},
		{"default preflight", nil, "OPTIONS", "https://app.example", "authorization,content-type,accept-language", 204, false,
			"*", "GET, HEAD, PUT, PATCH, POST, DELETE", "authorization,content-type,accept-language",
			"Access-Control-Request-Method, Access-Control-Request-Headers"},
		{"star entry", []string{"*"}, "GET", "https://a.example", "", 200, true, "*", "", "", ""},
		{"configured allowed", []string{"https://a.example", "https://b.example/"}, "GET", "https://b.example", "", 200, true, "https://b.example", "", "", "Origin"},
		{"configured case-insensitive", []string{"https://A.example"}, "GET", "https://a.example", "", 200, true, "https://a.example", "", "", "Origin"},
		{"configured denied", []string{"https://a.example"}, "GET", "https://evil.example", "", 200, true, "", "", "", "Origin"},
		{"configured preflight allowed", []string{"https://a.example"}, "OPTIONS", "https://a.example", "authorization", 204, false,
			"https://a.example", "GET, HEAD, PUT, PATCH, POST, DELETE", "authorization",
			"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		{"configured preflight denied", []string{"https://a.example"}, "OPTIONS", "https://evil.example", "authorization", 204, false,
			"", "GET, HEAD, PUT, PATCH, POST, DELETE", "authorization",
			"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			h := chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }), cors(tt.allowed))
			r := httptest.NewRequest(tt.method, "/api/collections/posts/records", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.reqHeaders != "" {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", tt.reqHeaders)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus || reached != tt.wantReached {
				t.Errorf("status %d reached %v, want %d %v", w.Code, reached, tt.wantStatus, tt.wantReached)
			}
			got := w.Header()
			if v := got.Get("Access-Control-Allow-Origin"); v != tt.wantOrigin {
				t.Errorf("Allow-Origin = %q, want %q", v, tt.wantOrigin)
			}
			if v := got.Get("Access-Control-Allow-Methods"); v != tt.wantMethods {
				t.Errorf("Allow-Methods = %q, want %q", v, tt.wantMethods)
			}
			if v := got.Get("Access-Control-Allow-Headers"); v != tt.wantHeaders {
				t.Errorf("Allow-Headers = %q, want %q", v, tt.wantHeaders)
			}
			if v := strings.Join(got.Values("Vary"), ", "); v != tt.wantVary {
				t.Errorf("Vary = %q, want %q", v, tt.wantVary)
			}
		})
	}
}

func TestLimitBody(t *testing.T) {
	var readErr error
	h := func(limit int64) http.Handler {
		return chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(r, 1<<30) // the route sets no limit of its own
			readErr = err
			if err != nil {
				writeError(w, r, nil, err)
				return
			}
			writeJSON(w, r, 200, body.Data)
		}), limitBody(limit))
	}
	want413 := `{"status":413,"message":"Request entity too large.","data":{}}` + "\n"
	tests := []struct {
		name    string
		limit   int64
		size    int
		chunked bool
		status  int
	}{
		{"under", 100, 50, false, 200},
		{"declared over", 100, 200, false, 413},
		{"streamed over", 100, 200, true, 413},
		{"default limit allows 1 MiB", 0, 1 << 20, true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readErr = nil
			body := `{"a":"` + strings.Repeat("x", tt.size-8) + `"}`
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if tt.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h(tt.limit).ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s, %v)", w.Code, tt.status, w.Body.String(), readErr)
			}
			if tt.status == 413 && w.Body.String() != want413 {
				t.Errorf("body = %s", w.Body.String())
			}
		})
	}
	if defaultBodyLimit != 32<<20 {
		t.Errorf("defaultBodyLimit = %d", defaultBodyLimit)
	}
}

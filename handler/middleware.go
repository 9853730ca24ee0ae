package handler

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hanzoai/base"
)

// middleware wraps a handler; see chain.
type middleware func(http.Handler) http.Handler

// chain wraps h in m, the first middleware being the outermost (it sees the
// request first and the response last).
func chain(h http.Handler, m ...middleware) http.Handler {
	for i := len(m) - 1; i >= 0; i-- {
		h = m[i](h)
	}
	return h
}

// defaultBodyLimit is PocketBase's default request body limit.
const defaultBodyLimit int64 = 32 << 20

// requestState is per-request data shared by the middleware and inner
// handlers through a pointer in the request context: extra access-log
// attributes, the request id, and cleanups to run when the request ends.
type requestState struct {
	mu       sync.Mutex
	logger   *slog.Logger
	id       string
	attrs    []slog.Attr
	cleanups []func()
}

type stateKey struct{}

// stateFrom returns the request state installed by accessLog or limitBody,
// or nil.
func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// ensureState returns r carrying a request state, creating one if needed;
// created reports whether the caller owns it and must call finish.
func ensureState(r *http.Request) (_ *http.Request, st *requestState, created bool) {
	if st := stateFrom(r.Context()); st != nil {
		return r, st, false
	}
	st = &requestState{}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st)), st, true
}

// onDone registers f to run when the request ends.
func (st *requestState) onDone(f func()) {
	st.mu.Lock()
	st.cleanups = append(st.cleanups, f)
	st.mu.Unlock()
}

// finish runs the registered cleanups, last registered first.
func (st *requestState) finish() {
	st.mu.Lock()
	fs := st.cleanups
	st.cleanups = nil
	st.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// setLogAttrs adds attributes (e.g. slog.String("org", ...),
// slog.String("user", ...)) to the request's access-log line. Without
// accessLog in the chain it does nothing.
func setLogAttrs(r *http.Request, attrs ...slog.Attr) {
	st := stateFrom(r.Context())
	if st == nil {
		return
	}
	st.mu.Lock()
	st.attrs = append(st.attrs, attrs...)
	st.mu.Unlock()
}

// loggerFrom returns the logger accessLog was given, or nil (which
// writeError turns into slog.Default()).
func loggerFrom(ctx context.Context) *slog.Logger {
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.logger
	}
	return nil
}

// requestID returns the request id assigned by accessLog, or "".
func requestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.id
	}
	return ""
}

// statusWriter records the status and body size of a response. It keeps
// http.Flusher (realtime SSE) and io.ReaderFrom (file downloads) working
// and exposes the wrapped writer to http.ResponseController via Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(w.ResponseWriter, src)
	}
	w.bytes += n
	return n, err
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wroteHeader reports whether the response has started.
func (w *statusWriter) wroteHeader() bool { return w.status != 0 }

// recoverer turns a panic in next into a 500 error envelope (when the
// response has not started yet) and one error log line with the stack.
// http.ErrAbortHandler is re-panicked, as net/http expects. accessLog
// handles panics the same way, so the two work in either order; recoverer
// is still needed outside everything else.
func recoverer(logger *slog.Logger) middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					handlePanic(w, r, logger, p)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// handlePanic logs a recovered panic with its stack and answers 500 unless
// the response has already started (known when w is a statusWriter).
func handlePanic(w http.ResponseWriter, r *http.Request, logger *slog.Logger, p any) {
	if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
		panic(p)
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("requestId", requestID(r.Context())),
		slog.Any("panic", p),
		slog.String("stack", string(debug.Stack())),
	)
	if sw, ok := w.(interface{ wroteHeader() bool }); ok && sw.wroteHeader() {
		return
	}
	writeErrorBody(w, base.AsError(fmt.Errorf("panic: %v", p)))
}

// maxRequestIDLen bounds a client supplied X-Request-Id.
const maxRequestIDLen = 128

// accessLog writes exactly one log line per request when it ends: method,
// path (the query without token values), status, bytes, duration, remote
// IP, request id (X-Request-Id if the client sent a sane one, else a new
// random id; echoed in the response) and whatever inner handlers added with
// setLogAttrs. 5xx lines are logged at warn level, the rest at info. It also
// runs the request's cleanups (multipart temp files) at the end, and turns a
// panic of next into a 500 like recoverer does.
func accessLog(logger *slog.Logger) middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			r, st, created := ensureState(r)
			if created {
				defer st.finish()
			}
			id := r.Header.Get("X-Request-Id")
			if !validRequestID(id) {
				id = rand.Text()
			}
			st.mu.Lock()
			st.id = id
			st.logger = logger
			st.mu.Unlock()
			w.Header().Set("X-Request-Id", id)

			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					// Recover here too so the line reports the 500 and the
					// request id whatever the order of accessLog and
					// recoverer. ErrAbortHandler is re-panicked unlogged.
					handlePanic(sw, r, logger, p)
					if sw.status == 0 {
						sw.status = http.StatusInternalServerError
					}
				}
				status := sw.status
				if status == 0 {
					status = http.StatusOK
				}
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelWarn
				}
				st.mu.Lock()
				extra := st.attrs
				st.mu.Unlock()
				attrs := make([]slog.Attr, 0, 8+len(extra))
				attrs = append(attrs,
					slog.String("method", r.Method),
					slog.String("path", logPath(r.URL)),
					slog.Int("status", status),
					slog.Int64("bytes", sw.bytes),
					slog.Duration("duration", time.Since(start)),
					slog.String("remoteIp", remoteIP(r.RemoteAddr)),
					slog.String("requestId", id),
				)
				attrs = append(attrs, extra...)
				logger.LogAttrs(r.Context(), level, "request", attrs...)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// validRequestID accepts short printable ASCII ids without spaces.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// logPath is the request path with its query, minus any token parameter
// (file tokens, realtime auth) so that secrets never reach the logs.
func logPath(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Path
	}
	if !strings.Contains(u.RawQuery, "oken") && !strings.Contains(u.RawQuery, "%") {
		return u.Path + "?" + u.RawQuery
	}
	var b strings.Builder
	b.WriteString(u.Path)
	sep := byte('?')
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil && strings.EqualFold(k, "token") {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(part)
	}
	return b.String()
}

// remoteIP is the host part of a RemoteAddr.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// securityHeaders sets PocketBase's default security headers on every
// response. Handlers serving files may delete X-Frame-Options.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-XSS-Protection", "1; mode=block")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// corsMethods are the methods the SDK uses.
const corsMethods = "GET, HEAD, PUT, PATCH, POST, DELETE"

// cors answers CORS. With no allowed origins (or a "*" entry) every origin
// is allowed with Access-Control-Allow-Origin: *. Otherwise the request's
// Origin is echoed only when it is in the list (compared case-insensitively)
// and Vary: Origin is added. Every OPTIONS request is a preflight, answered
// 204 without reaching next; it allows corsMethods and echoes
// Access-Control-Request-Headers.
func cors(allowedOrigins []string) middleware {
	anyOrigin := len(allowedOrigins) == 0
	allowed := make(map[string]bool, len(allowedOrigins))
	for _, o := range allowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			anyOrigin = true
		}
		allowed[strings.ToLower(o)] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			origin := r.Header.Get("Origin")
			if anyOrigin {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Add("Vary", "Origin")
				if origin != "" && allowed[strings.ToLower(origin)] {
					h.Set("Access-Control-Allow-Origin", origin)
				}
			}
			if r.Method != http.MethodOptions {
				next.ServeHTTP(w, r)
				return
			}
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
				h.Set("Access-Control-Allow-Headers", reqHeaders)
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// limitBody caps the request body at maxBytes (defaultBodyLimit, 32 MiB,
// when maxBytes <= 0): a declared Content-Length above it is answered 413
// at once, a longer streamed body fails readBody with 413. Routes with their
// own limit (record create/update, batch) pass it to readBody instead. It
// also runs the request's cleanups at the end when no outer middleware
// owns them.
func limitBody(maxBytes int64) middleware {
	if maxBytes <= 0 {
		maxBytes = defaultBodyLimit
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > maxBytes {
				writeErrorBody(w, base.TooLarge(""))
				return
			}
			r, st, created := ensureState(r)
			if created {
				defer st.finish()
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// errTooLarge reports whether err comes from a body size limit.
func errTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

package lambdaadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	lambdaadapter "github.com/hanzoai/base/adapters/lambda"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden responses in testdata/golden")

// echo answers with a JSON description of the request it received, so the
// golden files show exactly what the adapter handed to the handler. It
// also sets repeated headers and several cookies, and serves a binary
// body and an empty 204.
func echo(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/binary":
		w.Header().Set("Content-Type", "image/png")
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		w.Write(b)
		return
	case "/empty":
		w.WriteHeader(http.StatusNoContent)
		return
	case "/big":
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bytes.Repeat([]byte("x"), 1000))
		return
	case "/huge": // over newAdapter's MaxResponse
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bytes.Repeat([]byte("x"), 8192))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	seen := map[string]any{
		"method":        r.Method,
		"path":          r.URL.Path,
		"escapedPath":   r.URL.EscapedPath(),
		"rawQuery":      r.URL.RawQuery,
		"query":         r.URL.Query(),
		"requestURI":    r.RequestURI,
		"host":          r.Host,
		"remoteAddr":    r.RemoteAddr,
		"proto":         r.Proto,
		"header":        r.Header,
		"contentLength": r.ContentLength,
		"body":          body, // []byte marshals as base64
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Add("Set-Cookie", "a=1; Path=/; HttpOnly")
	h.Add("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
	h.Add("Vary", "Origin")
	h.Add("Vary", "Accept-Encoding")
	w.WriteHeader(http.StatusCreated)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(seen)
}

// recorder is a Scheduler that keeps what it was given.
type recorder struct {
	mu  sync.Mutex
	got []lambdaadapter.ScheduledEvent
}

func (s *recorder) RunScheduled(_ context.Context, ev lambdaadapter.ScheduledEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, ev)
	return nil
}

func newAdapter(tb testing.TB, h http.Handler, sched lambdaadapter.Scheduler) *lambdaadapter.Adapter {
	tb.Helper()
	a, err := lambdaadapter.New(lambdaadapter.Config{Handler: h, Scheduler: sched, MaxRequestBody: 64, MaxResponse: 4096})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// golden compares got (JSON) with testdata/golden/name, indented.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	// A JSON body is shown decoded, under its own key, for readable diffs.
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		tb.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	if b, ok := m["body"].(string); ok && json.Valid([]byte(b)) && strings.HasPrefix(b, "{") {
		delete(m, "body")
		m["body (JSON, shown decoded)"] = json.RawMessage(b)
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	buf := bytes.NewBuffer(append(out, '\n'))
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		tb.Errorf("%s differs from the golden file (run with -update after checking)\n--- got\n%s\n--- want\n%s", name, buf.Bytes(), want)
	}
}

func readEvent(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func invoke(tb testing.TB, a *lambdaadapter.Adapter, payload []byte) []byte {
	tb.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"})
	out, err := a.Invoke(ctx, payload)
	if err != nil {
		tb.Fatalf("Invoke: %v", err)
	}
	return out
}

// TestRecordedEvents runs every recorded trigger event through the adapter
// and compares the response event with its golden file.
func TestRecordedEvents(t *testing.T) {
	tests := []struct {
		event string
		kind  lambdaadapter.Kind
	}{
		{"httpapi-v2-get.json", lambdaadapter.KindHTTPAPI},
		{"httpapi-v2-upload-binary.json", lambdaadapter.KindHTTPAPI},
		{"httpapi-v2-binary-response.json", lambdaadapter.KindHTTPAPI},
		{"rest-v1-get.json", lambdaadapter.KindREST},
		{"rest-v1-post-base64.json", lambdaadapter.KindREST},
		{"alb-multivalue.json", lambdaadapter.KindALB},
		{"alb-single.json", lambdaadapter.KindALB},
		{"function-url-get.json", lambdaadapter.KindFunctionURL},
		{"function-url-too-large.json", lambdaadapter.KindFunctionURL},
		{"function-url-response-too-large.json", lambdaadapter.KindFunctionURL},
		{"eventbridge-scheduled.json", lambdaadapter.KindScheduled},
		{"eventbridge-job-input.json", lambdaadapter.KindScheduled},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.event, ".json"), func(t *testing.T) {
			payload := readEvent(t, tt.event)
			kind, err := lambdaadapter.Detect(payload)
			if err != nil || kind != tt.kind {
				t.Fatalf("Detect = %q, %v; want %q", kind, err, tt.kind)
			}
			sched := &recorder{}
			out := invoke(t, newAdapter(t, http.HandlerFunc(echo), sched), payload)
			if kind == lambdaadapter.KindScheduled {
				got, _ := json.Marshal(map[string]any{"response": json.RawMessage(out), "scheduled": sched.got, "job": sched.got[0].Job})
				out = got
			}
			golden(t, tt.event, out)
		})
	}
}

// response is the union of the response event shapes.
type response struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

func decodeResponse(tb testing.TB, out []byte) response {
	tb.Helper()
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("response %s: %v", out, err)
	}
	return r
}

// TestSemantics states the properties the golden files must show, so that
// an -update cannot silently bless a regression.
func TestSemantics(t *testing.T) {
	a := newAdapter(t, http.HandlerFunc(echo), nil)
	seen := func(t *testing.T, r response) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
			t.Fatalf("echo body: %v", err)
		}
		return m
	}

	t.Run("v2 cookies apart, repeated query keys, source ip, request id", func(t *testing.T) {
		r := decodeResponse(t, invoke(t, a, readEvent(t, "httpapi-v2-get.json")))
		if want := []string{"a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"}; fmt.Sprint(r.Cookies) != fmt.Sprint(want) {
			t.Errorf("cookies = %q, want %q", r.Cookies, want)
		}
		if _, ok := r.Headers["set-cookie"]; ok {
			t.Errorf("Set-Cookie leaked into headers: %q", r.Headers["set-cookie"])
		}
		if r.StatusCode != 201 || r.IsBase64Encoded {
			t.Errorf("status %d base64 %v", r.StatusCode, r.IsBase64Encoded)
		}
		m := seen(t, r)
		q := m["query"].(map[string]any)
		if fmt.Sprint(q["tag"]) != "[a b]" || fmt.Sprint(q["filter"]) != "[(title='x')]" {
			t.Errorf("query = %v", q)
		}
		if m["remoteAddr"] != "205.255.255.176:0" {
			t.Errorf("remoteAddr = %v", m["remoteAddr"])
		}
		if m["path"] != "/echo/café/a/b" || m["escapedPath"] != "/echo/caf%C3%A9/a%2Fb" {
			t.Errorf("path = %v escaped %v", m["path"], m["escapedPath"])
		}
		h := m["header"].(map[string]any)
		if fmt.Sprint(h["Cookie"]) != "[session=abc123; theme=dark]" || fmt.Sprint(h["X-Request-Id"]) != "[JKJaXmPLvHcESHA=]" {
			t.Errorf("header = %v", h)
		}
	})
	t.Run("binary request and response bodies", func(t *testing.T) {
		r := decodeResponse(t, invoke(t, a, readEvent(t, "httpapi-v2-upload-binary.json")))
		m := seen(t, r)
		if m["body"] != "AAEC/4mAUE5HDQoaCgBiYXNl" || m["contentLength"] != 18.0 {
			t.Errorf("body = %v (%v bytes)", m["body"], m["contentLength"])
		}
		if fmt.Sprint(m["header"].(map[string]any)["X-Request-Id"]) != "[client-chosen-id]" {
			t.Errorf("a client's X-Request-Id must be kept: %v", m["header"])
		}
		r = decodeResponse(t, invoke(t, a, readEvent(t, "httpapi-v2-binary-response.json")))
		if !r.IsBase64Encoded || !strings.HasPrefix(r.Body, "AAECAwQF") {
			t.Errorf("binary response: base64=%v body=%.20s", r.IsBase64Encoded, r.Body)
		}
	})
	t.Run("rest multi-value headers and cookies", func(t *testing.T) {
		r := decodeResponse(t, invoke(t, a, readEvent(t, "rest-v1-get.json")))
		if len(r.MultiValueHeaders["Set-Cookie"]) != 2 || len(r.MultiValueHeaders["Vary"]) != 2 {
			t.Errorf("multiValueHeaders = %v", r.MultiValueHeaders)
		}
		m := seen(t, r)
		if fmt.Sprint(m["header"].(map[string]any)["Vary-Test"]) != "[one two]" {
			t.Errorf("repeated request header: %v", m["header"])
		}
		if m["rawQuery"] != "sort=-created%2Ctitle&tag=a&tag=b" || m["remoteAddr"] != "127.0.0.1:0" {
			t.Errorf("rawQuery %v remoteAddr %v", m["rawQuery"], m["remoteAddr"])
		}
	})
	t.Run("alb keeps query encoding and picks the client ip", func(t *testing.T) {
		r := decodeResponse(t, invoke(t, a, readEvent(t, "alb-multivalue.json")))
		if r.StatusDescription != "201 Created" || len(r.MultiValueHeaders["Set-Cookie"]) != 2 {
			t.Errorf("alb response %+v", r)
		}
		m := seen(t, r)
		if m["rawQuery"] != "q=%28x%3D1%29&tag=a&tag=b%20c" || m["remoteAddr"] != "72.12.164.125:0" || m["path"] != "/echo/a b" {
			t.Errorf("rawQuery %v remoteAddr %v path %v", m["rawQuery"], m["remoteAddr"], m["path"])
		}
	})
	t.Run("413 in the envelope", func(t *testing.T) {
		r := decodeResponse(t, invoke(t, a, readEvent(t, "function-url-too-large.json")))
		if r.StatusCode != 413 || r.Body != `{"status":413,"message":"Request entity too large.","data":{}}` {
			t.Errorf("got %d %s", r.StatusCode, r.Body)
		}
	})
	t.Run("oversized response becomes a 413 envelope on every trigger", func(t *testing.T) {
		small, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(echo), MaxResponse: 900})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"function-url-get.json", "httpapi-v2-get.json", "rest-v1-get.json", "alb-multivalue.json", "alb-single.json"} {
			// /big answers 1000 bytes, over the 900-byte limit.
			r := decodeResponse(t, invoke(t, small, withPath(t, readEvent(t, name), "/big")))
			var env map[string]any
			if err := json.Unmarshal([]byte(r.Body), &env); err != nil || r.StatusCode != 413 || env["status"] != 413.0 || r.IsBase64Encoded {
				t.Errorf("%s: got %d %s", name, r.StatusCode, r.Body)
			}
		}
		// The limit is on the encoded response: 1000 bytes fit 2000.
		roomy, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(echo), MaxResponse: 2000})
		if err != nil {
			t.Fatal(err)
		}
		if r := decodeResponse(t, invoke(t, roomy, withPath(t, readEvent(t, "rest-v1-get.json"), "/big"))); r.StatusCode != 200 || len(r.Body) != 1000 {
			t.Errorf("a response under the limit: %d, %d bytes", r.StatusCode, len(r.Body))
		}
	})
	t.Run("alb responses are held to the ALB's 1 MB", func(t *testing.T) {
		body := strings.Repeat("y", lambdaadapter.ALBMaxPayload) // just over 1 MB once encoded
		big, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, body)
		})})
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]int{"alb-multivalue.json": 413, "alb-single.json": 413, "httpapi-v2-get.json": 200, "rest-v1-get.json": 200} {
			if r := decodeResponse(t, invoke(t, big, readEvent(t, name))); r.StatusCode != want {
				t.Errorf("%s: status %d, want %d", name, r.StatusCode, want)
			}
		}
	})
	t.Run("alb without multi-value headers keeps one whole cookie", func(t *testing.T) {
		r := decodeResponse(t, invoke(t, a, readEvent(t, "alb-single.json")))
		if r.MultiValueHeaders != nil || r.Headers["Set-Cookie"] != "a=1; Path=/; HttpOnly" || r.Headers["Vary"] != "Origin, Accept-Encoding" {
			t.Errorf("headers %q multi %q", r.Headers, r.MultiValueHeaders)
		}
	})
	t.Run("204 has no body", func(t *testing.T) {
		ev := bytes.Replace(readEvent(t, "function-url-get.json"), []byte(`"rawPath": "/echo/url"`), []byte(`"rawPath": "/empty"`), 1)
		r := decodeResponse(t, invoke(t, a, ev))
		if r.StatusCode != 204 || r.Body != "" {
			t.Errorf("got %d %q", r.StatusCode, r.Body)
		}
	})
}

func TestUnknownEvents(t *testing.T) {
	a := newAdapter(t, http.HandlerFunc(echo), nil)
	for _, payload := range []string{`{}`, `[]`, `"x"`, `{"Records":[{"eventSource":"aws:s3"}]}`, `not json`} {
		if _, err := a.Invoke(context.Background(), []byte(payload)); !errors.Is(err, lambdaadapter.ErrUnknownEvent) {
			t.Errorf("Invoke(%s) = %v, want ErrUnknownEvent", payload, err)
		}
	}
	bad := `{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}},"body":"!!","isBase64Encoded":true}`
	if _, err := a.Invoke(context.Background(), []byte(bad)); err == nil {
		t.Error("a broken base64 body must fail the invocation")
	}
}

type failing struct{}

func (failing) RunScheduled(context.Context, lambdaadapter.ScheduledEvent) error {
	return errors.New("boom")
}

func TestScheduledFailureFailsInvocation(t *testing.T) {
	a := newAdapter(t, http.HandlerFunc(echo), failing{})
	if _, err := a.Invoke(context.Background(), readEvent(t, "eventbridge-scheduled.json")); err == nil || !strings.Contains(err.Error(), "base-prod-cleanup") {
		t.Errorf("err = %v, want the job's failure", err)
	}
}

func TestLogHandlerAddsAWSRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(lambdaadapter.LogHandler(slog.NewJSONHandler(&buf, nil))).With("svc", "base")
	a, err := lambdaadapter.New(lambdaadapter.Config{Logger: log, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "request", "requestId", r.Header.Get("X-Request-Id"))
	})})
	if err != nil {
		t.Fatal(err)
	}
	invoke(t, a, readEvent(t, "function-url-get.json"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if line["awsRequestId"] != "8476a536-e9f4-11e8-9739-2dfe598c3fcd" || line["requestId"] != "5ab47a2c-2f2f-4a5e-9b1e-0f7b4c1d8e9a" || line["svc"] != "base" {
		t.Errorf("log line = %v", line)
	}
}

// TestRealHandler runs recorded events through the real API handler over
// an SQLite store.
func TestRealHandler(t *testing.T) {
	st, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := handler.New(handler.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	a := newAdapter(t, h, nil)
	tests := []struct {
		name, event, path string
		status            int
	}{
		{"health-http-api", "httpapi-v2-get.json", "/v1/health", 200},
		{"health-rest", "rest-v1-get.json", "/v1/health", 200},
		{"notfound-alb", "alb-multivalue.json", "/v1/nope", 404},
		{"notfound-function-url", "function-url-get.json", "/v1/nope", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := invoke(t, a, withPath(t, readEvent(t, tt.event), tt.path))
			if r := decodeResponse(t, out); r.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", r.StatusCode, tt.status, out)
			}
			golden(t, "real-"+tt.name+".json", out)
		})
	}
}

// withPath returns the recorded event retargeted at path, without a query.
func withPath(tb testing.TB, payload []byte, path string) []byte {
	tb.Helper()
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		tb.Fatal(err)
	}
	if _, ok := ev["rawPath"]; ok {
		ev["rawPath"], ev["rawQueryString"] = path, ""
	} else {
		ev["path"] = path
		delete(ev, "multiValueQueryStringParameters")
		delete(ev, "queryStringParameters")
	}
	out, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func healthEvent(tb testing.TB, name string) []byte {
	tb.Helper()
	return withPath(tb, readEvent(tb, name), "/v1/health")
}

// TestCookiesNeverJoined runs every recorded HTTP event and checks each
// Set-Cookie the response carries, wherever the trigger puts it, is one
// whole cookie: never two joined with a comma (which a browser would read
// as one cookie with a mangled attribute). Triggers that can carry
// several carry them all.
func TestCookiesNeverJoined(t *testing.T) {
	var logs bytes.Buffer
	a, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(echo), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"}
	events, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(events) == 0 {
		t.Fatalf("no events: %v", err)
	}
	tested := 0
	for _, path := range events {
		payload, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		kind, err := lambdaadapter.Detect(payload)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if kind == lambdaadapter.KindScheduled {
			continue
		}
		r := decodeResponse(t, invoke(t, a, withPath(t, payload, "/echo/cookies")))
		var got []string
		for k, v := range r.Headers {
			if strings.EqualFold(k, "Set-Cookie") {
				got = append(got, v)
			}
		}
		for k, vs := range r.MultiValueHeaders {
			if strings.EqualFold(k, "Set-Cookie") {
				got = append(got, vs...)
			}
		}
		got = append(got, r.Cookies...)
		for _, c := range got {
			if !slices.Contains(want, c) {
				t.Errorf("%s: Set-Cookie %q is not one whole cookie", filepath.Base(path), c)
			}
		}
		all := kind != lambdaadapter.KindALB || r.MultiValueHeaders != nil
		if all && !slices.Equal(got, want) || !all && len(got) != 1 {
			t.Errorf("%s (%s): cookies %q", filepath.Base(path), kind, got)
		}
		tested++
	}
	if tested < 6 {
		t.Errorf("only %d HTTP events", tested)
	}
	if !strings.Contains(logs.String(), "only the first Set-Cookie reaches the client") {
		t.Errorf("the single-value ALB's dropped cookie was not logged:\n%s", logs.String())
	}
}

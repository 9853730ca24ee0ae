package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/internal/testsrv"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// build compiles this command the way it is deployed (lambda.norpc,
// stripped) for goarch and returns the binary's path.
func build(tb testing.TB, goarch string) string {
	tb.Helper()
	buildOnce.Do(func() { buildDir, buildErr = os.MkdirTemp("", "base-lambda-build") })
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	out := filepath.Join(buildDir, "bootstrap-"+goarch)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// function is a running base-lambda process.
type function struct {
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(tb testing.TB, bin string, env ...string) *function {
	tb.Helper()
	f := &function{cmd: exec.Command(bin), logs: &lockedBuffer{}, exited: make(chan error, 1)}
	f.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	f.cmd.Stdout, f.cmd.Stderr = f.logs, f.logs
	if err := f.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { f.exited <- f.cmd.Wait() }()
	tb.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.exited
		if tb.Failed() {
			tb.Logf("function output:\n%s", f.logs.String())
		}
	})
	return f
}

// v2 builds an API Gateway HTTP API (payload 2.0) event.
func v2(method, path, query string, header map[string]string, body []byte) []byte {
	h := map[string]string{"host": "api.example.com", "x-forwarded-proto": "https"}
	for k, v := range header {
		h[k] = v
	}
	ev := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": h,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "requestId": "gw-" + strings.ReplaceAll(path, "/", "-"),
			"stage": "$default", "http": map[string]any{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.23"},
		},
		"isBase64Encoded": body != nil,
	}
	if body != nil {
		ev["body"] = base64.StdEncoding.EncodeToString(body)
	}
	b, _ := json.Marshal(ev)
	return b
}

type httpResult struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
	Body       string            `json:"body"`
	Base64     bool              `json:"isBase64Encoded"`
}

func (rt *runtimeAPI) http(tb testing.TB, payload []byte, want int) map[string]any {
	tb.Helper()
	res := rt.call(tb, payload)
	if res.err {
		tb.Fatalf("invocation failed: %s", res.body)
	}
	var r httpResult
	if err := json.Unmarshal(res.body, &r); err != nil {
		tb.Fatalf("response %s: %v", res.body, err)
	}
	if r.StatusCode != want {
		tb.Fatalf("status %d, want %d: %s", r.StatusCode, want, r.Body)
	}
	var m map[string]any
	if r.Body != "" {
		if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
			tb.Fatalf("body %q: %v", r.Body, err)
		}
	}
	return m
}

// TestRuntimeLoop runs the built binary against a Runtime API server: the
// real aws-lambda-go loop, the real handler over SQLite, an external IAM.
func TestRuntimeLoop(t *testing.T) {
	bin := build(t, runtime.GOARCH)
	d := testsrv.DevIssuer(t)
	rt := newRuntimeAPI(t)
	dir := t.TempDir()
	f := start(t, bin, "AWS_LAMBDA_RUNTIME_API="+rt.addr(), "BASE_DIR="+dir, "IAM_ENDPOINT="+d.Issuer(), "BASE_LOG_LEVEL=debug")

	admin, err := d.Mint(iam.UserClaims{Subject: "default/root", Org: "default", Admin: true}.Map(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rt.http(t, v2("GET", "/v1/health", "", nil, nil), 200)

	coll, _ := json.Marshal(map[string]any{
		"name": "notes", "type": "base",
		"fields":   []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "tag", "type": "text"}},
		"listRule": "", "viewRule": "", "createRule": "",
	})
	rt.http(t, v2("POST", "/v1/collections", "", map[string]string{"authorization": admin, "content-type": "application/json"}, coll), 200)

	// A multipart body travels base64-encoded.
	for _, tag := range []string{"a", "b", "c"} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("title", "héllo "+tag)
		mw.WriteField("tag", tag)
		mw.Close()
		rec := rt.http(t, v2("POST", "/v1/collections/notes/records", "", map[string]string{"content-type": mw.FormDataContentType()}, body.Bytes()), 200)
		if rec["title"] != "héllo "+tag {
			t.Fatalf("created %v", rec)
		}
	}
	list := rt.http(t, v2("GET", "/v1/collections/notes/records", "filter=tag%3D%27a%27%7C%7Ctag%3D%27c%27&sort=tag&fields=tag&fields=id", nil, nil), 200)
	items, _ := list["items"].([]any)
	var tags []string
	for _, it := range items {
		tags = append(tags, fmt.Sprint(it.(map[string]any)["tag"]))
	}
	if !slices.Equal(tags, []string{"a", "c"}) {
		t.Errorf("listed tags %v, want [a c]: %v", tags, list)
	}

	// Over Lambda's 6 MB payload: 413 in the envelope, the handler untouched.
	big := bytes.Repeat([]byte{0xff}, 6*1024*1024+1)
	env := rt.http(t, v2("POST", "/v1/collections/notes/records", "", map[string]string{"content-type": "application/octet-stream"}, big), 413)
	if env["message"] != "Request entity too large." {
		t.Errorf("413 envelope %v", env)
	}

	// The event the Terraform module's EventBridge target sends runs the
	// store optimize job: the org's WAL, full after the writes above, is
	// checkpointed to 0 bytes. A job the function does not have fails the
	// invocation.
	wal := filepath.Join(dir, "orgs", "default.db-wal")
	if fi, err := os.Stat(wal); err != nil || fi.Size() == 0 {
		t.Fatalf("no WAL after writes (%v); the check below proves nothing", err)
	}
	sched := rt.call(t, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{"job":"__baseStoreOptimize__"}}`))
	if sched.err || string(sched.body) != `{"ok":true}` {
		t.Errorf("scheduled event: %s (error %v)", sched.body, sched.err)
	}
	if fi, err := os.Stat(wal); err != nil || fi.Size() != 0 {
		t.Errorf("WAL after the optimize job: %v, %v; want 0 bytes", fi.Size(), err)
	}
	byRule := rt.call(t, []byte(`{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","time":"2026-01-01T00:00:00Z","resources":["arn:aws:events:us-east-1:123456789012:rule/base-cleanup"],"detail":{}}`))
	if !byRule.err {
		t.Errorf("a scheduled event for an unknown job must fail the invocation, got %s", byRule.body)
	}
	unknown := rt.call(t, []byte(`{"Records":[]}`))
	if !unknown.err {
		t.Errorf("an unknown event must fail the invocation, got %s", unknown.body)
	}
	rt.http(t, v2("GET", "/v1/health", "", nil, nil), 200) // still serving after a failed invocation

	// Every access line is JSON and carries both request ids.
	deadline := time.Now().Add(2 * time.Second)
	for {
		var access, job int
		sc := bufio.NewScanner(strings.NewReader(f.logs.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				continue // the runtime client's own plain lines
			}
			if line["msg"] == "request" {
				if line["awsRequestId"] == nil || line["requestId"] == nil || line["remoteIp"] != "198.51.100.23" {
					t.Errorf("access line without ids or source ip: %v", line)
				}
				access++
			}
			if line["msg"] == "job done" && line["job"] == "__baseStoreOptimize__" && line["awsRequestId"] != nil {
				job++
			}
		}
		if access >= 7 && job == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs: %d access lines, %d job lines; want ≥7 and 1", access, job)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestZippedSize checks the deployment package of both architectures
// against the 15 MB budget.
func TestZippedSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds for two architectures")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		bin := build(t, arch)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, src)
		src.Close()
		zw.Close()
		st, _ := os.Stat(bin)
		t.Logf("%s: binary %.1f MB, zipped %.1f MB", arch, float64(st.Size())/1e6, float64(buf.Len())/1e6)
		if buf.Len() > 15e6 {
			t.Errorf("%s: zipped %d bytes, budget 15 MB", arch, buf.Len())
		}
	}
}

// BenchmarkColdStart measures process exec → first event answered through
// the runtime loop (the function's INIT plus one invocation), on a fresh
// data directory each time. It reports the median.
func BenchmarkColdStart(b *testing.B) {
	bin := build(b, runtime.GOARCH)
	rt := newRuntimeAPI(b)
	event := v2("GET", "/v1/health", "", nil, nil)
	var samples []time.Duration
	for b.Loop() {
		dir := b.TempDir()
		rt.quiesce(b)
		begin := time.Now()
		ch := rt.invoke(event)
		cmd := exec.Command(bin)
		cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + rt.addr(), "BASE_DIR=" + dir, "BASE_LOG_LEVEL=error"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var res result
		select {
		case res = <-ch:
		case <-time.After(10 * time.Second):
			// Kill it first: its long poll would hold the Runtime API
			// server's Close (and the benchmark) forever.
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("no answer in 10s; the function printed: %s", out.String())
		}
		samples = append(samples, res.at.Sub(begin))
		cmd.Process.Kill()
		cmd.Wait()
		if res.err || !bytes.Contains(res.body, []byte(`"statusCode":200`)) {
			b.Fatalf("answer %s", res.body)
		}
	}
	slices.Sort(samples)
	med := samples[len(samples)/2]
	b.ReportMetric(float64(med.Microseconds())/1000, "ms-median")
	b.ReportMetric(0, "ns/op")
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/internal/testsrv"
)

func build(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "base-cloudrun")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// service is a running base-cloudrun process and its log lines.
type service struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error

	mu    sync.Mutex
	lines []string
}

func (s *service) logs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func startService(tb testing.TB, bin string, env ...string) *service {
	tb.Helper()
	s := &service{cmd: exec.Command(bin), exited: make(chan error, 1)}
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.lines = append(s.lines, line)
			s.mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["addr"] != nil {
				select {
				case ready <- m["addr"].(string):
				default:
				}
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	tb.Cleanup(func() {
		s.cmd.Process.Kill()
		if tb.Failed() {
			tb.Logf("service logs:\n%s", strings.Join(s.logs(), "\n"))
		}
	})
	select {
	case a := <-ready:
		_, port, _ := net.SplitHostPort(a)
		s.addr = "127.0.0.1:" + port
	case err := <-s.exited:
		tb.Fatalf("service exited before listening: %v\n%s", err, strings.Join(s.logs(), "\n"))
	case <-time.After(20 * time.Second):
		tb.Fatal("service not listening after 20s")
	}
	return s
}

func do(tb testing.TB, method, url, token string, body io.Reader, hdr map[string]string) (int, map[string]any) {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestSIGTERMDrainsInFlight sends SIGTERM while requests are in flight
// (their bodies still streaming): they must complete, new connections must
// be refused, and the process must exit 0 well within Cloud Run's 10 s.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	bin := build(t)
	d := testsrv.DevIssuer(t)
	s := startService(t, bin, "PORT=0", "BASE_HTTP=127.0.0.1:0", "BASE_DIR="+t.TempDir(), "IAM_ENDPOINT="+d.Issuer(), "GOOGLE_CLOUD_PROJECT=test-project")
	base := "http://" + s.addr
	admin, err := d.Mint(iam.UserClaims{Subject: "default/root", Org: "default", Admin: true}.Map(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	coll := `{"name":"notes","type":"base","fields":[{"name":"title","type":"text"}],"listRule":"","viewRule":"","createRule":""}`
	if st, m := do(t, "POST", base+"/v1/collections", admin, strings.NewReader(coll), nil); st != 200 {
		t.Fatalf("create collection: %d %v", st, m)
	}

	// HTTP/2 without TLS, as Cloud Run's "HTTP/2 end-to-end" sends it.
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: protos}, Timeout: 5 * time.Second}
	if res, err := h2c.Get(base + "/v1/health"); err != nil || res.ProtoMajor != 2 || res.StatusCode != 200 {
		t.Errorf("h2c GET /v1/health: %v %v", res, err)
	} else {
		res.Body.Close()
		h2c.CloseIdleConnections()
	}

	const n = 3
	type outcome struct {
		status int
		body   map[string]any
		err    error
	}
	writers := make([]*io.PipeWriter, n)
	results := make(chan outcome, n)
	for i := range n {
		pr, pw := io.Pipe()
		writers[i] = pw
		go func() {
			req, _ := http.NewRequest("POST", base+"/v1/collections/notes/records", pr)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Traceparent", fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e473%d-00f067aa0ba902b7-01", i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- outcome{err: err}
				return
			}
			defer res.Body.Close()
			var m map[string]any
			json.NewDecoder(res.Body).Decode(&m)
			results <- outcome{status: res.StatusCode, body: m}
		}()
		if _, err := io.WriteString(pw, `{"title":`); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // the server is now reading the bodies
	termAt := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts connections after SIGTERM")
	}
	for i, pw := range writers {
		fmt.Fprintf(pw, `"in flight %d"}`, i)
		pw.Close()
	}
	for range n {
		o := <-results
		if o.err != nil || o.status != 200 || !strings.HasPrefix(fmt.Sprint(o.body["title"]), "in flight") {
			t.Errorf("in-flight request: status %d, %v, err %v", o.status, o.body, o.err)
		}
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
		if d := time.Since(termAt); d > 9*time.Second {
			t.Errorf("drained in %v, over the budget", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}

	// Every line is Cloud Logging JSON; the in-flight requests' access
	// lines carry their traces.
	traced := 0
	for _, line := range s.logs() {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		sev, _ := m["severity"].(string)
		if !strings.Contains("DEBUG INFO WARNING ERROR CRITICAL", sev) || sev == "" || m["message"] == nil {
			t.Errorf("log line without severity/message: %v", m)
		}
		if tr, ok := m["logging.googleapis.com/trace"].(string); ok && m["message"] == "request" {
			if !strings.HasPrefix(tr, "projects/test-project/traces/4bf92f3577b34da6a3ce929d0e0e473") {
				t.Errorf("trace field %q", tr)
			}
			traced++
		}
	}
	if traced != n {
		t.Errorf("%d traced access lines, want %d", traced, n)
	}
}

// TestFunctionMode serves the handler through functions-framework-go, as
// Cloud Functions (2nd gen) does.
func TestFunctionMode(t *testing.T) {
	bin := build(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = []string{"PORT=" + port, "FUNCTION_TARGET=Base", "BASE_DIR=" + t.TempDir()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://127.0.0.1:" + port + "/v1/health")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.Contains(b, []byte("API is healthy.")) {
				t.Fatalf("health: %d %s", res.StatusCode, b)
			}
			return
		}
		if time.Now().After(deadline) || errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("function not serving: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTrustedProxyHopsDefault: on Cloud Run Google's front end is always
// in front, so one hop is trusted unless the environment says otherwise.
func TestTrustedProxyHopsDefault(t *testing.T) {
	for env, want := range map[string]int{"": 1, "0": 0, "2": 2} {
		m, err := NewMain(func(k string) string {
			if k == "BASE_TRUSTED_PROXY_HOPS" {
				return env
			}
			return ""
		}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.TrustedProxyHops != want {
			t.Errorf("BASE_TRUSTED_PROXY_HOPS=%q: %d, want %d", env, m.Config.TrustedProxyHops, want)
		}
	}
	if _, err := NewMain(func(k string) string {
		if k == "BASE_TRUSTED_PROXY_HOPS" {
			return "-1"
		}
		return ""
	}, io.Discard); err == nil {
		t.Error("BASE_TRUSTED_PROXY_HOPS=-1 accepted")
	}
}

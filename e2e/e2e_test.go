// Package e2e drives a real `base serve` process with the unmodified
// pocketbase JavaScript SDK (node's test runner). It builds cmd/base, starts
// it on a free port with a fresh data directory, mints tokens with
// `base token`, and runs every sdk/*.test.mjs file against it.
package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
)

// need skips the test when a tool is missing, or fails it under CI, where
// everything the suite needs must be installed by `make test`.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (CI must install it: run `make test`)", what)
	}
	t.Skipf("SKIPPING end-to-end SDK suite: %s is missing (run `make test` to install it)", what)
}

// Server is a running `base serve` process.
type Server struct {
	URL string
	Dir string
	Bin string
}

// buildBase compiles cmd/base into dir and returns the binary's path.
func buildBase(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "base")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/base")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build base: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBase starts `base serve` on a fresh data directory and waits for
// /v1/health.
func startBase(t *testing.T, bin string, env ...string) *Server {
	t.Helper()
	return startBaseDir(t, bin, t.TempDir(), env...)
}

// startBaseDir starts `base serve` on dir (several instances may share one:
// they share the dev IAM key) and waits for /v1/health.
func startBaseDir(t *testing.T, bin, dir string, env ...string) *Server {
	t.Helper()
	addr := freePort(t)
	url := "http://" + addr
	runServer(t, "base serve "+addr, url+"/v1/health", env, bin, "serve", "--http", addr, "--dir", dir)
	return &Server{URL: url, Dir: dir, Bin: bin}
}

// runServer starts a server process (environment: this process's plus
// env), stops it with SIGINT when t ends (showing the tail of its output
// if t failed), and waits up to 15 s for health to answer 200.
func runServer(t *testing.T, name, health string, env []string, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, tail(logs.String(), 200))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy: %v\n%s", name, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Token mints a token with `base token` for the server's data directory.
func (s *Server) Token(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(s.Bin, append([]string{"token", "--dir", s.Dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("base token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestSDK runs the node SDK suite against a fresh server.
func TestSDK(t *testing.T) {
	runSDK(t, "sdk/*.test.mjs")
}

// TestSDKFilesS3 runs the SDK's file tests against a server storing files
// in a real S3-compatible server (versitygw).
func TestSDKFilesS3(t *testing.T) {
	s3 := testsrv.VersityGW(t)
	if err := os.Mkdir(filepath.Join(s3.Dir, "e2e"), 0o755); err != nil {
		t.Fatal(err)
	}
	runSDK(t, "sdk/files.test.mjs",
		"BASE_FILES=s3", "S3_ENDPOINT="+s3.Endpoint, "S3_BUCKET=e2e", "S3_REGION="+s3.Region,
		"S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey, "S3_FORCE_PATH_STYLE=true")
}

// TestSDKPostgres runs the whole SDK suite against base serve on a real
// PostgreSQL (BASE_STORE=postgres): one schema per org.
func TestSDKPostgres(t *testing.T) {
	pg := testsrv.Postgres(t)
	runSDK(t, "sdk/*.test.mjs", "BASE_STORE=postgres", "BASE_STORE_URL="+pg.URL)
}

// TestSDKLibSQL runs the whole SDK suite against base serve on a real sqld
// with one namespace per org (BASE_STORE=libsql).
func TestSDKLibSQL(t *testing.T) {
	srv := testsrv.SQLD(t, true)
	_, port, _ := strings.Cut(srv.Addr, ":")
	u := "http://{org}.sqld.test:" + port + "?proxy=" + url.QueryEscape("http://"+srv.Addr) + "&admin=" + url.QueryEscape(srv.AdminURL)
	runSDK(t, "sdk/*.test.mjs", "BASE_STORE=libsql", "BASE_STORE_URL="+u)
}

// runSDK starts base serve (with extra environment) and runs the node
// test files matching glob against it with the standard identities.
func runSDK(t *testing.T, glob string, serverEnv ...string) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node")
	_, err = os.Stat("node_modules/pocketbase")
	need(t, err == nil, "e2e/node_modules (npm ci)")

	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin, serverEnv...)
	tokens := map[string][]string{
		"TOKEN_ADMIN":    {"--sub", "acme/admin", "--org", "acme", "--email", "admin@acme.test", "--name", "Admin", "--admin"},
		"TOKEN_ALICE":    {"--sub", "acme/alice", "--org", "acme", "--email", "alice@acme.test", "--name", "Alice"},
		"TOKEN_BOB":      {"--sub", "acme/bob", "--org", "acme", "--email", "bob@acme.test", "--name", "Bob"},
		"TOKEN_EVE":      {"--sub", "globex/eve", "--org", "globex", "--email", "eve@globex.test", "--name", "Eve"},
		"TOKEN_EVEADMIN": {"--sub", "globex/boss", "--org", "globex", "--email", "boss@globex.test", "--admin"},
		"TOKEN_PLATFORM": {"--sub", "built-in/root", "--org", "built-in", "--global-admin"},
		"TOKEN_EXPIRED":  {"--sub", "acme/alice", "--org", "acme", "--ttl", "-1h"},
		"TOKEN_MULTI":    {"--sub", "acme/carol", "--org", "acme", "--orgs", "globex:member"},
		// dave is used only by rules.test.mjs to watch the users mirror
		// being created on a first request and refreshed from new claims.
		"TOKEN_DAVE":  {"--sub", "acme/dave", "--org", "acme", "--email", "dave@acme.test", "--name", "Dave"},
		"TOKEN_DAVE2": {"--sub", "acme/dave", "--org", "acme", "--email", "david@acme.test", "--name", "David"},
	}
	env := append(os.Environ(), "BASE_URL="+srv.URL)
	for k, args := range tokens {
		env = append(env, k+"="+srv.Token(t, args...))
	}
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatalf("no %s files", glob)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, files...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("SDK suite failed: %v", err)
	}
}

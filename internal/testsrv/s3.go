package testsrv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// VersityGWPath is the versitygw binary: $BASE_VERSITYGW, else
// <module root>/.deps/bin/versitygw (scripts/deps/60-versitygw.sh).
func VersityGWPath() string {
	if p := os.Getenv("BASE_VERSITYGW"); p != "" {
		return p
	}
	return filepath.Join(ModuleRoot(), ".deps", "bin", "versitygw")
}

// S3 is a running S3-compatible server (versitygw over a POSIX directory).
type S3 struct {
	// Endpoint is its http:// origin; address buckets path-style.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// Dir is the directory it serves: every top-level directory is a
	// bucket.
	Dir string
}

// VersityGW starts versitygw on a free port over a fresh directory and
// stops it when tb ends. Missing binary: skipped locally, failed under CI.
func VersityGW(tb testing.TB) *S3 {
	tb.Helper()
	bin := VersityGWPath()
	if _, err := os.Stat(bin); err != nil {
		missing(tb, "versitygw", bin+" is missing; run scripts/deps/60-versitygw.sh or set BASE_VERSITYGW")
	}
	srv, stop, err := StartVersityGW(bin, tb.TempDir())
	if err != nil {
		tb.Fatalf("start versitygw: %v", err)
	}
	tb.Cleanup(stop)
	return srv
}

// StartVersityGW starts versitygw serving dir; the caller calls stop. It
// is for TestMain and benchmarks; tests use VersityGW.
func StartVersityGW(bin, dir string) (srv *S3, stop func(), err error) {
	for attempt := 0; ; attempt++ {
		port := freePort()
		srv = &S3{
			Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), AccessKey: "basetestkey",
			SecretKey: "basetestsecret", Region: "us-east-1", Dir: dir,
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, "--access", srv.AccessKey, "--secret", srv.SecretKey,
			"--region", srv.Region, "--port", "127.0.0.1:"+strconv.Itoa(port), "posix", dir)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		stop = func() {
			cmd.Process.Kill()
			<-done
		}
		if waitTCP(fmt.Sprintf("127.0.0.1:%d", port), done, 15*time.Second) {
			return srv, stop, nil
		}
		stop()
		if attempt == 2 {
			return nil, nil, fmt.Errorf("versitygw did not listen on %d:\n%s", port, out.String())
		}
	}
}

// waitTCP waits until addr accepts connections, the process exits (done)
// or the timeout passes.
func waitTCP(addr string, done <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

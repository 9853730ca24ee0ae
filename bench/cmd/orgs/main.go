// Command orgs measures how `base serve` scales in the number of
// organizations, on each store engine (issue 5, "Scale to zero"):
//
//   - create: N orgs are touched for the first time (one authenticated
//     request each: the org's database is created and bootstrapped, the
//     caller mirrored into its users), -conc at a time;
//   - cold: base serve is restarted on the same data, and every one of the
//     N orgs gets its first request from the new process, one at a time:
//     "the first request to a never-touched org, after N orgs exist";
//   - new: -new more orgs that do not exist yet, one at a time.
//
// After 100, 1,000 and 10,000 orgs (-checkpoints) of the create and cold
// phases it waits -settle and records the server's VmRSS ("settled") and
// VmHWM (its peak since start): RSS should be flat in the number of orgs,
// the stores closing idle org handles (LRU) as they go. With -idle, one
// more reading after the server has been idle that long (the "cpu/req"
// column then shows the wait).
//
// PostgreSQL and sqld are started from the binaries internal/testsrv
// finds; base serve is the binary given by -base. The request is
// GET /v1/collections/users/records?perPage=1 with a platform superuser
// token and X-Org-Id. Latencies are wall time on the client; "cpu/req" is
// the server process's CPU time (user+system) over the phase divided by
// its requests, less sensitive to the shared machine's noise.
//
// For libSQL, sqld keeps about six files open per loaded namespace and
// closes them only when it evicts one: -sqld-active (--max-active-namespaces)
// bounds them, -sqld-flags passes other sqld flags, and -retry-503 retries
// the 503 that Base answers when sqld, evicting, loses a namespace under a
// request (counted in the table). Their defaults come from ORGS_SQLD_ACTIVE,
// ORGS_SQLD_FLAGS and ORGS_RETRY_503, which bench/scripts/orgs.sh passes
// through.
//
//	go run ./bench/cmd/orgs -base /tmp/base -engines sqlite,postgres,libsql -n 10000
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
)

func main() {
	var (
		bin         = flag.String("base", "", "base binary (required)")
		engines     = flag.String("engines", "sqlite,postgres,libsql", "engines to measure")
		n           = flag.Int("n", 10000, "orgs to create and then touch cold")
		newN        = flag.Int("new", 200, "orgs created one at a time after the cold phase")
		conc        = flag.Int("conc", 4, "concurrent requests in the create phase")
		checkpoints = flag.String("checkpoints", "100,1000,10000", "org counts at which RSS is recorded")
		settle      = flag.Duration("settle", 3*time.Second, "wait before a settled RSS reading")
		idle        = flag.Duration("idle", 0, "after the new phase, wait this long and record RSS once more (0: skip)")
		sqldActive  = flag.Int("sqld-active", envInt("ORGS_SQLD_ACTIVE", 10000), "sqld --max-active-namespaces (default $ORGS_SQLD_ACTIVE or 10000; each active namespace holds 5-6 open files, closed when sqld evicts it)")
		sqldFlags   = flag.String("sqld-flags", os.Getenv("ORGS_SQLD_FLAGS"), "more sqld flags, space separated (default $ORGS_SQLD_FLAGS; e.g. \"--use-custom-wal libsql-wal\": 2 open files per namespace, never closed)")
		retry503    = flag.Int("retry-503", envInt("ORGS_RETRY_503", 0), "retry a request answered 503 up to this many times, counting the retries (default $ORGS_RETRY_503 or 0; sqld under --max-active-namespaces can answer 404 for a namespace it evicts while loading it, which Base reports as 503)")
		out         = flag.String("out", "", "also append the text table to this file")
		keep        = flag.Bool("keep", false, "keep the temp dirs and server logs")
	)
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "orgs: -base is required")
		os.Exit(2)
	}
	var cps []int
	for _, f := range strings.Split(*checkpoints, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "orgs: bad checkpoint %q\n", f)
			os.Exit(2)
		}
		if v <= *n {
			cps = append(cps, v)
		}
	}
	if len(cps) == 0 || cps[len(cps)-1] != *n {
		cps = append(cps, *n)
	}
	var report bytes.Buffer
	w := io.MultiWriter(os.Stdout, &report)
	nofile := raiseNoFile()
	extra := strings.Fields(*sqldFlags)
	retrying := ""
	if *retry503 > 0 {
		retrying = fmt.Sprintf(", 503 retried up to %d times", *retry503)
	}
	fmt.Fprintf(w, "# orgs: n=%d, create conc=%d, new=%d, settle=%s, RLIMIT_NOFILE=%d, sqld --max-active-namespaces %d%s%s, %s, load before: %s\n",
		*n, *conc, *newN, *settle, nofile, *sqldActive, strings.Join(append([]string{""}, extra...), " "), retrying, time.Now().UTC().Format("2006-01-02 15:04"), loadavg())
	failed := false
	for _, e := range strings.Split(*engines, ",") {
		r := &run{engine: strings.TrimSpace(e), bin: *bin, n: *n, newN: *newN, conc: *conc, cps: cps, settle: *settle, idle: *idle, keep: *keep, sqldActive: *sqldActive, sqldFlags: extra, retry503: *retry503, w: w}
		if err := r.do(); err != nil {
			fmt.Fprintf(w, "%s: FAILED: %v\n", r.engine, err)
			failed = true
		}
	}
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.Write(report.Bytes())
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "orgs:", err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}

type run struct {
	engine  string
	bin     string
	n, newN int
	conc    int
	cps     []int
	settle  time.Duration
	idle    time.Duration
	keep    bool
	// sqldActive is sqld's --max-active-namespaces; sqldFlags are more
	// sqld flags.
	sqldActive int
	sqldFlags  []string
	// retry503 is how many times a 503 is retried; retried counts the
	// retries.
	retry503 int
	retried  atomic.Int64
	w        io.Writer
	dir      string
	env      []string
	srv      *server
	token    string
	client   *http.Client
	stopDeps func()
}

func (r *run) do() error {
	dir, err := os.MkdirTemp("", "base-orgs-")
	if err != nil {
		return err
	}
	r.dir = dir
	if !r.keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "orgs: %s: keeping %s\n", r.engine, dir)
	}
	if err := r.deps(); err != nil {
		return err
	}
	defer r.stopDeps()
	r.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}

	if r.srv, err = startServer(r.bin, dir, r.env); err != nil {
		return err
	}
	tok, err := exec.Command(r.bin, "token", "--dir", filepath.Join(dir, "data"), "--sub", "built-in/bench",
		"--org", "built-in", "--global-admin", "--ttl", "12h").Output()
	if err != nil {
		r.srv.stop()
		return fmt.Errorf("base token: %w", err)
	}
	r.token = strings.TrimSpace(string(tok))
	fmt.Fprintf(r.w, "## %s (load: %s)\n", r.engine, loadavg())
	fmt.Fprintf(r.w, "  %-6s %6s %9s %9s %9s %9s %9s %9s %9s\n", "phase", "orgs", "p50", "p90", "p99", "max", "cpu/req", "RSS", "peak")
	if err := r.phase("create", 0, r.conc); err != nil {
		r.srv.stop()
		return err
	}
	r.srv.stop()
	if r.srv, err = startServer(r.bin, dir, r.env); err != nil {
		return err
	}
	defer r.srv.stop()
	if err := r.phase("cold", 0, 1); err != nil {
		return err
	}
	if r.newN > 0 {
		re0 := r.retried.Load()
		lat, cpu, err := r.touch(r.n, r.n+r.newN, 1)
		if err != nil {
			return err
		}
		rss, hwm := r.srv.rss()
		r.row("new", r.newN, lat, cpu, rss, hwm)
		r.retries("new", r.newN, re0)
	}
	if r.idle > 0 {
		time.Sleep(r.idle)
		rss, hwm := r.srv.rss()
		fmt.Fprintf(r.w, "  %-6s %6s %9s %9s %9s %9s %9s %9s %9s\n", "idle", "-", "-", "-", "-", "-", r.idle, mib(rss), mib(hwm))
	}
	return nil
}

// phase touches orgs [0, n) in the checkpoint batches, printing one row
// per checkpoint (latencies of that batch, RSS after it).
func (r *run) phase(name string, from, conc int) error {
	var all []time.Duration
	var cpuAll time.Duration
	prev := from
	re0 := r.retried.Load()
	for _, cp := range r.cps {
		re := r.retried.Load()
		lat, cpu, err := r.touch(prev, cp, conc)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, lat...)
		cpuAll += cpu
		time.Sleep(r.settle)
		rss, hwm := r.srv.rss()
		r.row(name, cp, lat, cpu, rss, hwm)
		r.retries(name, cp, re)
		prev = cp
	}
	rss, hwm := r.srv.rss()
	r.row(name+"*", len(all), all, cpuAll, rss, hwm)
	r.retries(name+"*", len(all), re0)
	return nil
}

// retries notes the 503s retried since since, if any: those requests'
// latencies include the failed attempts.
func (r *run) retries(name string, orgs int, since int64) {
	if n := r.retried.Load() - since; n > 0 {
		fmt.Fprintf(r.w, "  %-6s %6d   %d retried after a 503 (latency includes the failed attempt)\n", name, orgs, n)
	}
}

func (r *run) row(name string, orgs int, lat []time.Duration, cpu time.Duration, rss, hwm int64) {
	s := slices.Clone(lat)
	slices.Sort(s)
	p := func(q float64) string {
		if len(s) == 0 {
			return "-"
		}
		return ms(s[min(len(s)-1, int(float64(len(s))*q))])
	}
	perReq := time.Duration(0)
	if len(lat) > 0 {
		perReq = cpu / time.Duration(len(lat))
	}
	fmt.Fprintf(r.w, "  %-6s %6d %9s %9s %9s %9s %9s %9s %9s\n", name, orgs, p(0.5), p(0.9), p(0.99), ms(s[len(s)-1]), ms(perReq), mib(rss), mib(hwm))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
func mib(kib int64) string      { return fmt.Sprintf("%.1fMiB", float64(kib)/1024) }

// touch sends the first request to orgs [from, to), conc at a time, and
// returns each latency and the server's CPU time over the batch.
func (r *run) touch(from, to, conc int) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, to-from)
	cpu0 := r.srv.cpu()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to || firstErr != nil {
					return
				}
				d, err := r.request(fmt.Sprintf("org%05d", i))
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i-from] = d
			}
		}()
	}
	wg.Wait()
	return lat, r.srv.cpu() - cpu0, firstErr
}

func (r *run) request(org string) (time.Duration, error) {
	start := time.Now()
	var resp *http.Response
	var body []byte
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest("GET", r.srv.url+"/v1/collections/users/records?perPage=1", nil)
		req.Header.Set("Authorization", r.token)
		req.Header.Set("X-Org-Id", org)
		var err error
		resp, err = r.client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", org, err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || attempt >= r.retry503 {
			break
		}
		r.retried.Add(1)
	}
	d := time.Since(start)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %d %s", org, resp.StatusCode, body)
	}
	return d, nil
}

// deps starts the engine's database server and sets r.env.
func (r *run) deps() error {
	r.stopDeps = func() {}
	switch r.engine {
	case "sqlite":
		r.env = []string{"BASE_STORE=sqlite"}
	case "postgres":
		pg, err := testsrv.StartPostgres(testsrv.PGBinDir())
		if err != nil {
			return err
		}
		r.stopDeps = func() { pg.Stop() }
		r.env = []string{"BASE_STORE=postgres", "BASE_STORE_URL=" + pg.URL}
	case "libsql":
		addr, admin, stop, err := startSqld(r.dir, r.sqldActive, r.sqldFlags)
		if err != nil {
			return err
		}
		r.stopDeps = stop
		_, port, _ := strings.Cut(addr, ":")
		u := "http://{org}.sqld.test:" + port + "?proxy=" + url.QueryEscape("http://"+addr) + "&admin=" + url.QueryEscape("http://"+admin)
		r.env = []string{"BASE_STORE=libsql", "BASE_STORE_URL=" + u}
	default:
		return fmt.Errorf("unknown engine %q", r.engine)
	}
	return nil
}

// server is a running base serve.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  *os.File
}

func startServer(bin, dir string, env []string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--dir", filepath.Join(dir, "data"), "--http", addr)
	cmd.Env = append(os.Environ(), append(env, "BASE_LOG_LEVEL=warn")...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr, done: make(chan struct{}), log: logf}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("base serve exited; see %s", logf.Name())
		default:
		}
		resp, err := http.Get(s.url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	return nil, errors.New("base serve did not become healthy")
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// rss returns VmRSS and VmHWM of the server in KiB.
func (s *server) rss() (rss, hwm int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// cpu returns the server's user+system CPU time so far.
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// envInt returns the integer in the environment variable name, or def.
// bench/scripts/orgs.sh passes its environment on, so these reach the
// tool without new script knobs.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// raiseNoFile lifts this process's open-file limit (inherited by the
// servers it starts) as far as allowed and returns it. sqld keeps every
// active namespace's files open (about six per org: database, WAL, shm,
// WAL log...): with 20,000 descriptors and 10,000 active namespaces it
// answers "unable to open database file" from ~3,300 orgs on, hence also
// -sqld-active.
func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	for _, want := range []uint64{1 << 20, 1 << 18, 1 << 16} {
		if want <= lim.Cur {
			break
		}
		nl := syscall.Rlimit{Cur: want, Max: max(want, lim.Max)}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl) == nil {
			return want
		}
		nl.Max = lim.Max
		if want <= lim.Max && syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl) == nil {
			return want
		}
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

// startSqld starts sqld with namespaces, like testsrv.StartSqld but with
// --max-active-namespaces active (testsrv's is 10,000: more open files
// than the usual limit allows once 10,000 orgs exist) and the extra flags.
func startSqld(dir string, active int, extra []string) (addr, admin string, stop func(), err error) {
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ""
		}
		defer l.Close()
		return l.Addr().String()
	}
	addr, admin = free(), free()
	logf, err := os.Create(filepath.Join(dir, "sqld.log"))
	if err != nil {
		return "", "", nil, err
	}
	args := append([]string{"--db-path", filepath.Join(dir, "sqld"),
		"--http-listen-addr", addr, "--admin-listen-addr", admin, "--no-welcome",
		"--enable-namespaces", "--disable-default-namespace", "--max-active-namespaces", strconv.Itoa(active)}, extra...)
	cmd := exec.Command(testsrv.SqldPath(), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", "", nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		cmd.Process.Kill()
		<-done
		logf.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get("http://" + admin + "/metrics"); err == nil {
			resp.Body.Close()
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return addr, admin, stop, nil
			}
		}
		select {
		case <-done:
			stop()
			return "", "", nil, fmt.Errorf("sqld exited; see %s", logf.Name())
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	return "", "", nil, errors.New("sqld did not become ready")
}

// Command coldstart measures how long a server takes from exec to its first
// 200 answer on a health URL, over several runs.
//
// Usage:
//
//	coldstart -n 20 -url http://127.0.0.1:8090/v1/health -- base serve --dir D --http 127.0.0.1:8090
//
// Each run starts the command in its own process group, polls the URL with a
// tight backoff (100 µs growing to 2 ms) over fresh connections, records the
// time from just before exec to the first 200, then sends SIGTERM to the
// group (SIGKILL after -grace) and waits for it to exit before the next run.
// The first -discard runs are reported but not counted. It uses the standard
// library only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hanzoai/base/bench/internal/machine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// Config is one coldstart measurement.
type Config struct {
	Command []string      // program and arguments
	URL     string        // health URL that must answer 200
	N       int           // counted runs
	Discard int           // extra runs first, not counted (warm the page cache)
	Timeout time.Duration // per run, exec to 200
	Grace   time.Duration // SIGTERM to SIGKILL
	Log     string        // file to append the server's output to; "" = discard
	Quiet   float64       // first wait until other processes use less than this share of CPU
	Wait    time.Duration // but no longer than this
}

// Result is the outcome of a measurement. Times are in milliseconds.
type Result struct {
	Command   []string  `json:"command"`
	URL       string    `json:"url"`
	OtherCPU  float64   `json:"otherCPUBefore"` // share of CPU other work used just before the runs
	N         int       `json:"n"`
	Discarded []float64 `json:"discardedMs,omitempty"`
	Samples   []float64 `json:"samplesMs"`
	MinMS     float64   `json:"minMs"`
	MedianMS  float64   `json:"medianMs"`
	P90MS     float64   `json:"p90Ms"`
	MaxMS     float64   `json:"maxMs"`
	MeanMS    float64   `json:"meanMs"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: coldstart [flags] -url HEALTH_URL -- command [args...]")
		fs.PrintDefaults()
	}
	var cfg Config
	var jsonOut string
	fs.IntVar(&cfg.N, "n", 20, "counted runs")
	fs.IntVar(&cfg.Discard, "discard", 1, "uncounted runs first")
	fs.StringVar(&cfg.URL, "url", "", "health URL that must answer 200 (required)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-run limit from exec to 200")
	fs.DurationVar(&cfg.Grace, "grace", 5*time.Second, "time between SIGTERM and SIGKILL")
	fs.StringVar(&cfg.Log, "log", "", "append the server's stdout/stderr to this file")
	fs.Float64Var(&cfg.Quiet, "quiet", 0.10, "first wait until other processes use less than this share of the machine's CPU (0 = don't wait)")
	fs.DurationVar(&cfg.Wait, "quiet-wait", 5*time.Minute, "longest wait for a quiet machine")
	fs.StringVar(&jsonOut, "json", "", "also write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Command = fs.Args()
	if cfg.URL == "" || len(cfg.Command) == 0 || cfg.N < 1 || cfg.Discard < 0 {
		fs.Usage()
		return errors.New("need -url, -n >= 1 and a command")
	}
	res, err := Measure(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cold start (exec -> first 200 from %s), %d runs (+%d discarded):\n", res.URL, res.N, len(res.Discarded))
	fmt.Fprintf(stdout, "  min %.2fms  median %.2fms  p90 %.2fms  max %.2fms  mean %.2fms\n",
		res.MinMS, res.MedianMS, res.P90MS, res.MaxMS, res.MeanMS)
	fmt.Fprintf(stdout, "  command: %s\n", strings.Join(res.Command, " "))
	if jsonOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", jsonOut, err)
		}
	}
	return nil
}

// Measure runs the command cfg.Discard+cfg.N times and returns the timings.
func Measure(ctx context.Context, cfg Config) (*Result, error) {
	var logw io.Writer
	if cfg.Log != "" {
		f, err := os.OpenFile(cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open log: %w", err)
		}
		defer f.Close()
		logw = f
	}
	res := &Result{Command: cfg.Command, URL: cfg.URL, N: cfg.N}
	if cfg.Quiet > 0 {
		other, err := machine.WaitQuiet(ctx, 0, cfg.Quiet, cfg.Wait, os.Stderr)
		if err != nil {
			return nil, err
		}
		res.OtherCPU = other
	}
	for i := range cfg.Discard + cfg.N {
		d, err := once(ctx, cfg, logw)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		v := float64(d.Microseconds()) / 1000
		if i < cfg.Discard {
			res.Discarded = append(res.Discarded, v)
		} else {
			res.Samples = append(res.Samples, v)
		}
	}
	res.summarize()
	return res, nil
}

func (r *Result) summarize() {
	s := slices.Clone(r.Samples)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return
	}
	r.MinMS, r.MaxMS = s[0], s[n-1]
	if n%2 == 1 {
		r.MedianMS = s[n/2]
	} else {
		r.MedianMS = (s[n/2-1] + s[n/2]) / 2
	}
	rank := int(0.9*float64(n) + 0.999999999) // nearest rank
	r.P90MS = s[max(1, min(rank, n))-1]
	var sum float64
	for _, v := range s {
		sum += v
	}
	r.MeanMS = sum / float64(n)
}

// once starts the command, waits for the first 200 and stops it again.
func once(ctx context.Context, cfg Config, logw io.Writer) (time.Duration, error) {
	probe := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	if ok, _ := healthy(ctx, probe, cfg.URL); ok {
		return 0, fmt.Errorf("%s already answers 200 before exec: another server is running", cfg.URL)
	}

	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited := make(chan error, 1)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("exec %s: %w", cfg.Command[0], err)
	}
	go func() { exited <- cmd.Wait() }()
	defer stopGroup(cmd, exited, cfg.Grace)

	deadline := start.Add(cfg.Timeout)
	backoff := 100 * time.Microsecond
	for {
		ok, err := healthy(ctx, probe, cfg.URL)
		if ok {
			return time.Since(start), nil
		}
		select {
		case werr := <-exited:
			exited <- werr // let stopGroup see it
			return 0, fmt.Errorf("server exited before answering 200 (%v); last probe: %v", werr, err)
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no 200 from %s within %s; last probe: %v", cfg.URL, cfg.Timeout, err)
		}
		time.Sleep(backoff)
		backoff = min(backoff*3/2, 2*time.Millisecond)
	}
}

// healthy reports whether url answers 200. err describes a failed probe.
func healthy(ctx context.Context, c *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return true, nil
}

// stopGroup sends SIGTERM to the command's process group, then SIGKILL
// after grace, and waits for the command to exit.
func stopGroup(cmd *exec.Cmd, exited chan error, grace time.Duration) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	// Children that outlived the leader still hold the port: kill them too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

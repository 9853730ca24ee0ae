// Command loadgen is a closed-loop HTTP load generator that speaks the
// PocketBase wire protocol. It runs the issue 2 workload (list, list with
// expand and a `~` filter, view, create, update) against any server that
// answers the records and collections API under an API prefix (`/api` works
// on both PocketBase and Base), so the two can be measured with one tool.
//
// Usage:
//
//	loadgen -url http://127.0.0.1:8090 -token "$TOKEN" -setup -pid $PID \
//	        -clients 32 -duration 15s -records 10000 -json out.json
//
// With -setup it creates the `authors` and `posts` collections through the
// collections API and seeds them (batch API when available). Without it, it
// reads the ids of an existing `posts`/`authors` pair. With -pid it samples the
// server's VmRSS every 100 ms and reports the peak, and VmHWM at the end.
//
// It uses the standard library only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hanzoai/base/bench/internal/machine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Config is everything one loadgen run needs; main fills it from flags.
type Config struct {
	URL       string        // server origin, e.g. http://127.0.0.1:8090
	Prefix    string        // API prefix, "/api" by default
	Token     string        // sent verbatim as Authorization
	Clients   int           // concurrent closed-loop clients per scenario
	Duration  time.Duration // measured time per scenario
	Warmup    time.Duration // unmeasured time before each scenario
	Records   int           // posts to seed with -setup
	Authors   int           // authors to seed with -setup
	Pages     int           // list/expand pick a page uniformly in [1, Pages]
	BatchSize int           // sub-requests per batch call while seeding
	Setup     bool          // create the schema and seed before measuring
	Scenarios []string      // names from scenarioNames, run in order
	PID       int           // server pid to sample RSS from; 0 = none
	Label     string        // free-form name of the target, copied to the report
	Seed      int64         // random seed for the generated data and request mix
	Timeout   time.Duration // per-request timeout
	Quiet     float64       // wait until other processes use less than this share of CPU
	QuietWait time.Duration // but no longer than this per scenario
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var cfg Config
	var scenarios, jsonOut string
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8090", "server origin")
	fs.StringVar(&cfg.Prefix, "prefix", "/api", "API prefix (`/api` works on PocketBase and Base)")
	fs.StringVar(&cfg.Token, "token", "", "sent verbatim as the Authorization header")
	fs.IntVar(&cfg.Clients, "clients", 32, "concurrent closed-loop clients")
	fs.DurationVar(&cfg.Duration, "duration", 15*time.Second, "measured duration per scenario")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up per scenario")
	fs.IntVar(&cfg.Records, "records", 10000, "posts to seed with -setup")
	fs.IntVar(&cfg.Authors, "authors", 100, "authors to seed with -setup")
	fs.IntVar(&cfg.Pages, "pages", 10, "list/expand request a page uniformly in [1, pages]")
	fs.IntVar(&cfg.BatchSize, "batch", 50, "sub-requests per batch call while seeding")
	fs.BoolVar(&cfg.Setup, "setup", false, "create the authors/posts collections and seed them")
	fs.StringVar(&scenarios, "scenarios", strings.Join(scenarioNames, ","), "comma-separated scenarios to run, in order")
	fs.IntVar(&cfg.PID, "pid", 0, "server PID: sample VmRSS every 100 ms and report the peak and VmHWM")
	fs.StringVar(&cfg.Label, "label", "", "name of the target, copied into the report")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.Float64Var(&cfg.Quiet, "quiet", 0.10, "before each scenario wait until other processes use less than this share of the machine's CPU (0 = don't wait)")
	fs.DurationVar(&cfg.QuietWait, "quiet-wait", 5*time.Minute, "longest wait for a quiet machine per scenario")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if _, ok := scenarioByName(s); !ok {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(scenarioNames, ","))
		}
		cfg.Scenarios = append(cfg.Scenarios, s)
	}
	if cfg.Clients < 1 || cfg.Duration <= 0 || cfg.Pages < 1 || cfg.BatchSize < 1 {
		return errors.New("-clients, -duration, -pages and -batch must be positive")
	}

	rep, err := Run(ctx, cfg, os.Stderr)
	if err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", jsonOut, err)
		}
	}
	for _, s := range rep.Scenarios {
		if !s.Verified {
			return fmt.Errorf("scenario %s answered wrongly (%s): its numbers are not comparable", s.Name, s.VerifyError)
		}
	}
	return nil
}

// Run sets up (if asked), runs every scenario in order and returns the report.
// Progress lines go to log. It fails on setup errors; request errors during
// scenarios are counted in the report instead.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	c := newClient(cfg)
	rep := &Report{
		Label:      cfg.Label,
		URL:        cfg.URL,
		Prefix:     cfg.Prefix,
		Started:    time.Now().UTC(),
		Clients:    cfg.Clients,
		Duration:   Duration{cfg.Duration},
		Warmup:     Duration{cfg.Warmup},
		Pages:      cfg.Pages,
		QuietLimit: cfg.Quiet,
	}

	var sampler *RSSSampler
	if cfg.PID > 0 {
		var err error
		sampler, err = StartRSSSampler(cfg.PID, 100*time.Millisecond)
		if err != nil {
			return nil, err
		}
		defer sampler.Stop()
	}

	var data *Dataset
	if cfg.Setup {
		start := time.Now()
		sum, d, err := Setup(ctx, c, cfg, log)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		sum.Seconds = time.Since(start).Seconds()
		if sampler != nil {
			sum.PeakRSSKB = sampler.PeakSinceMark()
		}
		rep.Setup = sum
		data = d
	} else {
		d, err := LoadDataset(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("load dataset: %w", err)
		}
		data = d
	}
	rep.Records = len(data.PostIDs)
	want := rep.Setup
	fmt.Fprintf(log, "dataset: %d posts, %d authors\n", len(data.PostIDs), len(data.AuthorIDs))

	for i, name := range cfg.Scenarios {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sc, _ := scenarioByName(name)
		// Known match counts hold until a write scenario has changed the data.
		verr := Verify(ctx, c, sc, data, cfg, want)
		if name == "create" || name == "update" {
			want = nil
		}
		if cfg.Quiet > 0 {
			if _, err := machine.WaitQuiet(ctx, cfg.PID, cfg.Quiet, cfg.QuietWait, log); err != nil {
				return nil, err
			}
		}
		if sampler != nil {
			sampler.Mark()
		}
		res := RunScenario(ctx, c, sc, data, cfg, int64(i))
		res.Verified = verr == nil
		if verr != nil {
			res.VerifyError = verr.Error()
			fmt.Fprintf(log, "%s: WRONG ANSWER: %v\n", name, verr)
		}
		if sampler != nil {
			res.PeakRSSKB = sampler.PeakSinceMark()
		}
		fmt.Fprintf(log, "%-8s %8d req %7.0f req/s  p99 %s  errors %d  other CPU %.0f%%\n",
			res.Name, res.Requests, res.RPS, fmtMS(res.P99MS), res.Errors, 100*res.CPU.Other)
		rep.Scenarios = append(rep.Scenarios, res)
	}
	if sampler != nil {
		sampler.Stop()
		rep.PeakRSSKB = sampler.Peak()
		rep.VmHWMKB = sampler.HWM()
	}
	rep.Finished = time.Now().UTC()
	return rep, nil
}

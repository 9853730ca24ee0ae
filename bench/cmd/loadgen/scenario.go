package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hanzoai/base/bench/internal/machine"
)

// Scenario is one request shape. Next builds the i-th request of a client.
type Scenario struct {
	Name string
	Next func(r *rand.Rand, d *Dataset, cfg Config) (method, path string, body any)
}

// scenarioNames is the default order: reads first, then writes (create grows
// the table, which the reads would otherwise see).
var scenarioNames = []string{"list", "expand", "view", "create", "update"}

var (
	listQuery = func(page int) string {
		q := url.Values{
			"page": {fmt.Sprint(page)}, "perPage": {"20"},
			"filter": {listFilter}, "sort": {listSort},
		}
		return "/collections/posts/records?" + q.Encode()
	}
	expandQuery = func(page int) string {
		q := url.Values{
			"page": {fmt.Sprint(page)}, "perPage": {"20"},
			"expand": {"author"}, "filter": {expandFilter}, "sort": {listSort},
		}
		return "/collections/posts/records?" + q.Encode()
	}
)

var scenarios = []Scenario{
	{"list", func(r *rand.Rand, d *Dataset, cfg Config) (string, string, any) {
		return http.MethodGet, listQuery(1 + r.IntN(cfg.Pages)), nil
	}},
	{"expand", func(r *rand.Rand, d *Dataset, cfg Config) (string, string, any) {
		return http.MethodGet, expandQuery(1 + r.IntN(cfg.Pages)), nil
	}},
	{"view", func(r *rand.Rand, d *Dataset, cfg Config) (string, string, any) {
		return http.MethodGet, "/collections/posts/records/" + d.PostIDs[r.IntN(len(d.PostIDs))], nil
	}},
	{"create", func(r *rand.Rand, d *Dataset, cfg Config) (string, string, any) {
		return http.MethodPost, "/collections/posts/records", newPost(r, d.AuthorIDs)
	}},
	{"update", func(r *rand.Rand, d *Dataset, cfg Config) (string, string, any) {
		id := d.PostIDs[r.IntN(len(d.PostIDs))]
		return http.MethodPatch, "/collections/posts/records/" + id, map[string]any{"views": r.IntN(1000)}
	}},
}

func scenarioByName(name string) (Scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

const maxErrorSamples = 5

// RunScenario runs sc with cfg.Clients closed-loop clients: each sends a
// request, reads the whole answer, and sends the next. Requests started in
// the warm-up are not counted; the measured window is cfg.Duration.
func RunScenario(ctx context.Context, c *client, sc Scenario, d *Dataset, cfg Config, salt int64) ScenarioResult {
	type clientResult struct {
		lat       []time.Duration
		non2xx    int
		transport int
		samples   []string
	}
	results := make([]clientResult, cfg.Clients)

	measureFrom := time.Now().Add(cfg.Warmup)
	deadline := measureFrom.Add(cfg.Duration)
	// CPU accounting covers the measured window only.
	var cpuStart machine.Snapshot
	var cpuErr error
	cpuStarted := make(chan struct{})
	time.AfterFunc(time.Until(measureFrom), func() {
		cpuStart, cpuErr = machine.Read(cfg.PID)
		close(cpuStarted)
	})
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[i]
			res.lat = make([]time.Duration, 0, 4096)
			r := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(salt)<<32|uint64(i)))
			for ctx.Err() == nil {
				method, path, body := sc.Next(r, d, cfg)
				start := time.Now()
				if !start.Before(deadline) {
					return
				}
				resp, err := c.do(ctx, method, path, body)
				lat := time.Since(start)
				if start.Before(measureFrom) {
					continue
				}
				res.lat = append(res.lat, lat)
				switch {
				case err != nil:
					if errors.Is(err, context.Canceled) {
						return
					}
					res.transport++
					if len(res.samples) < maxErrorSamples {
						res.samples = append(res.samples, fmt.Sprintf("%s %s: %v", method, path, err))
					}
				case !resp.OK():
					res.non2xx++
					if len(res.samples) < maxErrorSamples {
						res.samples = append(res.samples, fmt.Sprintf("%s %s: %d %s", method, path, resp.Status, truncate(resp.Body, 300)))
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	<-cpuStarted
	cpuEnd, err := machine.Read(cfg.PID)
	if elapsed < cfg.Duration {
		elapsed = cfg.Duration
	}

	out := ScenarioResult{Name: sc.Name, Clients: cfg.Clients}
	if cpuErr == nil && err == nil {
		out.CPU = machine.Share(cpuStart, cpuEnd)
	}
	var all []time.Duration
	for _, res := range results {
		all = append(all, res.lat...)
		out.Non2xx += res.non2xx
		out.TransportErrors += res.transport
		for _, s := range res.samples {
			if len(out.ErrorSamples) < maxErrorSamples {
				out.ErrorSamples = append(out.ErrorSamples, s)
			}
		}
	}
	out.Errors = out.Non2xx + out.TransportErrors
	out.Seconds = elapsed.Seconds()
	out.setLatencies(all)
	return out
}

// Command compare reads two result files written by bench/scripts (Base and
// the PocketBase reference) and checks issue 2's targets: on every scenario
// Base serves at least -ratio (1.5) times PocketBase's requests/s with a p99
// no worse, Base's peak RSS is at most PocketBase's, and Base's median cold
// start is at most -cold (30 ms). It exits 1 when a target is missed.
//
// Usage:
//
//	compare bench/results/base-DATE.json bench/results/pocketbase-DATE.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// result is the part of a result file compare reads.
type result struct {
	Target  string `json:"target"`
	Version string `json:"version"`
	Date    string `json:"date"`
	Load    struct {
		Records   int `json:"records"`
		Clients   int `json:"clients"`
		Scenarios []struct {
			Name     string  `json:"name"`
			Requests int     `json:"requests"`
			Errors   int     `json:"errors"`
			Verified bool    `json:"verified"`
			RPS      float64 `json:"rps"`
			P99MS    float64 `json:"p99Ms"`
			CPU      struct {
				Other float64 `json:"other"`
			} `json:"cpu"`
		} `json:"scenarios"`
		PeakRSSKB int64 `json:"peakRSSKB"`
		VmHWMKB   int64 `json:"vmHWMKB"`
	} `json:"load"`
	Coldstart struct {
		MedianMS float64 `json:"medianMs"`
	} `json:"coldstart"` // on the data dir the load run left behind: the target
	ColdstartEmpty struct {
		MedianMS float64 `json:"medianMs"`
	} `json:"coldstartEmpty"` // on an empty data dir: for reference
}

func main() {
	ok, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func load(path string) (*result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &r, nil
}

func run(args []string, w io.Writer) (bool, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	ratio := fs.Float64("ratio", 1.5, "required req/s ratio candidate/reference")
	cold := fs.Float64("cold", 30, "required median cold start of the candidate, ms")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if fs.NArg() != 2 {
		return false, fmt.Errorf("usage: compare [flags] CANDIDATE.json REFERENCE.json")
	}
	cand, err := load(fs.Arg(0))
	if err != nil {
		return false, err
	}
	ref, err := load(fs.Arg(1))
	if err != nil {
		return false, err
	}
	if cand.Load.Records != ref.Load.Records || cand.Load.Clients != ref.Load.Clients {
		fmt.Fprintf(w, "WARNING: different workloads: %d records/%d clients vs %d/%d\n",
			cand.Load.Records, cand.Load.Clients, ref.Load.Records, ref.Load.Clients)
	}
	fmt.Fprintf(w, "%s %s (%s) vs %s %s (%s)\n", cand.Target, cand.Version, cand.Date, ref.Target, ref.Version, ref.Date)
	all := true
	mark := func(pass bool) string {
		if pass {
			return "ok"
		}
		all = false
		return "MISS"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\treq/s\tref req/s\tratio\t\tp99\tref p99\t\tnotes\t\n")
	for _, rs := range ref.Load.Scenarios {
		found := false
		for _, cs := range cand.Load.Scenarios {
			if cs.Name != rs.Name {
				continue
			}
			found = true
			r := 0.0
			if rs.RPS > 0 {
				r = cs.RPS / rs.RPS
			}
			notes := ""
			if !cs.Verified {
				notes += " wrong-answers"
				all = false
			}
			if cs.Errors > 0 {
				notes += fmt.Sprintf(" %d-errors", cs.Errors)
				all = false
			}
			if cs.CPU.Other > 0.1 || rs.CPU.Other > 0.1 {
				notes += fmt.Sprintf(" noisy(%.0f%%/%.0f%%)", 100*cs.CPU.Other, 100*rs.CPU.Other)
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2fx\t%s\t%.2fms\t%.2fms\t%s\t%s\t\n", cs.Name, cs.RPS, rs.RPS, r,
				mark(r >= *ratio), cs.P99MS, rs.P99MS, mark(cs.P99MS <= rs.P99MS), notes)
		}
		if !found {
			fmt.Fprintf(tw, "%s\t-\t%.0f\t\tMISS\t\t\t\tnot run\t\n", rs.Name, rs.RPS)
			all = false
		}
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	cPeak, rPeak := max(cand.Load.PeakRSSKB, cand.Load.VmHWMKB), max(ref.Load.PeakRSSKB, ref.Load.VmHWMKB)
	fmt.Fprintf(w, "peak RSS: %.1f MiB vs %.1f MiB  %s\n", float64(cPeak)/1024, float64(rPeak)/1024, mark(cPeak > 0 && cPeak <= rPeak))
	fmt.Fprintf(w, "cold start median, loaded data dir: %.2f ms (reference %.2f ms), target <= %.0f ms  %s\n",
		cand.Coldstart.MedianMS, ref.Coldstart.MedianMS, *cold, mark(cand.Coldstart.MedianMS > 0 && cand.Coldstart.MedianMS <= *cold))
	fmt.Fprintf(w, "cold start median, empty data dir:  %.2f ms (reference %.2f ms)\n",
		cand.ColdstartEmpty.MedianMS, ref.ColdstartEmpty.MedianMS)
	if all {
		fmt.Fprintln(w, "all targets met")
	} else {
		fmt.Fprintln(w, "targets missed")
	}
	return all, nil
}

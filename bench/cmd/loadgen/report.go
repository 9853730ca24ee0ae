package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hanzoai/base/bench/internal/machine"
)

// Duration is a time.Duration that marshals as its string form ("15s").
type Duration struct{ time.Duration }

// MarshalJSON encodes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON decodes a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	d.Duration = v
	return err
}

// Report is the result of one loadgen run.
type Report struct {
	Label    string    `json:"label,omitempty"`
	URL      string    `json:"url"`
	Prefix   string    `json:"prefix"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Clients  int       `json:"clients"`
	Duration Duration  `json:"duration"`
	Warmup   Duration  `json:"warmup"`
	Pages    int       `json:"pages"`
	// QuietLimit is the share of CPU other processes may use for a window
	// to count as clean; each scenario waited for it before starting.
	QuietLimit float64          `json:"quietLimit"`
	Records    int              `json:"records"`
	Setup      *SetupSummary    `json:"setup,omitempty"`
	Scenarios  []ScenarioResult `json:"scenarios"`
	PeakRSSKB  int64            `json:"peakRSSKB,omitempty"` // max sampled VmRSS over the whole run
	VmHWMKB    int64            `json:"vmHWMKB,omitempty"`   // the kernel's peak RSS since the server started
}

// ScenarioResult is the outcome of one scenario. Latencies are in
// milliseconds and cover every measured request, failed ones included.
type ScenarioResult struct {
	Name            string           `json:"name"`
	Verified        bool             `json:"verified"`              // one checked request answered as the protocol says
	VerifyError     string           `json:"verifyError,omitempty"` // why it did not
	Clients         int              `json:"clients"`
	Seconds         float64          `json:"seconds"`
	Requests        int              `json:"requests"`
	Errors          int              `json:"errors"`
	Non2xx          int              `json:"non2xx"`
	TransportErrors int              `json:"transportErrors"`
	ErrorSamples    []string         `json:"errorSamples,omitempty"`
	RPS             float64          `json:"rps"`
	MeanMS          float64          `json:"meanMs"`
	P50MS           float64          `json:"p50Ms"`
	P90MS           float64          `json:"p90Ms"`
	P99MS           float64          `json:"p99Ms"`
	MaxMS           float64          `json:"maxMs"`
	PeakRSSKB       int64            `json:"peakRSSKB,omitempty"`
	CPU             machine.CPUShare `json:"cpu"` // how the machine's CPU was spent in the measured window
}

// setLatencies fills the count, rate and latency fields from the samples
// (which it sorts in place) and r.Seconds.
func (r *ScenarioResult) setLatencies(lat []time.Duration) {
	r.Requests = len(lat)
	if r.Seconds > 0 {
		r.RPS = float64(len(lat)) / r.Seconds
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	r.MeanMS = ms(sum / time.Duration(len(lat)))
	r.P50MS = ms(percentile(lat, 50))
	r.P90MS = ms(percentile(lat, 90))
	r.P99MS = ms(percentile(lat, 99))
	r.MaxMS = ms(lat[len(lat)-1])
}

// percentile returns the nearest-rank p-th percentile of sorted samples:
// the smallest sample with at least p% of the samples at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtMS(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}

func fmtKB(kb int64) string {
	if kb <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(kb)/1024)
}

// WriteText writes the report as a plain text table.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target %s%s", rep.URL, rep.Prefix)
	if rep.Label != "" {
		fmt.Fprintf(&b, " (%s)", rep.Label)
	}
	fmt.Fprintf(&b, ": %d records, %d clients, %s per scenario (+%s warm-up), pages 1..%d\n",
		rep.Records, rep.Clients, rep.Duration, rep.Warmup, rep.Pages)
	if s := rep.Setup; s != nil {
		fmt.Fprintf(&b, "setup: %d authors + %d posts via %s in %.1fs; list filter matches %d, expand filter matches %d\n",
			s.Authors, s.Posts, s.Method, s.Seconds, s.ListMatches, s.ExpandMatches)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests\terrors\treq/s\tp50\tp90\tp99\tmax\tpeak RSS\tCPU srv/gen/kern/other\t")
	for _, s := range rep.Scenarios {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.0f/%.0f/%.0f/%.0f%%\t\n",
			s.Name, s.Requests, s.Errors, s.RPS, fmtMS(s.P50MS), fmtMS(s.P90MS), fmtMS(s.P99MS), fmtMS(s.MaxMS), fmtKB(s.PeakRSSKB),
			100*s.CPU.Server, 100*s.CPU.Loadgen, 100*s.CPU.Kernel, 100*s.CPU.Other)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.PeakRSSKB > 0 || rep.VmHWMKB > 0 {
		fmt.Fprintf(&b, "server memory: peak sampled VmRSS %s, VmHWM %s\n", fmtKB(rep.PeakRSSKB), fmtKB(rep.VmHWMKB))
	}
	for _, s := range rep.Scenarios {
		if s.CPU.Other > rep.QuietLimit && rep.QuietLimit > 0 {
			fmt.Fprintf(&b, "NOISY (%s): other processes used %.0f%% of the machine's CPU during the window (idle %.0f%%)\n",
				s.Name, 100*s.CPU.Other, 100*s.CPU.Idle)
		}
		if !s.Verified {
			fmt.Fprintf(&b, "WRONG ANSWER (%s): %s\n", s.Name, s.VerifyError)
		}
		for _, e := range s.ErrorSamples {
			fmt.Fprintf(&b, "error sample (%s): %s\n", s.Name, e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

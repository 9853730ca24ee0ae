// Package machine reads the CPU accounting of a Linux machine from /proc, so
// benchmarks can tell how much of the machine the server, the load
// generator and everything else used during a window, and wait for other
// work to calm down before measuring.
package machine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// Snapshot is a reading of the machine's CPU counters and of the CPU time
// of the server and of this process, all in clock ticks.
type Snapshot struct {
	total, idle int64 // all CPUs, from /proc/stat
	irq         int64 // irq + softirq, from /proc/stat (loopback networking lands here)
	kthreads    int64 // utime+stime of kernel threads (writeback, journaling, ...)
	server      int64 // utime+stime of the server (0 when unknown)
	self        int64 // utime+stime of loadgen
}

// CPUShare is how the machine's CPU time was spent during a window, as
// fractions of the whole machine (1.0 = every core busy).
type CPUShare struct {
	Server  float64 `json:"server"`
	Loadgen float64 `json:"loadgen"`
	// Kernel is irq/softirq time and kernel threads: mostly work the
	// benchmark itself causes (loopback TCP, page writeback, journaling).
	Kernel float64 `json:"kernel"`
	Other  float64 `json:"other"` // every other process: noise from other work on the machine
	Idle   float64 `json:"idle"`
}

// Read takes a Snapshot; pid is the server's process (0 = none).
func Read(pid int) (Snapshot, error) {
	var s Snapshot
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return s, fmt.Errorf("read /proc/stat: unexpected first line %q", line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return s, fmt.Errorf("read /proc/stat: %w", err)
		}
		if i == 8 || i == 9 { // guest, guest_nice are already counted in user/nice
			continue
		}
		s.total += n
		switch i {
		case 3, 4: // idle, iowait
			s.idle += n
		case 5, 6: // irq, softirq
			s.irq += n
		}
	}
	if s.kthreads, err = kernelThreadTicks(); err != nil {
		return s, err
	}
	if s.self, err = procTicks("self"); err != nil {
		return s, err
	}
	if pid > 0 {
		if s.server, err = procTicks(strconv.Itoa(pid)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// kernelThreadTicks sums utime+stime over all kernel threads (kthreadd,
// pid 2, and its children).
func kernelThreadTicks() (int64, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list /proc: %w", err)
	}
	var sum int64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		ppid, ticks, err := parseStat(b)
		if err != nil {
			continue
		}
		if pid == 2 || ppid == 2 {
			sum += ticks
		}
	}
	return sum, nil
}

// procTicks returns utime+stime of /proc/<p>/stat.
func procTicks(p string) (int64, error) {
	b, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time of %s: %w", p, err)
	}
	_, ticks, err := parseStat(b)
	if err != nil {
		return 0, fmt.Errorf("read cpu time of %s: %w", p, err)
	}
	return ticks, nil
}

// parseStat returns the parent pid and utime+stime of a /proc/PID/stat file.
func parseStat(b []byte) (ppid int, ticks int64, err error) {
	// The command name may contain spaces; fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("malformed stat")
	}
	// After ')': state(3) ppid(4) ... utime(14) stime(15) → indexes 0, 1, 11, 12.
	pp, err1 := strconv.Atoi(string(f[1]))
	u, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("malformed stat")
	}
	return pp, u + st, nil
}

// Share returns how the CPU time between a and b was spent.
func Share(a, b Snapshot) CPUShare {
	total := float64(b.total - a.total)
	if total <= 0 {
		return CPUShare{}
	}
	busy := float64((b.total - b.idle) - (a.total - a.idle))
	srv := float64(b.server - a.server)
	self := float64(b.self - a.self)
	kern := float64((b.irq - a.irq) + (b.kthreads - a.kthreads))
	other := max(0, busy-srv-self-kern)
	return CPUShare{
		Server:  srv / total,
		Loadgen: self / total,
		Kernel:  kern / total,
		Other:   other / total,
		Idle:    float64(b.idle-a.idle) / total,
	}
}

// WaitQuiet blocks until, over a one-second window, processes other than
// the server and loadgen use less than limit of the machine's CPU, or until
// maxWait has passed. It returns the last window's share of other work.
func WaitQuiet(ctx context.Context, pid int, limit float64, maxWait time.Duration, log io.Writer) (float64, error) {
	deadline := time.Now().Add(maxWait)
	said := false
	for {
		a, err := Read(pid)
		if err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
		b, err := Read(pid)
		if err != nil {
			return 0, err
		}
		other := Share(a, b).Other
		if other < limit {
			return other, nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(log, "machine still busy (other work %.0f%% of CPU) after %s; measuring anyway\n", 100*other, maxWait)
			return other, nil
		}
		if !said {
			fmt.Fprintf(log, "waiting for a quiet machine (other work %.0f%% of CPU, want < %.0f%%)\n", 100*other, 100*limit)
			said = true
		}
	}
}

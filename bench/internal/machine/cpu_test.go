package machine

import (
	"context"
	"io"
	"math"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestShare(t *testing.T) {
	tests := []struct {
		name string
		a, b Snapshot
		want CPUShare
	}{
		{"all idle", Snapshot{total: 100, idle: 100}, Snapshot{total: 300, idle: 300}, CPUShare{Idle: 1}},
		{
			"server half, loadgen quarter, rest other",
			Snapshot{total: 0, idle: 0, server: 10, self: 5},
			Snapshot{total: 200, idle: 20, server: 110, self: 55},
			CPUShare{Server: 0.5, Loadgen: 0.25, Other: 0.15, Idle: 0.1},
		},
		{"no time passed", Snapshot{total: 5}, Snapshot{total: 5}, CPUShare{}},
		{
			"kernel split out",
			Snapshot{},
			Snapshot{total: 100, idle: 10, irq: 20, kthreads: 10, server: 40, self: 10},
			CPUShare{Server: 0.4, Loadgen: 0.1, Kernel: 0.3, Other: 0.1, Idle: 0.1},
		},
		{
			// Process counters can run slightly ahead of /proc/stat: never negative.
			"other clamped at zero",
			Snapshot{}, Snapshot{total: 100, idle: 50, server: 60},
			CPUShare{Server: 0.6, Other: 0, Idle: 0.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Share(tt.a, tt.b)
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"server", got.Server, tt.want.Server}, {"loadgen", got.Loadgen, tt.want.Loadgen},
				{"kernel", got.Kernel, tt.want.Kernel}, {"other", got.Other, tt.want.Other},
				{"idle", got.Idle, tt.want.Idle},
			} {
				if math.Abs(c.got-c.want) > 1e-9 {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestReadCountsOwnWork burns CPU in this process and checks that Read
// attributes it to both the process (as server and as self) and the machine.
func TestReadCountsOwnWork(t *testing.T) {
	a, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn 150ms of CPU as the kernel's rusage counts it (the machine may be
	// shared, so wall time says little).
	cpu0 := rusageCPU(t)
	for deadline := time.Now().Add(10 * time.Second); rusageCPU(t)-cpu0 < 150*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Skip("could not get 150ms of CPU in 10s")
		}
	}
	b, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b.self-a.self < 5 || b.server-a.server < 5 {
		t.Errorf("burned 150ms of CPU but self advanced %d ticks, server %d", b.self-a.self, b.server-a.server)
	}
	if b.total-b.idle <= a.total-a.idle {
		t.Errorf("machine busy time did not advance: %d -> %d", a.total-a.idle, b.total-b.idle)
	}
}

func TestReadUnknownPID(t *testing.T) {
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("Read of a missing pid succeeded")
	}
}

func TestWaitQuietGivesUp(t *testing.T) {
	// A limit of 0 can never be met: WaitQuiet must return after maxWait.
	start := time.Now()
	if _, err := WaitQuiet(context.Background(), 0, 0, time.Millisecond, io.Discard); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("WaitQuiet took %s with maxWait 1ms", d)
	}
}

func rusageCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		ppid      int
		ticks     int64
		wantError bool
	}{
		{"plain", "123 (base) S 1 123 123 0 -1 4194560 100 0 0 0 70 30 0 0 20 0 9 0", 1, 100, false},
		{"spaces and parens in comm", "77 (a (b) c) R 2 0 0 0 -1 0 0 0 0 0 5 6 0 0", 2, 11, false},
		{"truncated", "5 (x) S 1 2", 0, 0, true},
		{"no comm", "garbage", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ppid, ticks, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.wantError {
				t.Fatalf("err = %v", err)
			}
			if !tt.wantError && (ppid != tt.ppid || ticks != tt.ticks) {
				t.Errorf("got ppid %d ticks %d, want %d %d", ppid, ticks, tt.ppid, tt.ticks)
			}
		})
	}
}

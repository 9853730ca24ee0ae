package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// RSSSampler polls /proc/PID/status and keeps the peak VmRSS overall and
// since the last Mark, and the last VmHWM seen.
type RSSSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	peak     int64
	peakMark int64
	hwm      int64
}

// StartRSSSampler reads the status of pid once (failing if it cannot) and
// then every interval until Stop.
func StartRSSSampler(pid int, interval time.Duration) (*RSSSampler, error) {
	s := &RSSSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.sample(); err != nil {
		return nil, err
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				_ = s.sample() // the process may be gone; keep what we have
			}
		}
	}()
	return s, nil
}

func (s *RSSSampler) sample() error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return fmt.Errorf("read rss of pid %d: %w", s.pid, err)
	}
	rss, hwm, err := parseStatus(b)
	if err != nil {
		return fmt.Errorf("read rss of pid %d: %w", s.pid, err)
	}
	s.mu.Lock()
	s.peak = max(s.peak, rss)
	s.peakMark = max(s.peakMark, rss)
	s.hwm = max(s.hwm, hwm)
	s.mu.Unlock()
	return nil
}

// parseStatus returns VmRSS and VmHWM in KiB from a /proc/PID/status file.
func parseStatus(b []byte) (rss, hwm int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := 0
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &rss
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &hwm
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("malformed line %q", line)
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("malformed line %q: %w", line, err)
		}
		*dst = v
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("VmRSS/VmHWM not found")
	}
	return rss, hwm, sc.Err()
}

// Mark takes a sample and starts a new "since mark" window.
func (s *RSSSampler) Mark() {
	s.mu.Lock()
	s.peakMark = 0
	s.mu.Unlock()
	_ = s.sample()
}

// PeakSinceMark samples once more and returns the peak VmRSS (KiB) since the
// last Mark (or the start).
func (s *RSSSampler) PeakSinceMark() int64 {
	_ = s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakMark
}

// Peak returns the peak sampled VmRSS in KiB.
func (s *RSSSampler) Peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// HWM returns the largest VmHWM seen in KiB: the kernel's own peak RSS of
// the process since it started, which catches spikes between samples.
func (s *RSSSampler) HWM() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hwm
}

// Stop ends sampling after one last sample. It is safe to call twice.
func (s *RSSSampler) Stop() {
	s.once.Do(func() {
		_ = s.sample()
		close(s.stop)
		<-s.done
	})
}

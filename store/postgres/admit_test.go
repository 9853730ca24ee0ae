package postgres

import (
	"fmt"
	"hash/maphash"
	"testing"
)

// AdmitHits is admitHits for the package's external tests.
const AdmitHits = admitHits

func TestAdmission(t *testing.T) {
	tests := []struct {
		name string
		run  func(a *admission) bool // reports whether the last admit said yes
		want bool
	}{
		{"first run", func(a *admission) bool { return a.admit("q") }, false},
		{"one run short", func(a *admission) bool {
			for range admitHits - 2 {
				a.admit("q")
			}
			return a.admit("q")
		}, false},
		{"hot", func(a *admission) bool {
			for range admitHits - 1 {
				a.admit("q")
			}
			return a.admit("q")
		}, true},
		{"other statements do not count", func(a *admission) bool {
			for i := range admitHits * 3 {
				a.admit(fmt.Sprint("other", i))
			}
			return a.admit("q")
		}, false},
		{"hot across one window change", func(a *admission) bool {
			for range admitHits {
				a.admit("q")
			}
			for i := range admitWindow {
				a.admit(fmt.Sprint("filler", i))
			}
			return a.admit("q")
		}, true},
		{"split across the window change", func(a *admission) bool {
			a.admit("q")
			for i := range admitWindow - 1 {
				a.admit(fmt.Sprint("filler", i))
			}
			for range admitHits - 2 {
				a.admit("q")
			}
			return a.admit("q")
		}, true},
		{"forgotten after two window changes", func(a *admission) bool {
			for range admitHits {
				a.admit("q")
			}
			for i := range 2 * admitWindow {
				a.admit(fmt.Sprint("filler", i))
			}
			return a.admit("q")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.run(newAdmission()); got != tt.want {
				t.Errorf("admitted = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAdmissionBounded: the counters never outgrow two windows however
// many distinct statements run.
func TestAdmissionBounded(t *testing.T) {
	a := newAdmission()
	for i := range 5 * admitWindow {
		if a.admit(fmt.Sprint("distinct", i)) {
			t.Fatalf("statement %d admitted on its first run", i)
		}
	}
	if n := len(a.cur) + len(a.prev); n > 2*admitWindow {
		t.Errorf("%d counters, want at most %d", n, 2*admitWindow)
	}
}

// TestAdmissionConcurrent: concurrent counting loses no executions (run
// it with -race where cgo is available).
func TestAdmissionConcurrent(t *testing.T) {
	a := newAdmission()
	const workers, per = 8, 100
	done := make(chan bool)
	for w := range workers {
		go func() {
			hot := false
			for i := range per {
				a.admit(fmt.Sprint("w", w, "-", i))
				hot = a.admit("shared")
			}
			done <- hot
		}()
	}
	for range workers {
		if !<-done {
			t.Error("a statement run 100 times by a worker was not admitted")
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if got := a.cur[hashOf(a, "shared")] + a.prev[hashOf(a, "shared")]; got != workers*per {
		t.Errorf("counted %d runs of the shared statement, want %d", got, workers*per)
	}
}

func hashOf(a *admission, q string) uint64 { return maphash.String(a.seed, q) }

// BenchmarkAdmit measures one admission decision for a realistic read
// (a record by id in a schema-qualified table), hot and over many
// distinct statements, alone and from parallel goroutines.
func BenchmarkAdmit(b *testing.B) {
	const q = `SELECT "posts"."id", "posts"."title", "posts"."body", "posts"."created", "posts"."updated" FROM "org_acme"."posts" WHERE "posts"."id" = $1 LIMIT 1`
	distinct := make([]string, 4*admitWindow)
	for i := range distinct {
		distinct[i] = fmt.Sprintf(`SELECT "id" FROM "org_%d"."posts" WHERE "id" = $1`, i)
	}
	b.Run("hot", func(b *testing.B) {
		a := newAdmission()
		for b.Loop() {
			a.admit(q)
		}
	})
	b.Run("distinct", func(b *testing.B) {
		a := newAdmission()
		i := 0
		for b.Loop() {
			a.admit(distinct[i%len(distinct)])
			i++
		}
	})
	b.Run("hot-parallel", func(b *testing.B) {
		a := newAdmission()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a.admit(q)
			}
		})
	})
}

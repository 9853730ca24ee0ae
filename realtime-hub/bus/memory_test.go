package bus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/realtime-hub/bus"
)

func event(org string, i int) base.Event {
	return base.Event{Org: org, CollectionName: "posts", Action: base.ActionCreate, Record: map[string]any{"n": i}}
}

// TestMemoryReplayAfterTrim fills a small log past its bound and checks
// that replay returns exactly the retained tail, in order.
func TestMemoryReplayAfterTrim(t *testing.T) {
	m := bus.NewMemory(bus.MemoryConfig{MaxPerOrg: 100})
	defer m.Close()
	for i := 0; i < 1000; i++ {
		m.Publish(t.Context(), []base.Event{event("acme", i)})
	}
	all, complete, err := m.Replay(t.Context(), "acme", "0-0")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 100 {
		t.Fatalf("retained %d events, want 100", len(all))
	}
	if complete {
		t.Fatal("replay from the start reported complete after trimming")
	}
	for i, ev := range all {
		if got, want := ev.Record["n"], 900+i; got != want {
			t.Fatalf("event %d = %v, want %v", i, got, want)
		}
	}
	after, _, err := m.Replay(t.Context(), "acme", all[49].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 50 || after[0].ID != all[50].ID {
		t.Fatalf("replay after event 49: %d events, first %q; want 50 from %q", len(after), after[0].ID, all[50].ID)
	}
}

// BenchmarkMemoryPublishFullLog publishes into logs already at their bound:
// the cost per event must not grow with the bound (it was a copy of the
// whole log per publish).
func BenchmarkMemoryPublishFullLog(b *testing.B) {
	for _, size := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			m := bus.NewMemory(bus.MemoryConfig{MaxPerOrg: size})
			defer m.Close()
			for i := 0; i < size; i++ {
				m.Publish(b.Context(), []base.Event{event("acme", i)})
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.Publish(b.Context(), []base.Event{event("acme", i)})
			}
		})
	}
}

// TestMemorySweepsQuietOrgs: an org that published once and went quiet
// must not keep its replay log for the life of the process (memory
// growing with every org ever seen), unless this process has subscribers
// for it: their resume must stay exact. Once a log is gone, a replay from
// before the dropped events must not claim to be complete.
func TestMemorySweepsQuietOrgs(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := bus.NewMemory(bus.MemoryConfig{Window: time.Minute, Now: func() time.Time { return now }})
	defer m.Close()
	cancel := m.Subscribe("watched", func([]base.Event) {})
	defer cancel()
	for i := range 1000 {
		m.Publish(t.Context(), []base.Event{event(fmt.Sprintf("org%d", i), i)})
	}
	m.Publish(t.Context(), []base.Event{event("watched", 0)})
	evs, _, err := m.Replay(t.Context(), "watched", "0-0")
	if err != nil || len(evs) != 1 {
		t.Fatalf("replay within the window: %v %v", evs, err)
	}
	last := evs[0].ID
	now = now.Add(2 * time.Minute)
	m.Publish(t.Context(), []base.Event{event("busy", 0)})
	if n := bus.LogCount(m); n != 2 {
		t.Fatalf("%d org logs kept after the window, want the busy and the watched org's", n)
	}
	if _, complete, _ := m.Replay(t.Context(), "org7", "0-0"); complete {
		t.Error("replay from before a swept log reported complete")
	}
	if evs, complete, _ := m.Replay(t.Context(), "watched", last); !complete || len(evs) != 0 {
		t.Errorf("idle subscriber's resume: %d events, complete %v; want none, complete", len(evs), complete)
	}
}

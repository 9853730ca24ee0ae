package jobs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/jobs"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseNext(t *testing.T) {
	// 2026-11-24 is a Tuesday.
	for _, tc := range []struct {
		expr string
		from string
		want []string // the next firings after from
	}{
		{"* * * * *", "2026-11-24 10:07", []string{"2026-11-24 10:08", "2026-11-24 10:09"}},
		{"0 * * * *", "2026-11-24 10:07", []string{"2026-11-24 11:00", "2026-11-24 12:00"}},
		{"@hourly", "2026-11-24 10:00", []string{"2026-11-24 11:00"}},
		{"@daily", "2026-11-24 10:07", []string{"2026-11-25 00:00", "2026-11-26 00:00"}},
		{"@midnight", "2026-11-24 10:07", []string{"2026-11-25 00:00"}},
		{"@weekly", "2026-11-24 10:07", []string{"2026-11-29 00:00"}}, // Sunday
		{"@monthly", "2026-11-24 10:07", []string{"2026-12-01 00:00", "2027-01-01 00:00"}},
		{"@yearly", "2026-11-24 10:07", []string{"2027-01-01 00:00"}},
		{"@annually", "2026-11-24 10:07", []string{"2027-01-01 00:00"}},
		// Ranges, steps, lists.
		{"*/15 * * * *", "2026-11-24 10:07", []string{"2026-11-24 10:15", "2026-11-24 10:30", "2026-11-24 10:45", "2026-11-24 11:00"}},
		{"10-12 3 * * *", "2026-11-24 10:07", []string{"2026-11-25 03:10", "2026-11-25 03:11", "2026-11-25 03:12", "2026-11-26 03:10"}},
		{"5-20/5 * * * *", "2026-11-24 10:07", []string{"2026-11-24 10:10", "2026-11-24 10:15", "2026-11-24 10:20", "2026-11-24 11:05"}},
		{"0 1,13 * * *", "2026-11-24 10:07", []string{"2026-11-24 13:00", "2026-11-25 01:00"}},
		{"0 0 1,15 * *", "2026-11-24 10:07", []string{"2026-12-01 00:00", "2026-12-15 00:00"}},
		{"30 4 * 2-3 *", "2026-11-24 10:07", []string{"2027-02-01 04:30"}},
		// Names of days and months, case-insensitive.
		{"0 9 * * MON-FRI", "2026-11-27 10:00", []string{"2026-11-30 09:00", "2026-12-01 09:00"}}, // Fri → Mon
		{"0 9 * * sat,sun", "2026-11-24 10:07", []string{"2026-11-28 09:00", "2026-11-29 09:00", "2026-12-05 09:00"}},
		{"0 0 1 jan,Jul *", "2026-11-24 10:07", []string{"2027-01-01 00:00", "2027-07-01 00:00"}},
		// Day 0 is Sunday (days are 0-6).
		{"0 0 * * 0", "2026-11-24 10:07", []string{"2026-11-29 00:00"}},
		// Day of month and day of week both restricted: either matches.
		{"0 0 1 * MON", "2026-11-24 10:07", []string{"2026-11-30 00:00", "2026-12-01 00:00", "2026-12-07 00:00"}},
		// Leap day fires (within the five-year search).
		{"0 0 29 2 *", "2026-11-24 10:07", []string{"2028-02-29 00:00"}},
		// Surrounding spaces are trimmed.
		{"  0 0 * * *  ", "2026-11-24 10:07", []string{"2026-11-25 00:00"}},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := jobs.Parse(tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			at := utc(tc.from)
			for _, w := range tc.want {
				at = s.Next(at)
				if want := utc(w); !at.Equal(want) {
					t.Fatalf("Next = %s, want %s", at.Format("2006-01-02 15:04 Mon"), want.Format("2006-01-02 15:04 Mon"))
				}
				if at.Location() != time.UTC {
					t.Errorf("Next in %v, want UTC", at.Location())
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, expr := range []string{
		"",
		"   ",
		"* * * *",          // four fields
		"* * * * * *",      // seconds are not PocketBase syntax
		"60 * * * *",       // minute out of range
		"* 24 * * *",       // hour out of range
		"* * 0 * *",        // day of month starts at 1
		"* * * 13 *",       // month out of range
		"* * * * 8",        // day of week out of range
		"5-1 * * * *",      // backwards range
		"*/0 * * * *",      // zero step
		"* * * * FUNDAY",   // unknown name
		"a b c d e",        //
		"@every 5m",        // not minute-aligned
		"@reboot",          // no such descriptor here
		"TZ=UTC 0 0 * * *", // no time zones (and robfig would panic on "TZ=UTC")
		"CRON_TZ=Europe/Paris 0 0 * * *",
		"0 0 31 2 *", // never fires
		"0 0 30 2 *",
	} {
		t.Run(expr, func(t *testing.T) {
			if s, err := jobs.Parse(expr); err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", expr, s)
			}
		})
	}
}

func TestDue(t *testing.T) {
	for _, tc := range []struct {
		expr string
		at   string
		sec  int
		want bool
	}{
		{"0 * * * *", "2026-11-24 10:00", 0, true},
		{"0 * * * *", "2026-11-24 10:00", 59, true}, // any instant of the minute
		{"0 * * * *", "2026-11-24 10:01", 0, false},
		{"0 0 * * *", "2026-11-24 00:00", 30, true},
		{"0 0 * * *", "2026-11-24 12:00", 0, false},
		{"*/5 * * * *", "2026-11-24 10:35", 0, true},
		{"*/5 * * * *", "2026-11-24 10:36", 0, false},
		{"0 9 * * MON-FRI", "2026-11-28 09:00", 0, false}, // Saturday
		{"0 9 * * MON-FRI", "2026-11-27 09:00", 0, true},
	} {
		s, err := jobs.Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		at := utc(tc.at).Add(time.Duration(tc.sec) * time.Second)
		if got := s.Due(at); got != tc.want {
			t.Errorf("Parse(%q).Due(%s) = %v, want %v", tc.expr, at, got, tc.want)
		}
		// The same instant seen from another zone is the same minute.
		if got := s.Due(at.In(time.FixedZone("X", 5*3600+1800))); got != tc.want {
			t.Errorf("Parse(%q).Due(%s in +05:30) = %v, want %v", tc.expr, at, got, tc.want)
		}
	}
	if (jobs.Schedule{}).Due(time.Now()) || !(jobs.Schedule{}).Next(time.Now()).IsZero() {
		t.Error("the zero Schedule fires")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "0 0 * * *", "@daily", "*/5 1-3 1,15 JAN-MAR mon", "TZ=UTC", "5-1/0 * * * *", "@every 1m"} {
		f.Add(s)
	}
	from := time.Date(2026, 11, 24, 10, 7, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := jobs.Parse(expr)
		if err != nil {
			return
		}
		if s.String() != strings.TrimSpace(expr) {
			t.Fatalf("String() = %q, want %q", s.String(), strings.TrimSpace(expr))
		}
		next := s.Next(from)
		if next.IsZero() {
			return // fires, but not within five years of from (e.g. a leap day far off)
		}
		if !next.After(from) || next.Second() != 0 || !s.Due(next) {
			t.Fatalf("Parse(%q): Next(%s) = %s, not a later due minute", expr, from, next)
		}
	})
}

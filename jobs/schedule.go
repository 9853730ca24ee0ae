package jobs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// parser reads PocketBase's cron syntax: five fields (minute hour
// day-of-month month day-of-week) with lists, ranges, steps and month and
// day names, or a descriptor (@yearly, @annually, @monthly, @weekly,
// @daily, @midnight, @hourly).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron expression, evaluated in UTC with a
// granularity of one minute.
type Schedule struct {
	expr string
	spec *cron.SpecSchedule
}

// Parse parses a cron expression: five fields or a descriptor, as
// PocketBase's cron accepts them. It refuses what PocketBase does not
// schedule — seconds, "@every", a TZ= prefix — and expressions that never
// fire (e.g. "0 0 31 2 *"). Errors name the expression.
func Parse(expr string) (s Schedule, err error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return Schedule{}, errors.New("parse cron expression: empty")
	case strings.HasPrefix(expr, "@every"):
		return Schedule{}, fmt.Errorf("parse cron expression %q: @every is not supported (jobs run on minute boundaries)", expr)
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return Schedule{}, fmt.Errorf("parse cron expression %q: time zones are not supported (expressions are UTC)", expr)
	}
	defer func() {
		// The parser is third-party code fed with operator input: a panic
		// there must be a parse error, not a crash.
		if r := recover(); r != nil {
			s, err = Schedule{}, fmt.Errorf("parse cron expression %q: %v", expr, r)
		}
	}()
	sched, err := parser.Parse(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("parse cron expression %q: %w", expr, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return Schedule{}, fmt.Errorf("parse cron expression %q: unsupported schedule %T", expr, sched)
	}
	spec.Location = time.UTC
	s = Schedule{expr: expr, spec: spec}
	// A day that does not exist (Feb 30) is accepted by the grammar but
	// never fires; the search spans five years, so Feb 29 still does.
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, fmt.Errorf("parse cron expression %q: it never fires", expr)
	}
	return s, nil
}

// String returns the expression as given to Parse (trimmed).
func (s Schedule) String() string { return s.expr }

// Next returns the first minute strictly after t at which s fires, in UTC;
// the zero time when there is none within five years (or s is the zero
// Schedule).
func (s Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	return s.spec.Next(t.UTC())
}

// Due reports whether s fires in the minute that contains t (UTC).
func (s Schedule) Due(t time.Time) bool {
	if s.spec == nil {
		return false
	}
	m := t.UTC().Truncate(time.Minute)
	return s.spec.Next(m.Add(-time.Second)).Equal(m)
}

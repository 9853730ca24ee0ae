package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Runner runs a Registry's jobs on their schedules in a long-lived
// process (`base serve`). Create it with NewRunner and call Run.
type Runner struct {
	reg *Registry
	log *slog.Logger
}

// NewRunner returns a Runner for reg, logging skipped runs to log (nil:
// discard; the runs themselves are logged by reg).
func NewRunner(reg *Registry, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{reg: reg, log: log}
}

// Run wakes at every minute boundary (UTC) and starts, each in its own
// goroutine, the jobs due in that minute. A job still running from an
// earlier minute is skipped for this one (logged), so a job never
// overlaps itself. Run returns nil once ctx is done and every job it
// started has returned (they see ctx cancelled).
//
// Several processes sharing one store each run the jobs; the built-in
// jobs are idempotent, so that only repeats work.
func (rn *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		now := time.Now()
		next := now.UTC().Truncate(time.Minute).Add(time.Minute)
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		// The minute we slept for, even if the timer fired late: its jobs
		// are the ones due.
		for _, id := range rn.reg.Due(next) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ran, _ := rn.reg.tryRun(ctx, id) // errors are logged by the registry
				if !ran {
					rn.log.WarnContext(ctx, "job skipped: still running from an earlier minute", "job", id, "minute", next)
				}
			}()
		}
	}
}

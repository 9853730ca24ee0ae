package lambdaadapter

import (
	"context"
	"errors"
	"log/slog"
)

// Jobs runs a named job: a *jobs.Registry.
type Jobs interface {
	Run(ctx context.Context, id string) error
}

// JobScheduler is the Scheduler that runs, in Jobs, the job an
// EventBridge event names (ScheduledEvent.Job: the detail's "job", which
// the Terraform module's targets set). An event that names no job, or a
// job Jobs does not have, fails the invocation, as does a failing job:
// EventBridge then retries it and the failure shows in the function's
// error metrics.
type JobScheduler struct {
	Jobs   Jobs
	Logger *slog.Logger // nil: discard
}

// RunScheduled runs ev.Job in s.Jobs and returns its error.
func (s JobScheduler) RunScheduled(ctx context.Context, ev ScheduledEvent) error {
	if ev.Job == "" {
		return errors.New("the event names no job (set the target input's detail.job)")
	}
	if s.Logger != nil {
		s.Logger.InfoContext(ctx, "scheduled event", "job", ev.Job, "eventId", ev.ID, "source", ev.Source)
	}
	return s.Jobs.Run(ctx, ev.Job)
}

// noScheduler fails every scheduled event: the adapter was built without
// a Scheduler.
type noScheduler struct{}

func (noScheduler) RunScheduled(context.Context, ScheduledEvent) error {
	return errors.New("no scheduler configured")
}

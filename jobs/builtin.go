package jobs

import (
	"context"
	"log/slog"
)

// The built-in jobs, named in PocketBase's style.
const (
	// StoreOptimizeID is the daily store maintenance job.
	StoreOptimizeID = "__baseStoreOptimize__"
	// IAMCleanupID is the hourly purge of expired IAM rows.
	IAMCleanupID = "__baseIAMCleanup__"
)

// The built-in jobs' schedules (UTC). The Terraform modules schedule the
// same: AWS cron(0 0 * * ? *) and rate(1 hour), GCP Cloud Scheduler.
const (
	StoreOptimizeExpression = "0 0 * * *"
	IAMCleanupExpression    = "0 * * * *"
)

// Optimizer is implemented by stores with periodic maintenance to do
// (SQLite: PRAGMA optimize and a WAL checkpoint per org file; PostgreSQL:
// ANALYZE per org schema). Stores without it (libSQL: sqld maintains its
// databases itself) get no optimize job.
type Optimizer interface {
	Optimize(ctx context.Context) error
}

// StoreOptimize returns the StoreOptimizeID job for st, and false when st
// does not implement Optimizer.
func StoreOptimize(st any) (Job, bool) {
	o, ok := st.(Optimizer)
	if !ok {
		return Job{}, false
	}
	return Job{ID: StoreOptimizeID, Expression: StoreOptimizeExpression, Run: o.Optimize}, true
}

// Cleaner purges expired rows and says how many it removed
// ((*iam.Server).Cleanup).
type Cleaner interface {
	Cleanup(ctx context.Context) (int, error)
}

// IAMCleanup returns the IAMCleanupID job: it calls cleaner (a function,
// so the IAM may still be starting when the job is built; it returns the
// IAM once started) and logs how many rows were purged.
func IAMCleanup(cleaner func(ctx context.Context) (Cleaner, error), log *slog.Logger) Job {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return Job{ID: IAMCleanupID, Expression: IAMCleanupExpression, Run: func(ctx context.Context) error {
		c, err := cleaner(ctx)
		if err != nil {
			return err
		}
		n, err := c.Cleanup(ctx)
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "iam cleanup", "job", IAMCleanupID, "purged", n)
		return nil
	}}
}

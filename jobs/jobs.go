// Package jobs runs Base's scheduled jobs: maintenance that must happen
// on a clock (store optimization, purging expired IAM rows) whichever way
// Base is deployed.
//
// A [Registry] holds the named jobs with their cron expressions
// (PocketBase's syntax, see [Parse]) and runs one by id; the same
// registry serves every trigger. `base serve` runs a [Runner], which wakes
// at each minute boundary and starts the jobs due then. Serverless
// deployments have no process that lives between requests, so the
// platform's scheduler triggers the jobs instead: EventBridge invokes the
// Lambda function with an event naming the job (adapters/lambda), Cloud
// Scheduler calls POST /v1/crons/{id} (handler). A job never overlaps
// itself within one process, whoever starts it.
//
// [StoreOptimize] and [IAMCleanup] build the built-in jobs.
package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Job is a named unit of scheduled work.
type Job struct {
	// ID names the job (PocketBase style, e.g. "__baseStoreOptimize__");
	// it is what triggers refer to.
	ID string
	// Expression is when the job runs: a 5-field cron expression or a
	// descriptor such as @hourly or @daily, in UTC (see Parse).
	Expression string
	// Run does the work. It should return when ctx is done.
	Run func(ctx context.Context) error
}

// UnknownJobError is returned by Registry.Run for an id no job has.
type UnknownJobError struct{ ID string }

func (e *UnknownJobError) Error() string { return fmt.Sprintf("unknown job %q", e.ID) }

// entry is a registered job with its parsed schedule and its run lock.
type entry struct {
	job   Job
	sched Schedule
	// running holds a token while the job runs: the job never overlaps
	// itself.
	running chan struct{}
}

// Registry is a set of jobs by id. It is safe for concurrent use.
type Registry struct {
	log *slog.Logger

	mu   sync.RWMutex
	jobs map[string]*entry
}

// NewRegistry returns an empty registry that logs every run to log (nil:
// discard).
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{log: log, jobs: map[string]*entry{}}
}

// Add registers j. It fails when the id is empty or taken, Run is nil, or
// the expression does not parse.
func (r *Registry) Add(j Job) error {
	if j.ID == "" {
		return errors.New("add job: empty id")
	}
	if j.Run == nil {
		return fmt.Errorf("add job %q: nil Run", j.ID)
	}
	s, err := Parse(j.Expression)
	if err != nil {
		return fmt.Errorf("add job %q: %w", j.ID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.jobs[j.ID]; ok {
		return fmt.Errorf("add job %q: already registered", j.ID)
	}
	j.Expression = s.String()
	r.jobs[j.ID] = &entry{job: j, sched: s, running: make(chan struct{}, 1)}
	return nil
}

// List returns the registered jobs sorted by id.
func (r *Registry) List() []Job {
	r.mu.RLock()
	out := make([]Job, 0, len(r.jobs))
	for _, e := range r.jobs {
		out = append(out, e.job)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Due returns the ids of the jobs whose schedule fires in the minute of t,
// sorted.
func (r *Registry) Due(t time.Time) []string {
	r.mu.RLock()
	var ids []string
	for id, e := range r.jobs {
		if e.sched.Due(t) {
			ids = append(ids, id)
		}
	}
	r.mu.RUnlock()
	slices.Sort(ids)
	return ids
}

// Run runs the job id now and returns its error. If the job is already
// running in this process, Run waits for that run to end first (or for
// ctx). An id no job has is an *UnknownJobError.
func (r *Registry) Run(ctx context.Context, id string) error {
	e, err := r.entry(id)
	if err != nil {
		return err
	}
	select {
	case e.running <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("run job %q: %w", id, ctx.Err())
	}
	defer func() { <-e.running }()
	return r.run(ctx, e)
}

// tryRun runs the job id unless it is already running; ran is false when
// it was.
func (r *Registry) tryRun(ctx context.Context, id string) (ran bool, err error) {
	e, err := r.entry(id)
	if err != nil {
		return false, err
	}
	select {
	case e.running <- struct{}{}:
	default:
		return false, nil
	}
	defer func() { <-e.running }()
	return true, r.run(ctx, e)
}

func (r *Registry) entry(id string) (*entry, error) {
	r.mu.RLock()
	e := r.jobs[id]
	r.mu.RUnlock()
	if e == nil {
		return nil, &UnknownJobError{ID: id}
	}
	return e, nil
}

// run calls the job, turning a panic into an error, and logs the outcome.
func (r *Registry) run(ctx context.Context, e *entry) (err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		took := time.Since(start)
		if err != nil {
			err = fmt.Errorf("run job %q: %w", e.job.ID, err)
			r.log.ErrorContext(ctx, "job failed", "job", e.job.ID, "duration", took, "err", err)
			return
		}
		r.log.InfoContext(ctx, "job done", "job", e.job.ID, "duration", took)
	}()
	return e.job.Run(ctx)
}

package handler

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/jobs"
)

// Jobs configures PocketBase's crons API: GET {prefix}/crons lists the
// scheduled jobs and POST {prefix}/crons/{id} runs one now. Platform
// superusers may call both; so may a scheduler (Cloud Scheduler) that
// presents an OIDC ID token Scheduler accepts carrying SchedulerEmail.
type Jobs struct {
	// Registry lists and runs the jobs (a *jobs.Registry); nil: the routes
	// answer 404.
	Registry JobRegistry
	// Scheduler verifies a scheduler's ID tokens, configured with its
	// issuer and the audience it mints tokens for (BASE_SCHEDULER_*); nil:
	// only platform superusers.
	Scheduler Verifier
	// SchedulerEmail is the email claim (the scheduler's service account)
	// a verified scheduler token must carry. Required with Scheduler: an
	// issuer like Google mints ID tokens for any account and audience, so
	// without it Scheduler accepts nobody.
	SchedulerEmail string
}

// JobRegistry is what the crons routes need of a job registry.
type JobRegistry interface {
	List() []jobs.Job
	// Run runs the job id now and returns its error; an unknown id is a
	// *jobs.UnknownJobError.
	Run(ctx context.Context, id string) error
}

// cronRoutes registers the crons routes with m (one call per prefix).
func (h *Handler) cronRoutes(m func(pattern string, fn http.HandlerFunc)) {
	m("GET /crons", h.crons(h.listCrons))
	m("POST /crons/{id}", h.crons(h.runCron))
}

// crons adapts a crons route: 404 without a registry, then the caller
// check, then fn; errors are rendered in the envelope.
func (h *Handler) crons(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var err error = base.NotFound("")
		if h.cfg.Jobs.Registry != nil {
			if err = h.cronCaller(r); err == nil {
				err = fn(w, r)
			}
		}
		if err != nil {
			writeError(w, r, h.log, err)
		}
	}
}

// cronCaller admits the scheduler (a verified ID token with the configured
// email) and platform superusers. A guest is 401; a verified scheduler
// token of another account, or a user who is not a platform superuser,
// 403.
func (h *Handler) cronCaller(r *http.Request) error {
	jc := h.cfg.Jobs
	if tok := bearer(r); tok != "" && jc.Scheduler != nil && jc.SchedulerEmail != "" {
		claims, err := jc.Scheduler.Verify(r.Context(), tok)
		if err == nil {
			email, _ := claims["email"].(string)
			verified, hasVerified := claims["email_verified"].(bool)
			if strings.EqualFold(email, jc.SchedulerEmail) && (!hasVerified || verified) {
				setLogAttrs(r, slog.String("user", "scheduler:"+email))
				return nil
			}
			h.log.WarnContext(r.Context(), "crons: scheduler token of another account", "email", email)
			return base.Forbidden("The token's account may not run jobs.")
		}
		h.log.DebugContext(r.Context(), "crons: not a scheduler token", "err", err)
	}
	id, err := h.identify(r)
	if err != nil {
		return err
	}
	if id.Guest() {
		return base.Unauthorized("The request requires valid record authorization token.")
	}
	if !id.Platform {
		return base.Forbidden("Only platform superusers can run jobs.")
	}
	return nil
}

// listCrons answers [{"id", "expression"}] sorted by id, as PocketBase.
func (h *Handler) listCrons(w http.ResponseWriter, r *http.Request) error {
	list := h.cfg.Jobs.Registry.List()
	out := make([]map[string]string, 0, len(list))
	for _, j := range list {
		out = append(out, map[string]string{"id": j.ID, "expression": j.Expression})
	}
	writeJSON(w, r, http.StatusOK, out)
	return nil
}

// runCron runs the job now, synchronously — a serverless instance only
// has CPU while it answers — and answers 204 once it succeeded. A failed
// job is a 500 (details in the log), so the scheduler retries.
func (h *Handler) runCron(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := h.cfg.Jobs.Registry.Run(r.Context(), id)
	var unknown *jobs.UnknownJobError
	switch {
	case errors.As(err, &unknown):
		return base.NotFound("Missing or invalid cron job.")
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

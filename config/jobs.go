package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/store"
)

// DefaultSchedulerIssuer is the issuer of Cloud Scheduler's OIDC tokens.
const DefaultSchedulerIssuer = "https://accounts.google.com"

// Scheduler names who, besides platform superusers, may run jobs over
// HTTP (POST /v1/crons/{id}): a scheduler presenting an OIDC ID token
// from Issuer for Audience whose email claim is Email — Cloud Scheduler's
// oidc_token with its service account.
type Scheduler struct {
	Issuer   string // BASE_SCHEDULER_ISSUER (default DefaultSchedulerIssuer)
	Audience string // BASE_SCHEDULER_AUDIENCE
	Email    string // BASE_SCHEDULER_EMAIL
}

// Enabled reports whether scheduler tokens are accepted.
func (sc Scheduler) Enabled() bool { return sc.Audience != "" && sc.Email != "" }

// SchedulerFromEnv reads BASE_SCHEDULER_*. Audience and Email go
// together: either alone is an error, as a token check without the
// audience or without the account would accept tokens minted for anyone.
func SchedulerFromEnv(getenv func(string) string) (Scheduler, error) {
	sc := Scheduler{
		Issuer:   strings.TrimRight(strings.TrimSpace(getenv("BASE_SCHEDULER_ISSUER")), "/"),
		Audience: strings.TrimSpace(getenv("BASE_SCHEDULER_AUDIENCE")),
		Email:    strings.TrimSpace(getenv("BASE_SCHEDULER_EMAIL")),
	}
	if sc.Issuer == "" {
		sc.Issuer = DefaultSchedulerIssuer
	}
	if (sc.Audience == "") != (sc.Email == "") {
		return sc, errors.New("BASE_SCHEDULER_AUDIENCE and BASE_SCHEDULER_EMAIL must be set together")
	}
	return sc, nil
}

// Jobs returns a registry of the built-in jobs that apply to st:
// __baseStoreOptimize__, which for a store without maintenance to do
// (libSQL: sqld maintains its databases itself) is a logged no-op, so the
// same schedules fit every store. The embedded IAM's __baseIAMCleanup__ is
// added by `base serve`, the only binary that embeds the IAM.
func Jobs(st store.Store, log *slog.Logger) (*jobs.Registry, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := jobs.NewRegistry(log)
	j, ok := jobs.StoreOptimize(st)
	if !ok {
		j = jobs.Job{ID: jobs.StoreOptimizeID, Expression: jobs.StoreOptimizeExpression, Run: func(ctx context.Context) error {
			log.InfoContext(ctx, "store optimize: nothing to do, the store maintains itself", "store", fmt.Sprintf("%T", st))
			return nil
		}}
	}
	if err := reg.Add(j); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return reg, nil
}

// Crons is the handler's crons configuration for reg: platform
// superusers always, and the scheduler sc names when enabled, its tokens
// verified against the issuer's discovered JWKS (fetched on first use).
func Crons(reg *jobs.Registry, sc Scheduler) handler.Jobs {
	jc := handler.Jobs{Registry: reg}
	if sc.Enabled() {
		jc.Scheduler = auth.NewDiscovering(sc.Issuer, auth.Config{Issuer: sc.Issuer, Audience: sc.Audience})
		jc.SchedulerEmail = sc.Email
	}
	return jc
}

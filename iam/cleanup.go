package iam

import (
	"context"
	"errors"
	"fmt"
)

// cleanupQueries delete what has expired, oldest state first: codes,
// refresh tokens and their grants, revoked-token entries, SSO sessions,
// device codes, signing keys past their retirement, then throttling
// counters whose lockout and window are over.
var cleanupQueries = []struct{ table, query string }{
	{"iam_codes", `DELETE FROM iam_codes WHERE expires < ?`},
	{"iam_refresh", `DELETE FROM iam_refresh WHERE expires < ?`},
	{"iam_grants", `DELETE FROM iam_grants WHERE expires < ?`},
	{"iam_revoked", `DELETE FROM iam_revoked WHERE expires < ?`},
	{"iam_sessions", `DELETE FROM iam_sessions WHERE expires < ?`},
	{"iam_devices", `DELETE FROM iam_devices WHERE expires < ?`},
	{"iam_keys", `DELETE FROM iam_keys WHERE expires > 0 AND expires < ?`},
}

// Cleanup purges the expired rows of the IAM's state — authorization
// codes, refresh tokens and grants, revoked-token entries, sessions,
// device codes, retired signing keys past their expiry, and finished
// login-throttling counters — and returns how many rows it deleted. It is
// the scheduled job __baseIAMCleanup__ (hourly), for deployments where the
// IAM's own background sweep never gets to run (a process that lives only
// while it answers). Rows are deleted only once expired, so it is safe to
// run at any time and on several instances at once. It goes on past a
// failing table and returns the failures joined.
func (s *Server) Cleanup(ctx context.Context) (int, error) {
	now := s.now().Unix()
	total := 0
	var errs []error
	exec := func(table, query string, args ...any) {
		res, err := s.db.ExecContext(ctx, query, args...)
		if err != nil {
			errs = append(errs, fmt.Errorf("iam cleanup %s: %w", table, err))
			return
		}
		if n, err := res.RowsAffected(); err == nil {
			total += int(n)
		}
	}
	for _, q := range cleanupQueries {
		if err := ctx.Err(); err != nil {
			return total, errors.Join(append(errs, fmt.Errorf("iam cleanup: %w", err))...)
		}
		exec(q.table, q.query, now)
	}
	exec("iam_throttle", `DELETE FROM iam_throttle WHERE locked_until < ? AND first_failure < ?`,
		now, now-int64(s.cfg.LockoutDuration.Seconds()))
	return total, errors.Join(errs...)
}

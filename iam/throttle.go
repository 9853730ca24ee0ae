package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Login throttling: Config.MaxFailures failed logins for an account or an
// IP address within Config.LockoutDuration lock it for LockoutDuration (the
// IAM answers 429). The counters live in the store, so every instance
// sharing it enforces the same lock.

// throttleKeys are the counters a login attempt touches.
func throttleKeys(org, username, ip string) []string {
	return []string{"acct:" + org + "/" + username, "ip:" + ip}
}

// lockedFor reports how long the longest lock among keys still lasts (0
// when none is locked).
func (s *Server) lockedFor(ctx context.Context, keys []string) (time.Duration, error) {
	now := s.now().Unix()
	var longest int64
	for _, k := range keys {
		var until int64
		err := s.db.QueryRowContext(ctx, `SELECT locked_until FROM iam_throttle WHERE k = ?`, k).Scan(&until)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("throttle: %w", err)
		}
		if until > now && until-now > longest {
			longest = until - now
		}
	}
	return time.Duration(longest) * time.Second, nil
}

// recordFailure counts a failed login against every key, locking the keys
// that reach MaxFailures within the window.
func (s *Server) recordFailure(ctx context.Context, keys []string) error {
	now := s.now().Unix()
	window := int64(s.cfg.LockoutDuration.Seconds())
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	defer tx.Rollback()
	for _, k := range keys {
		var failures int
		var first, until int64
		err := tx.QueryRowContext(ctx, `SELECT failures, first_failure, locked_until FROM iam_throttle WHERE k = ?`, k).Scan(&failures, &first, &until)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && now-first > window && until <= now:
			failures, first, until = 0, now, 0
		case err != nil:
			return fmt.Errorf("throttle: %w", err)
		}
		failures++
		if failures >= s.cfg.MaxFailures {
			until = now + window
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_throttle (k, failures, first_failure, locked_until) VALUES (?, ?, ?, ?)
			ON CONFLICT (k) DO UPDATE SET failures = excluded.failures, first_failure = excluded.first_failure, locked_until = excluded.locked_until`,
			k, failures, first, until); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

// clearFailures resets the account counter after a successful login (the
// IP counter keeps counting failures of other accounts).
func (s *Server) clearFailures(ctx context.Context, keys []string) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM iam_throttle WHERE k = ? AND locked_until = 0`, keys[0]); err != nil {
		s.log.Error("iam: clear throttle", "err", err)
	}
}

// errThrottled is returned by authenticate while an account or IP is locked.
type errThrottled struct{ retryAfter time.Duration }

func (e *errThrottled) Error() string { return "too many failed login attempts" }

// errBadCredentials is returned by authenticate for a wrong username or
// password (never saying which).
var errBadCredentials = errors.New("invalid username or password")

// authenticate checks org's username/password with throttling and audit.
// It returns the user, errBadCredentials, *errThrottled or an internal
// error.
func (s *Server) authenticate(ctx context.Context, org, username, password string, ev auditEvent) (*User, error) {
	keys := throttleKeys(org, username, ev.IP)
	ev.Org, ev.Username, ev.Event = org, username, "login"
	wait, err := s.lockedFor(ctx, keys)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		ev.Result, ev.Detail = "throttled", ""
		s.audit(ev)
		return nil, &errThrottled{retryAfter: wait}
	}
	u, err := s.User(ctx, org, username)
	hash := dummyHash
	if err == nil && u.passwordHash != "" {
		hash = u.passwordHash
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	ok := verifyPassword(password, hash) && err == nil && u.passwordHash != ""
	if !ok {
		if ferr := s.recordFailure(ctx, keys); ferr != nil {
			return nil, ferr
		}
		ev.Result = "failure"
		s.audit(ev)
		return nil, errBadCredentials
	}
	s.clearFailures(ctx, keys)
	ev.Result = "ok"
	s.audit(ev)
	return u, nil
}

// Failed passkey assertions are throttled like passwords. A passkey cannot
// be guessed, so this is not what protects it; but a failed assertion is a
// failed sign-in attempt under spec/iam.md's rule (5 for an account or IP →
// 15 minutes of 429s), and without the rule an IP locked out for guessing
// passwords could keep driving ceremonies (a row and an audit entry each,
// and a signature verification) without bound. Passwordless sign-in
// counts against the IP only: the account is not known until an assertion
// verifies, and counting it there would let anyone holding a credential id
// lock its owner out. The second factor counts against the account and
// the IP, exactly as the password before it did.

// ipKeys are the counters of an attempt whose account is unknown.
func ipKeys(ip string) []string { return []string{"ip:" + ip} }

// refuseLocked answers 429 (audited as ev.Event/throttled) while any of
// keys is locked, and reports whether it answered.
func (s *Server) refuseLocked(w http.ResponseWriter, r *http.Request, keys []string, ev auditEvent) bool {
	wait, err := s.lockedFor(r.Context(), keys)
	if err != nil {
		s.serverError(w, ev.Event, err)
		return true
	}
	if wait <= 0 {
		return false
	}
	ev.Result = "throttled"
	s.audit(ev)
	w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
	envelope(w, http.StatusTooManyRequests, false, "Too many failed sign-in attempts. Try again later.", nil)
	return true
}

// countPasskeyFailure records err against keys when it is a failed
// verification (not a stale ceremony or an internal error).
func (s *Server) countPasskeyFailure(ctx context.Context, keys []string, err error) {
	var ve verifyError
	if !errors.As(err, &ve) {
		return
	}
	if ferr := s.recordFailure(ctx, keys); ferr != nil {
		s.log.Error("iam: throttle passkey failure", "err", ferr)
	}
}

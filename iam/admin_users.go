package iam

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hanzoai/base/store"
)

// A disabled user keeps its password hash with a "!" in front of the hash
// field ("$argon2id$…$salt$!hash", or "!" alone when it has no password):
// the hash no longer decodes, so every password check fails — after the
// full argon2id work, so a disabled account answers no faster than another
// — and enabling the user restores the hash unchanged.

func isDisabledHash(h string) bool {
	if h == "!" {
		return true
	}
	i := strings.LastIndexByte(h, '$')
	return i >= 0 && strings.HasPrefix(h[i+1:], "!")
}

func disableHash(h string) string {
	if isDisabledHash(h) {
		return h
	}
	if h == "" {
		return "!"
	}
	i := strings.LastIndexByte(h, '$')
	return h[:i+1] + "!" + h[i+1:]
}

func enableHash(h string) string {
	if h == "!" {
		return ""
	}
	if !isDisabledHash(h) {
		return h
	}
	i := strings.LastIndexByte(h, '$')
	return h[:i+1] + h[i+2:]
}

// Disabled reports whether an admin disabled u: it cannot sign in, and its
// sessions and refresh tokens were revoked when it was disabled. Sign-in
// paths that do not check a password (passkeys) must refuse such users.
func (u *User) Disabled() bool { return isDisabledHash(u.passwordHash) }

// errUserDisabled refuses to start a session for a disabled user.
var errUserDisabled = errors.New("the user is disabled")

// UserPatch is a partial update of a user: nil fields are left unchanged.
type UserPatch struct {
	DisplayName   *string    `json:"displayName,omitempty"`
	Email         *string    `json:"email,omitempty"`
	EmailVerified *bool      `json:"emailVerified,omitempty"`
	IsAdmin       *bool      `json:"isAdmin,omitempty"`
	IsGlobalAdmin *bool      `json:"isGlobalAdmin,omitempty"`
	Orgs          *[]OrgRole `json:"orgs,omitempty"`
	Roles         *[]string  `json:"roles,omitempty"`
	// Disabled disables (true) or enables (false) the user. Disabling
	// revokes its sessions, codes and refresh tokens at once.
	Disabled *bool `json:"disabled,omitempty"`
}

// reducesPrivileges reports whether applying p to u takes a privilege
// away (admin flags, an org membership or a role): the user's tokens,
// which carry the old privileges, are then revoked.
func (p UserPatch) reducesPrivileges(u *User) bool {
	if p.IsAdmin != nil && u.IsAdmin && !*p.IsAdmin || p.IsGlobalAdmin != nil && u.IsGlobalAdmin && !*p.IsGlobalAdmin {
		return true
	}
	if p.Orgs != nil {
		for _, o := range u.Orgs {
			if !slices.Contains(*p.Orgs, o) {
				return true
			}
		}
	}
	if p.Roles != nil {
		for _, r := range u.Roles {
			if !slices.Contains(*p.Roles, r) {
				return true
			}
		}
	}
	return false
}

// userTx reads org's user username inside tx.
func userTx(ctx context.Context, tx store.Querier, org, username string) (*User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM iam_users WHERE org = ? AND username = ?`, org, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q/%q: %w", org, username, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q/%q: %w", org, username, err)
	}
	return u, nil
}

// checkRoles reports an ErrInvalid error unless every role exists in org.
func checkRoles(ctx context.Context, tx store.Querier, org string, roles []string) error {
	for _, r := range roles {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM iam_roles WHERE org = ? AND name = ?`, org, r).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return invalidf("role %q does not exist in org %q", r, org)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// revokeUserTx ends everything the user holds: its SSO sessions, unused
// authorization codes, approved device codes and every grant (refresh
// family), so its refresh tokens stop working and introspection reports
// its access tokens inactive.
func revokeUserTx(ctx context.Context, tx store.Querier, org, username string) error {
	for _, q := range []string{
		`UPDATE iam_grants SET revoked = 1 WHERE org = ? AND username = ?`,
		`UPDATE iam_sessions SET revoked = 1 WHERE org = ? AND username = ?`,
		`DELETE FROM iam_codes WHERE org = ? AND username = ?`,
		`DELETE FROM iam_devices WHERE org = ? AND username = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, org, username); err != nil {
			return fmt.Errorf("revoke user %q/%q: %w", org, username, err)
		}
	}
	return nil
}

// UpdateUser applies p to org's user username and returns the result.
// Roles must exist in org; memberships name valid orgs with a role. A patch
// that takes a privilege away, or disables the user, revokes the user's
// sessions and refresh tokens in the same transaction.
func (s *Server) UpdateUser(ctx context.Context, org, username string, p UserPatch) (*User, error) {
	if p.Orgs != nil {
		for _, o := range *p.Orgs {
			if !ValidOrg(o.Org) || o.Role == "" {
				return nil, fmt.Errorf("update user %q: %w", username, invalidf("invalid membership %+v", o))
			}
		}
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	defer tx.Rollback()
	u, err := userTx(ctx, tx, org, username)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if p.Roles != nil {
		if err := checkRoles(ctx, tx, org, *p.Roles); err != nil {
			return nil, fmt.Errorf("update user %q: %w", username, err)
		}
	}
	revoke := p.reducesPrivileges(u)
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setb := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.DisplayName, p.DisplayName)
	set(&u.Email, p.Email)
	setb(&u.EmailVerified, p.EmailVerified)
	setb(&u.IsAdmin, p.IsAdmin)
	setb(&u.IsGlobalAdmin, p.IsGlobalAdmin)
	if p.Orgs != nil {
		u.Orgs = *p.Orgs
	}
	if p.Roles != nil {
		u.Roles = dedupe(*p.Roles)
	}
	if p.Disabled != nil {
		if *p.Disabled {
			revoke = revoke || !u.Disabled()
			u.passwordHash = disableHash(u.passwordHash)
		} else {
			u.passwordHash = enableHash(u.passwordHash)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE iam_users SET display_name = ?, email = ?, email_verified = ?, is_admin = ?, is_global_admin = ?,
		memberships = ?, roles = ?, password_hash = ?, updated = ? WHERE org = ? AND username = ?`,
		u.DisplayName, u.Email, b2i(u.EmailVerified), b2i(u.IsAdmin), b2i(u.IsGlobalAdmin), jsonText(u.Orgs), jsonText(u.Roles),
		u.passwordHash, s.now().Unix(), org, username); err != nil {
		return nil, fmt.Errorf("update user %q: %w", username, err)
	}
	if revoke {
		if err := revokeUserTx(ctx, tx, org, username); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update user %q: %w", username, err)
	}
	return u, nil
}

// DeleteUser deletes org's user username and, in the same transaction,
// revokes its sessions and refresh tokens and deletes its balance
// transactions (a user later created with the name starts from a zero
// balance and an empty history; the audit log keeps every admin balance
// change).
func (s *Server) DeleteUser(ctx context.Context, org, username string) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM iam_users WHERE org = ? AND username = ?`, org, username)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete user %q/%q: %w", org, username, ErrNotFound)
	}
	if err := revokeUserTx(ctx, tx, org, username); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM iam_throttle WHERE k = ?`, "acct:"+org+"/"+username); err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM iam_transactions WHERE org = ? AND username = ?`, org, username); err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	return nil
}

// ResetPassword sets the password of org's user username on an admin's
// authority (no old password), enforcing the org's minimum length, and
// revokes the user's sessions and refresh tokens: a reset usually means
// the old password is compromised. A disabled user stays disabled.
func (s *Server) ResetPassword(ctx context.Context, org, username, password string) error {
	o, err := s.Org(ctx, org)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if len(password) < o.PasswordMinLength {
		return fmt.Errorf("reset password: %w", invalidf("the password must have at least %d characters", o.PasswordMinLength))
	}
	hash, err := hashPassword(password, s.argon)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	defer tx.Rollback()
	u, err := userTx(ctx, tx, org, username)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if u.Disabled() {
		hash = disableHash(hash)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE iam_users SET password_hash = ?, updated = ? WHERE org = ? AND username = ?`,
		hash, s.now().Unix(), org, username); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := revokeUserTx(ctx, tx, org, username); err != nil {
		return err
	}
	// A reset also lifts the account's login lock.
	if _, err := tx.ExecContext(ctx, `DELETE FROM iam_throttle WHERE k = ?`, "acct:"+org+"/"+username); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	return nil
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

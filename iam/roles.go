package iam

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Roles and permissions (RBAC): a role is a named set of permission
// strings of one org; users of the org are assigned roles. Access tokens
// carry the user's roles ("roles"), the union of their permissions
// ("permissions"), and the first role as the user's role in its own org in
// "orgs" (unless the user is an org admin: "admin").

// validPermission reports whether p can be a permission: 1–200 printable
// ASCII bytes without spaces (e.g. "records:write", "billing.read").
func validPermission(p string) bool {
	if p == "" || len(p) > 200 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] > '~' {
			return false
		}
	}
	return true
}

func checkRole(r Role) error {
	if !validUsername(r.Name) {
		return invalidf("invalid role name %q", r.Name)
	}
	for _, p := range r.Permissions {
		if !validPermission(p) {
			return invalidf("invalid permission %q", p)
		}
	}
	return nil
}

// Roles lists org's roles by name.
func (s *Server) Roles(ctx context.Context, org string) ([]Role, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT org, name, permissions FROM iam_roles WHERE org = ? ORDER BY name`, org)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		var r Role
		var perms string
		if err := rows.Scan(&r.Org, &r.Name, &perms); err != nil {
			return nil, fmt.Errorf("list roles: %w", err)
		}
		json.Unmarshal([]byte(perms), &r.Permissions)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Role returns org's role name, or an error wrapping ErrNotFound.
func (s *Server) Role(ctx context.Context, org, name string) (*Role, error) {
	r := Role{Org: org, Name: name}
	var perms string
	err := s.db.QueryRowContext(ctx, `SELECT permissions FROM iam_roles WHERE org = ? AND name = ?`, org, name).Scan(&perms)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("role %q/%q: %w", org, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("role %q/%q: %w", org, name, err)
	}
	json.Unmarshal([]byte(perms), &r.Permissions)
	return &r, nil
}

// UpdateRole replaces the permissions of org's role name. Tokens minted
// afterwards (a refresh included) carry the new permissions.
func (s *Server) UpdateRole(ctx context.Context, org, name string, permissions []string) (*Role, error) {
	r := Role{Org: org, Name: name, Permissions: dedupe(permissions)}
	if err := checkRole(r); err != nil {
		return nil, fmt.Errorf("update role: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE iam_roles SET permissions = ? WHERE org = ? AND name = ?`, jsonText(r.Permissions), org, name)
	if err != nil {
		return nil, fmt.Errorf("update role %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("update role %q/%q: %w", org, name, ErrNotFound)
	}
	return &r, nil
}

// DeleteRole deletes org's role name and takes it away from every user of
// org that had it, revoking those users' refresh tokens (their tokens
// carry the role).
func (s *Server) DeleteRole(ctx context.Context, org, name string) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM iam_roles WHERE org = ? AND name = ?`, org, name)
	if err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete role %q/%q: %w", org, name, ErrNotFound)
	}
	// Candidates by text match, then exact check on the decoded list.
	rows, err := tx.QueryContext(ctx, `SELECT username, roles FROM iam_users WHERE org = ? AND roles LIKE ?`, org, "%"+likeEscape(jsonText(name))+"%")
	if err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	type holder struct {
		username string
		roles    []string
	}
	var holders []holder
	for rows.Next() {
		var h holder
		var roles string
		if err := rows.Scan(&h.username, &roles); err != nil {
			rows.Close()
			return fmt.Errorf("delete role %q: %w", name, err)
		}
		json.Unmarshal([]byte(roles), &h.roles)
		holders = append(holders, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	for _, h := range holders {
		kept := removeString(h.roles, name)
		if len(kept) == len(h.roles) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE iam_users SET roles = ?, updated = ? WHERE org = ? AND username = ?`,
			jsonText(kept), s.now().Unix(), org, h.username); err != nil {
			return fmt.Errorf("delete role %q: %w", name, err)
		}
		if err := revokeUserTx(ctx, tx, org, h.username); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	return nil
}

// AssignRole gives org's user username the role (which must exist in org).
// Assigning a role the user has is a no-op. The role is in the user's
// tokens from the next sign-in or refresh.
func (s *Server) AssignRole(ctx context.Context, org, username, role string) error {
	return s.changeRoles(ctx, org, username, role, true)
}

// UnassignRole takes the role away from org's user username and revokes
// the user's refresh tokens, which carry it.
func (s *Server) UnassignRole(ctx context.Context, org, username, role string) error {
	return s.changeRoles(ctx, org, username, role, false)
}

func (s *Server) changeRoles(ctx context.Context, org, username, role string, add bool) error {
	op := "unassign role"
	if add {
		op = "assign role"
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer tx.Rollback()
	if err := checkRoles(ctx, tx, org, []string{role}); err != nil {
		if errors.Is(err, ErrInvalid) {
			return fmt.Errorf("%s %q/%q: %w", op, org, role, ErrNotFound)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	u, err := userTx(ctx, tx, org, username)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	roles := u.Roles
	if add {
		roles = dedupe(append(roles, role))
	} else {
		roles = removeString(roles, role)
	}
	if len(roles) == len(u.Roles) {
		return nil // nothing changes
	}
	if _, err := tx.ExecContext(ctx, `UPDATE iam_users SET roles = ?, updated = ? WHERE org = ? AND username = ?`,
		jsonText(roles), s.now().Unix(), org, username); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !add {
		if err := revokeUserTx(ctx, tx, org, username); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func removeString(in []string, s string) []string {
	var out []string
	for _, v := range in {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

// likeEscape escapes s for a LIKE pattern with ESCAPE-less engines: the
// wildcard characters are replaced by "_" (matching themselves among
// others), so the pattern only over-matches; callers check exactly.
func likeEscape(s string) string {
	return strings.NewReplacer("%", "_", "\\", "_").Replace(s)
}

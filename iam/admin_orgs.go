package iam

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/hanzoai/base/store"
)

// OrgPatch is a partial update of an org: nil fields are left unchanged.
type OrgPatch struct {
	DisplayName       *string   `json:"displayName,omitempty"`
	ThemeColor        *string   `json:"themeColor,omitempty"`
	Logo              *string   `json:"logo,omitempty"`
	Domains           *[]string `json:"domains,omitempty"`
	PasswordMinLength *int      `json:"passwordMinLength,omitempty"`
	MFA               *string   `json:"mfa,omitempty"`
}

// normalizeDomain lower-cases a host name and drops a port and a trailing
// dot; "" when d is not a plausible host name.
func normalizeDomain(d string) string {
	d = strings.ToLower(strings.TrimSpace(d))
	if h, _, err := net.SplitHostPort(d); err == nil {
		d = h
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 {
		return ""
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return ""
		}
	}
	return d
}

// UpdateOrg applies p to the org called name and returns the result. A
// domain may belong to one org only (ErrConflict otherwise).
func (s *Server) UpdateOrg(ctx context.Context, name string, p OrgPatch) (*Org, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update org: %w", err)
	}
	defer tx.Rollback()
	o, err := orgTx(ctx, tx, name)
	if err != nil {
		return nil, fmt.Errorf("update org: %w", err)
	}
	if p.DisplayName != nil {
		o.DisplayName = *p.DisplayName
	}
	if p.ThemeColor != nil {
		if *p.ThemeColor != "" && !colorRe.MatchString(*p.ThemeColor) {
			return nil, fmt.Errorf("update org: %w", invalidf("invalid theme colour %q", *p.ThemeColor))
		}
		o.ThemeColor = *p.ThemeColor
	}
	if p.Logo != nil {
		if *p.Logo != "" && !logoRe.MatchString(*p.Logo) {
			return nil, fmt.Errorf("update org: %w", invalidf("the logo must be a base64 data:image/… URI"))
		}
		o.Logo = *p.Logo
	}
	if p.PasswordMinLength != nil {
		if *p.PasswordMinLength < 1 || *p.PasswordMinLength > 128 {
			return nil, fmt.Errorf("update org: %w", invalidf("passwordMinLength must be 1–128"))
		}
		o.PasswordMinLength = *p.PasswordMinLength
	}
	if p.MFA != nil {
		if *p.MFA != "optional" && *p.MFA != "required" {
			return nil, fmt.Errorf("update org: %w", invalidf(`mfa must be "optional" or "required"`))
		}
		o.MFA = *p.MFA
	}
	if p.Domains != nil {
		var domains []string
		for _, d := range *p.Domains {
			n := normalizeDomain(d)
			if n == "" {
				return nil, fmt.Errorf("update org: %w", invalidf("invalid domain %q", d))
			}
			if !slices.Contains(domains, n) {
				domains = append(domains, n)
			}
		}
		for _, d := range domains {
			owner, err := orgOfDomain(ctx, tx, d)
			if err != nil {
				return nil, fmt.Errorf("update org: %w", err)
			}
			if owner != "" && owner != name {
				return nil, fmt.Errorf("update org: %w", conflictf("domain %q belongs to another org", d))
			}
		}
		o.Domains = domains
	}
	if _, err := tx.ExecContext(ctx, `UPDATE iam_orgs SET display_name = ?, theme_color = ?, logo = ?, domains = ?, password_min_length = ?, mfa = ? WHERE name = ?`,
		o.DisplayName, o.ThemeColor, o.Logo, jsonText(o.Domains), o.PasswordMinLength, o.MFA, name); err != nil {
		return nil, fmt.Errorf("update org %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update org %q: %w", name, err)
	}
	s.invalidate()
	return o, nil
}

// orgTx reads the org called name through q (a DB or a Tx).
func orgTx(ctx context.Context, q store.Querier, name string) (*Org, error) {
	var o Org
	var domains string
	err := q.QueryRowContext(ctx, `SELECT name, display_name, theme_color, logo, domains, password_min_length, mfa FROM iam_orgs WHERE name = ?`, name).
		Scan(&o.Name, &o.DisplayName, &o.ThemeColor, &o.Logo, &domains, &o.PasswordMinLength, &o.MFA)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("org %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("org %q: %w", name, err)
	}
	json.Unmarshal([]byte(domains), &o.Domains)
	return &o, nil
}

// orgOfDomain returns the org whose domains list d ("" when none).
func orgOfDomain(ctx context.Context, q store.Querier, d string) (string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, domains FROM iam_orgs WHERE domains LIKE ? ORDER BY name`, "%"+likeEscape(jsonText(d))+"%")
	if err != nil {
		return "", fmt.Errorf("org of domain %q: %w", d, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, domains string
		if err := rows.Scan(&name, &domains); err != nil {
			return "", fmt.Errorf("org of domain %q: %w", d, err)
		}
		var list []string
		json.Unmarshal([]byte(domains), &list)
		if slices.Contains(list, d) {
			return name, nil
		}
	}
	return "", rows.Err()
}

// OrgByHost returns the org one of whose domains is host (a Host header:
// any port is ignored, case-insensitive), or an error wrapping ErrNotFound.
// spec/iam.md: the org of a request is its application's, else the one its
// Host names.
func (s *Server) OrgByHost(ctx context.Context, host string) (*Org, error) {
	d := normalizeDomain(host)
	if d == "" {
		return nil, fmt.Errorf("org of host %q: %w", host, ErrNotFound)
	}
	name, err := orgOfDomain(ctx, s.db, d)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("org of host %q: %w", host, ErrNotFound)
	}
	return s.Org(ctx, name)
}

// hostOrg is the org the request's Host header names, or nil. Only Host
// is read: X-Forwarded-Host is client-controlled unless a proxy rewrites
// it, and proxies pass Host through.
func (s *Server) hostOrg(r *http.Request) *Org {
	o, err := s.OrgByHost(r.Context(), r.Host)
	if err != nil {
		return nil
	}
	return o
}

// DeleteOrg deletes the org called name and everything it owns, in one
// transaction: its applications (and their codes, device codes and
// grants), users (their sessions, codes, refresh tokens, throttle
// counters), roles and balance transactions; other orgs' users lose their
// membership in it. Refresh tokens of the org stop working at once and
// introspection reports its users' access tokens inactive.
func (s *Server) DeleteOrg(ctx context.Context, name string) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete org: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM iam_orgs WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete org %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete org %q: %w", name, ErrNotFound)
	}
	// Grants of the org's users and of its applications (a grant's org is
	// its user's; a member of another org may hold a grant of this org's
	// application).
	apps := `SELECT client_id FROM iam_apps WHERE org = ?`
	for _, q := range []string{
		`DELETE FROM iam_refresh WHERE grant_id IN (SELECT id FROM iam_grants WHERE org = ? OR client_id IN (` + apps + `))`,
		`DELETE FROM iam_grants WHERE org = ? OR client_id IN (` + apps + `)`,
		`DELETE FROM iam_codes WHERE org = ? OR client_id IN (` + apps + `)`,
		`DELETE FROM iam_devices WHERE org = ? OR client_id IN (` + apps + `)`,
	} {
		if _, err := tx.ExecContext(ctx, q, name, name); err != nil {
			return fmt.Errorf("delete org %q: %w", name, err)
		}
	}
	for _, q := range []string{
		`DELETE FROM iam_sessions WHERE org = ?`,
		`DELETE FROM iam_apps WHERE org = ?`,
		`DELETE FROM iam_users WHERE org = ?`,
		`DELETE FROM iam_roles WHERE org = ?`,
		`DELETE FROM iam_transactions WHERE org = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, name); err != nil {
			return fmt.Errorf("delete org %q: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM iam_throttle WHERE k LIKE ?`, "acct:"+likeEscape(name)+"/%"); err != nil {
		return fmt.Errorf("delete org %q: %w", name, err)
	}
	if err := dropMemberships(ctx, tx, name, s.now().Unix()); err != nil {
		return fmt.Errorf("delete org %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete org %q: %w", name, err)
	}
	s.invalidate()
	return nil
}

// dropMemberships removes org from the memberships of other orgs' users,
// revoking the refresh tokens of those who had it (their tokens list it).
func dropMemberships(ctx context.Context, tx store.Tx, org string, now int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT org, username, memberships FROM iam_users WHERE memberships LIKE ?`, "%"+likeEscape(jsonText(org))+"%")
	if err != nil {
		return err
	}
	type member struct {
		org, username string
		orgs          []OrgRole
	}
	var members []member
	for rows.Next() {
		var m member
		var orgs string
		if err := rows.Scan(&m.org, &m.username, &orgs); err != nil {
			rows.Close()
			return err
		}
		json.Unmarshal([]byte(orgs), &m.orgs)
		members = append(members, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range members {
		kept := slices.DeleteFunc(slices.Clone(m.orgs), func(o OrgRole) bool { return o.Org == org })
		if len(kept) == len(m.orgs) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE iam_users SET memberships = ?, updated = ? WHERE org = ? AND username = ?`,
			jsonText(kept), now, m.org, m.username); err != nil {
			return err
		}
		if err := revokeUserTx(ctx, tx, m.org, m.username); err != nil {
			return err
		}
	}
	return nil
}

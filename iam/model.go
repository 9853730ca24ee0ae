package iam

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Default token lifetimes of an application (spec/iam.md).
const (
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 30 * 24 * time.Hour
)

// Grant types an application may be allowed.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// ErrNotFound is returned by lookups of a missing org, application or user.
var ErrNotFound = errors.New("iam: not found")

// Org is an organization (tenant): it owns applications and users and has
// its own branded login page.
type Org struct {
	Name              string   `json:"name"`
	DisplayName       string   `json:"displayName,omitempty"`
	ThemeColor        string   `json:"themeColor,omitempty"` // CSS colour, e.g. "#2f6feb"
	Logo              string   `json:"logo,omitempty"`       // data:image/… URI (no external assets)
	Domains           []string `json:"domains,omitempty"`    // hosts resolving to this org
	PasswordMinLength int      `json:"passwordMinLength,omitempty"`
	MFA               string   `json:"mfa,omitempty"` // "optional" (default) or "required"
}

// Application is an OAuth client of an org.
type Application struct {
	ClientID     string `json:"clientId"`
	Org          string `json:"organization"`
	Name         string `json:"name"`
	DisplayName  string `json:"displayName,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty"` // only on create; stored hashed
	// Public marks a client without a secret (SPA, native, device): PKCE
	// S256 is then required. A client created without a secret is public.
	RedirectURIs   []string      `json:"redirectUris,omitempty"`
	PostLogoutURIs []string      `json:"postLogoutRedirectUris,omitempty"`
	GrantTypes     []string      `json:"grantTypes,omitempty"` // default: authorization_code, refresh_token
	Scopes         []string      `json:"scopes,omitempty"`     // default: openid profile email offline_access
	Audiences      []string      `json:"audiences,omitempty"`  // extra aud values besides the client id
	AccessTTL      time.Duration `json:"-"`
	RefreshTTL     time.Duration `json:"-"`

	secretHash string
}

// Public reports whether the application has no client secret.
func (a *Application) Public() bool { return a.secretHash == "" }

// allows reports whether the application may use grant type g.
func (a *Application) allows(g string) bool { return slices.Contains(a.GrantTypes, g) }

// checkSecret compares secret with the stored hash in constant time.
func (a *Application) checkSecret(secret string) bool {
	if a.secretHash == "" || secret == "" {
		return false
	}
	got := hashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(a.secretHash)) == 1
}

// audience is the aud of tokens issued to the application: its client id,
// then its extra audiences.
func (a *Application) audience() any {
	if len(a.Audiences) == 0 {
		return a.ClientID
	}
	return append([]string{a.ClientID}, a.Audiences...)
}

// redirectAllowed reports whether uri is registered: exact match, except that
// a loopback redirect URI (http://127.0.0.1, http://[::1], http://localhost)
// matches with any port (RFC 8252 §7.3).
func (a *Application) redirectAllowed(uri string) bool {
	if uri == "" {
		return false
	}
	if slices.Contains(a.RedirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
		return false
	}
	for _, r := range a.RedirectURIs {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "http" || ru.Hostname() != u.Hostname() {
			continue
		}
		if ru.Path == u.Path && ru.RawQuery == u.RawQuery && u.Fragment == "" {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// hashSecret is how client secrets are stored: SHA-256, hex. Client
// secrets are high-entropy, so a fast hash is adequate and keeps the
// client-credentials grant cheap.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// User is an identity of an org. Its token subject is "<org>/<username>".
type User struct {
	Org           string    `json:"organization"`
	Username      string    `json:"name"`
	Password      string    `json:"password,omitempty"` // only on create/change; stored as argon2id
	DisplayName   string    `json:"displayName,omitempty"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"emailVerified,omitempty"`
	IsAdmin       bool      `json:"isAdmin,omitempty"`
	IsGlobalAdmin bool      `json:"isGlobalAdmin,omitempty"`
	Orgs          []OrgRole `json:"orgs,omitempty"` // memberships in other orgs
	Roles         []string  `json:"roles,omitempty"`
	BalanceCents  int64     `json:"-"`

	passwordHash string
}

// Subject is the token subject of u: "<org>/<username>".
func (u *User) Subject() string { return u.Org + "/" + u.Username }

// memberships is the orgs claim: the user's own org first (role "admin"
// when IsAdmin, else its first assigned role, else "member"), then the
// other memberships.
func (u *User) memberships() []OrgRole {
	role := "member"
	if u.IsAdmin {
		role = "admin"
	} else if len(u.Roles) > 0 {
		role = u.Roles[0]
	}
	out := []OrgRole{{Org: u.Org, Role: role}}
	for _, o := range u.Orgs {
		if o.Org != u.Org {
			out = append(out, o)
		}
	}
	return out
}

// Role is a named set of permissions in an org (RBAC).
type Role struct {
	Org         string   `json:"organization"`
	Name        string   `json:"name"`
	Permissions []string `json:"permissions,omitempty"`
}

// validUsername reports whether s can be a username: 1–100 bytes of
// [A-Za-z0-9._@+-], so that "<org>/<username>" stays ASCII and SDK-safe.
func validUsername(s string) bool {
	if len(s) == 0 || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("._@+-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return "[]"
	}
	return string(b)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateOrg creates org unless one with its name exists. It reports whether
// it created it; it never modifies an existing org.
func (s *Server) CreateOrg(ctx context.Context, o Org) (bool, error) {
	if !ValidOrg(o.Name) || o.Name == s.systemOrg {
		return false, invalidf("create org: invalid name %q", o.Name)
	}
	if o.PasswordMinLength == 0 {
		o.PasswordMinLength = 8
	}
	if o.MFA == "" {
		o.MFA = "optional"
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO iam_orgs (name, display_name, theme_color, logo, domains, password_min_length, mfa, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		o.Name, o.DisplayName, o.ThemeColor, o.Logo, jsonText(o.Domains), o.PasswordMinLength, o.MFA, s.now().Unix())
	if err != nil {
		return false, fmt.Errorf("create org %q: %w", o.Name, err)
	}
	n, _ := res.RowsAffected()
	s.invalidate()
	return n == 1, nil
}

// Org returns the org named name, or an error wrapping ErrNotFound.
func (s *Server) Org(ctx context.Context, name string) (*Org, error) {
	var o Org
	var domains string
	err := s.db.QueryRowContext(ctx, `SELECT name, display_name, theme_color, logo, domains, password_min_length, mfa FROM iam_orgs WHERE name = ?`, name).
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

// Orgs lists every org by name.
func (s *Server) Orgs(ctx context.Context) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, display_name, theme_color, logo, domains, password_min_length, mfa FROM iam_orgs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		var domains string
		if err := rows.Scan(&o.Name, &o.DisplayName, &o.ThemeColor, &o.Logo, &domains, &o.PasswordMinLength, &o.MFA); err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		json.Unmarshal([]byte(domains), &o.Domains)
		out = append(out, o)
	}
	return out, rows.Err()
}

// CreateApplication creates a unless its client id exists. A client secret,
// when given, is stored hashed; without one the application is public.
// Zero lifetimes, grant types and scopes get the defaults.
func (s *Server) CreateApplication(ctx context.Context, a Application) (bool, error) {
	if a.ClientID == "" || !validUsername(a.ClientID) {
		return false, invalidf("create application: invalid client id %q", a.ClientID)
	}
	if a.Name == "" {
		a.Name = a.ClientID
	}
	if _, err := s.Org(ctx, a.Org); err != nil {
		return false, fmt.Errorf("create application %q: %w", a.ClientID, err)
	}
	for _, r := range a.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || u.Scheme == "" || u.Fragment != "" {
			return false, invalidf("create application %q: invalid redirect URI %q", a.ClientID, r)
		}
	}
	if len(a.GrantTypes) == 0 {
		a.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	if len(a.Scopes) == 0 {
		a.Scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	if a.AccessTTL <= 0 {
		a.AccessTTL = DefaultAccessTTL
	}
	if a.RefreshTTL <= 0 {
		a.RefreshTTL = DefaultRefreshTTL
	}
	hash := ""
	if a.ClientSecret != "" {
		hash = hashSecret(a.ClientSecret)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO iam_apps (client_id, org, name, display_name, secret_hash, redirect_uris, post_logout_uris, grant_types, scopes, audiences, access_ttl, refresh_ttl, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		a.ClientID, a.Org, a.Name, a.DisplayName, hash, jsonText(a.RedirectURIs), jsonText(a.PostLogoutURIs),
		jsonText(a.GrantTypes), jsonText(a.Scopes), jsonText(a.Audiences), int64(a.AccessTTL/time.Second), int64(a.RefreshTTL/time.Second), s.now().Unix())
	if err != nil {
		return false, fmt.Errorf("create application %q: %w", a.ClientID, err)
	}
	n, _ := res.RowsAffected()
	s.invalidate()
	return n == 1, nil
}

const appColumns = `client_id, org, name, display_name, secret_hash, redirect_uris, post_logout_uris, grant_types, scopes, audiences, access_ttl, refresh_ttl`

func scanApp(sc interface{ Scan(...any) error }) (*Application, error) {
	var a Application
	var redirects, postLogout, grants, scopes, auds string
	var access, refresh int64
	if err := sc.Scan(&a.ClientID, &a.Org, &a.Name, &a.DisplayName, &a.secretHash, &redirects, &postLogout, &grants, &scopes, &auds, &access, &refresh); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(redirects), &a.RedirectURIs)
	json.Unmarshal([]byte(postLogout), &a.PostLogoutURIs)
	json.Unmarshal([]byte(grants), &a.GrantTypes)
	json.Unmarshal([]byte(scopes), &a.Scopes)
	json.Unmarshal([]byte(auds), &a.Audiences)
	a.AccessTTL = time.Duration(access) * time.Second
	a.RefreshTTL = time.Duration(refresh) * time.Second
	return &a, nil
}

// Application returns the application with clientID, or an error wrapping
// ErrNotFound.
func (s *Server) Application(ctx context.Context, clientID string) (*Application, error) {
	a, err := scanApp(s.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM iam_apps WHERE client_id = ?`, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("application %q: %w", clientID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("application %q: %w", clientID, err)
	}
	return a, nil
}

// applicationByName returns org's application called name.
func (s *Server) applicationByName(ctx context.Context, org, name string) (*Application, error) {
	a, err := scanApp(s.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM iam_apps WHERE org = ? AND name = ?`, org, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("application %q/%q: %w", org, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("application %q/%q: %w", org, name, err)
	}
	return a, nil
}

// Applications lists org's applications (every org's when org is empty).
func (s *Server) Applications(ctx context.Context, org string) ([]Application, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+appColumns+` FROM iam_apps WHERE org = ? OR ? = '' ORDER BY client_id`, org, org)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	defer rows.Close()
	var out []Application
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list applications: %w", err)
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// CreateUser creates u (its password hashed with argon2id) unless the
// username exists in its org. It never modifies an existing user.
func (s *Server) CreateUser(ctx context.Context, u User) (bool, error) {
	if !validUsername(u.Username) {
		return false, invalidf("create user: invalid username %q", u.Username)
	}
	if _, err := s.Org(ctx, u.Org); err != nil {
		return false, fmt.Errorf("create user %q: %w", u.Username, err)
	}
	for _, o := range u.Orgs {
		if !ValidOrg(o.Org) || o.Role == "" {
			return false, invalidf("create user %q: invalid membership %+v", u.Username, o)
		}
	}
	if exists, err := s.userExists(ctx, u.Org, u.Username); err != nil || exists {
		return false, err
	}
	hash := ""
	if u.Password != "" {
		var err error
		if hash, err = hashPassword(u.Password, s.argon); err != nil {
			return false, fmt.Errorf("create user %q: %w", u.Username, err)
		}
	}
	now := s.now().Unix()
	res, err := s.db.ExecContext(ctx, `INSERT INTO iam_users (org, username, password_hash, display_name, email, email_verified, is_admin, is_global_admin, memberships, roles, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.Org, u.Username, hash, u.DisplayName, u.Email, b2i(u.EmailVerified), b2i(u.IsAdmin), b2i(u.IsGlobalAdmin),
		jsonText(u.Orgs), jsonText(u.Roles), now, now)
	if err != nil {
		return false, fmt.Errorf("create user %q: %w", u.Username, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s *Server) userExists(ctx context.Context, org, username string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM iam_users WHERE org = ? AND username = ?`, org, username).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("user %q/%q: %w", org, username, err)
	}
	return true, nil
}

const userColumns = `org, username, password_hash, display_name, email, email_verified, is_admin, is_global_admin, memberships, roles, balance_cents`

func scanUser(sc interface{ Scan(...any) error }) (*User, error) {
	var u User
	var ev, adm, gadm int
	var orgs, roles string
	if err := sc.Scan(&u.Org, &u.Username, &u.passwordHash, &u.DisplayName, &u.Email, &ev, &adm, &gadm, &orgs, &roles, &u.BalanceCents); err != nil {
		return nil, err
	}
	u.EmailVerified, u.IsAdmin, u.IsGlobalAdmin = ev == 1, adm == 1, gadm == 1
	json.Unmarshal([]byte(orgs), &u.Orgs)
	json.Unmarshal([]byte(roles), &u.Roles)
	return &u, nil
}

// User returns org's user username, or an error wrapping ErrNotFound.
func (s *Server) User(ctx context.Context, org, username string) (*User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM iam_users WHERE org = ? AND username = ?`, org, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q/%q: %w", org, username, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q/%q: %w", org, username, err)
	}
	return u, nil
}

// Users lists org's users.
func (s *Server) Users(ctx context.Context, org string) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM iam_users WHERE org = ? ORDER BY username`, org)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// SetPassword replaces the password of org's user username.
func (s *Server) SetPassword(ctx context.Context, org, username, password string) error {
	hash, err := hashPassword(password, s.argon)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE iam_users SET password_hash = ?, updated = ? WHERE org = ? AND username = ?`, hash, s.now().Unix(), org, username)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set password %q/%q: %w", org, username, ErrNotFound)
	}
	return nil
}

// CreateRole creates an org role unless it exists.
func (s *Server) CreateRole(ctx context.Context, r Role) (bool, error) {
	if _, err := s.Org(ctx, r.Org); err != nil {
		return false, fmt.Errorf("create role %q: %w", r.Name, err)
	}
	if r.Name == "" {
		return false, invalidf("create role: name is required")
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO iam_roles (org, name, permissions) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, r.Org, r.Name, jsonText(r.Permissions))
	if err != nil {
		return false, fmt.Errorf("create role %q: %w", r.Name, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// permissions returns the union of the permissions of u's roles.
func (s *Server) permissions(ctx context.Context, u *User) []string {
	var out []string
	for _, name := range u.Roles {
		var perms string
		if err := s.db.QueryRowContext(ctx, `SELECT permissions FROM iam_roles WHERE org = ? AND name = ?`, u.Org, name).Scan(&perms); err != nil {
			continue
		}
		var ps []string
		json.Unmarshal([]byte(perms), &ps)
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

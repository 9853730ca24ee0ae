package iam

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// ApplicationPatch is a partial update of an application: nil fields are
// left unchanged. The client id and org never change; the secret changes
// only through RotateClientSecret.
type ApplicationPatch struct {
	Name           *string   `json:"name,omitempty"`
	DisplayName    *string   `json:"displayName,omitempty"`
	RedirectURIs   *[]string `json:"redirectUris,omitempty"`
	PostLogoutURIs *[]string `json:"postLogoutRedirectUris,omitempty"`
	GrantTypes     *[]string `json:"grantTypes,omitempty"`
	Scopes         *[]string `json:"scopes,omitempty"`
	Audiences      *[]string `json:"audiences,omitempty"`
	// AccessTokenTTL and RefreshTokenTTL are lifetimes in seconds.
	AccessTokenTTL  *int64 `json:"accessTokenTtl,omitempty"`
	RefreshTokenTTL *int64 `json:"refreshTokenTtl,omitempty"`
}

var knownGrants = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode}

func checkURIs(uris []string) error {
	for _, r := range uris {
		u, err := url.Parse(r)
		if err != nil || u.Scheme == "" || u.Fragment != "" {
			return invalidf("invalid redirect URI %q", r)
		}
	}
	return nil
}

// orgApp returns the application clientID of org; one of another org is
// not found (an org admin never learns other orgs' client ids).
func (s *Server) orgApp(ctx context.Context, org, clientID string) (*Application, error) {
	a, err := s.Application(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if a.Org != org {
		return nil, fmt.Errorf("application %q/%q: %w", org, clientID, ErrNotFound)
	}
	return a, nil
}

// UpdateApplication applies p to org's application clientID and returns
// the result.
func (s *Server) UpdateApplication(ctx context.Context, org, clientID string, p ApplicationPatch) (*Application, error) {
	a, err := s.orgApp(ctx, org, clientID)
	if err != nil {
		return nil, fmt.Errorf("update application: %w", err)
	}
	if p.Name != nil {
		if *p.Name == "" {
			return nil, fmt.Errorf("update application: %w", invalidf("name is empty"))
		}
		a.Name = *p.Name
	}
	if p.DisplayName != nil {
		a.DisplayName = *p.DisplayName
	}
	if p.RedirectURIs != nil {
		if err := checkURIs(*p.RedirectURIs); err != nil {
			return nil, fmt.Errorf("update application: %w", err)
		}
		a.RedirectURIs = *p.RedirectURIs
	}
	if p.PostLogoutURIs != nil {
		if err := checkURIs(*p.PostLogoutURIs); err != nil {
			return nil, fmt.Errorf("update application: %w", err)
		}
		a.PostLogoutURIs = *p.PostLogoutURIs
	}
	if p.GrantTypes != nil {
		for _, g := range *p.GrantTypes {
			if !slices.Contains(knownGrants, g) {
				return nil, fmt.Errorf("update application: %w", invalidf("unknown grant type %q", g))
			}
		}
		if len(*p.GrantTypes) == 0 {
			return nil, fmt.Errorf("update application: %w", invalidf("grantTypes is empty"))
		}
		a.GrantTypes = dedupe(*p.GrantTypes)
	}
	if p.Scopes != nil {
		for _, sc := range *p.Scopes {
			if !validPermission(sc) {
				return nil, fmt.Errorf("update application: %w", invalidf("invalid scope %q", sc))
			}
		}
		a.Scopes = dedupe(*p.Scopes)
	}
	if p.Audiences != nil {
		a.Audiences = dedupe(*p.Audiences)
	}
	for _, ttl := range []struct {
		v   *int64
		dst *time.Duration
	}{{p.AccessTokenTTL, &a.AccessTTL}, {p.RefreshTokenTTL, &a.RefreshTTL}} {
		if ttl.v == nil {
			continue
		}
		if *ttl.v < 60 || *ttl.v > 365*24*3600 {
			return nil, fmt.Errorf("update application: %w", invalidf("token lifetimes are 60 s to 1 year"))
		}
		*ttl.dst = time.Duration(*ttl.v) * time.Second
	}
	_, err = s.db.ExecContext(ctx, `UPDATE iam_apps SET name = ?, display_name = ?, redirect_uris = ?, post_logout_uris = ?, grant_types = ?,
		scopes = ?, audiences = ?, access_ttl = ?, refresh_ttl = ? WHERE client_id = ? AND org = ?`,
		a.Name, a.DisplayName, jsonText(a.RedirectURIs), jsonText(a.PostLogoutURIs), jsonText(a.GrantTypes), jsonText(a.Scopes),
		jsonText(a.Audiences), int64(a.AccessTTL/time.Second), int64(a.RefreshTTL/time.Second), clientID, org)
	if s.db.Dialect().IsUniqueViolation(err) {
		return nil, fmt.Errorf("update application: %w", conflictf("org %q has another application called %q", org, a.Name))
	}
	if err != nil {
		return nil, fmt.Errorf("update application %q: %w", clientID, err)
	}
	s.invalidate()
	return a, nil
}

// DeleteApplication deletes org's application clientID and, in the same
// transaction, its codes, device codes and grants: its refresh tokens stop
// working at once and introspection reports its user tokens inactive.
func (s *Server) DeleteApplication(ctx context.Context, org, clientID string) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete application: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM iam_apps WHERE client_id = ? AND org = ?`, clientID, org)
	if err != nil {
		return fmt.Errorf("delete application %q: %w", clientID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete application %q/%q: %w", org, clientID, ErrNotFound)
	}
	for _, q := range []string{
		`DELETE FROM iam_refresh WHERE grant_id IN (SELECT id FROM iam_grants WHERE client_id = ?)`,
		`DELETE FROM iam_grants WHERE client_id = ?`,
		`DELETE FROM iam_codes WHERE client_id = ?`,
		`DELETE FROM iam_devices WHERE client_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, clientID); err != nil {
			return fmt.Errorf("delete application %q: %w", clientID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete application %q: %w", clientID, err)
	}
	s.invalidate()
	return nil
}

// RotateClientSecret gives org's confidential application clientID a new
// random secret and returns it (the only time it is readable: it is stored
// hashed). The old secret stops working at once. A public client has no
// secret to rotate (ErrInvalid).
func (s *Server) RotateClientSecret(ctx context.Context, org, clientID string) (string, error) {
	a, err := s.orgApp(ctx, org, clientID)
	if err != nil {
		return "", fmt.Errorf("rotate client secret: %w", err)
	}
	if a.Public() {
		return "", fmt.Errorf("rotate client secret: %w", invalidf("%q is a public client: it has no secret", clientID))
	}
	secret := randomToken(32)
	res, err := s.db.ExecContext(ctx, `UPDATE iam_apps SET secret_hash = ? WHERE client_id = ? AND org = ? AND secret_hash <> ''`,
		hashSecret(secret), clientID, org)
	if err != nil {
		return "", fmt.Errorf("rotate client secret %q: %w", clientID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("rotate client secret %q/%q: %w", org, clientID, ErrNotFound)
	}
	return secret, nil
}

package iam

import (
	"errors"
	"fmt"
)

// DefaultScope is the scope of user tokens that do not name one.
const DefaultScope = "openid profile email"

// ValidOrg reports whether s is a valid organization name (spec base-v1
// §3): [a-z0-9][a-z0-9_-]{0,62}.
func ValidOrg(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// OrgRole is one membership of a user: an organization and the user's role
// in it (an element of the orgs claim).
type OrgRole struct {
	Org  string `json:"org"`
	Role string `json:"role"`
}

// UserClaims describes the user an access token is minted for. [Map] turns
// it into the claims of spec/iam.md (minus iss, iat, nbf, exp, jti, which
// [DevIssuer.Mint] adds).
type UserClaims struct {
	Subject       string    // sub; required
	Org           string    // owner and organization; required
	Name          string    // name; defaults to Subject
	Email         string    // email; omitted when empty
	EmailVerified bool      // email_verified; only with an email
	Admin         bool      // isAdmin: superuser of Org
	GlobalAdmin   bool      // isGlobalAdmin: platform superuser; omitted when false
	Orgs          []OrgRole // orgs; omitted when empty
	Audience      string    // aud; omitted when empty
	Scope         string    // scope; defaults to DefaultScope
}

// Validate reports whether c can be minted: a subject, valid org names.
func (c UserClaims) Validate() error {
	if c.Subject == "" {
		return errors.New("user claims: subject is required")
	}
	if !ValidOrg(c.Org) {
		return fmt.Errorf("user claims: invalid org %q", c.Org)
	}
	for _, o := range c.Orgs {
		if !ValidOrg(o.Org) {
			return fmt.Errorf("user claims: invalid org %q in orgs", o.Org)
		}
		if o.Role == "" {
			return fmt.Errorf("user claims: empty role for org %q", o.Org)
		}
	}
	return nil
}

// Map returns the claims: sub, owner, organization, name, email and
// email_verified (when an email is set), isAdmin, isGlobalAdmin (only when
// true), orgs as [{org, role}] (when set), aud (when set) and scope.
func (c UserClaims) Map() map[string]any {
	m := map[string]any{
		"sub":          c.Subject,
		"owner":        c.Org,
		"organization": c.Org,
		"name":         c.Name,
		"isAdmin":      c.Admin,
		"scope":        c.Scope,
	}
	if c.Name == "" {
		m["name"] = c.Subject
	}
	if c.Scope == "" {
		m["scope"] = DefaultScope
	}
	if c.Email != "" {
		m["email"] = c.Email
		m["email_verified"] = c.EmailVerified
	}
	if c.GlobalAdmin {
		m["isGlobalAdmin"] = true
	}
	if len(c.Orgs) > 0 {
		orgs := make([]any, len(c.Orgs))
		for i, o := range c.Orgs {
			orgs[i] = map[string]any{"org": o.Org, "role": o.Role}
		}
		m["orgs"] = orgs
	}
	if c.Audience != "" {
		m["aud"] = c.Audience
	}
	return m
}

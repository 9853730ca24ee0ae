package base

import (
	"net"
	"strings"
)

// Tenancy is how a deployment maps requests to organizations.
type Tenancy struct {
	// DefaultOrg is a guest's org when neither host nor X-Org-Id names one.
	DefaultOrg string
	// OrgDomains maps request hosts (lower-case, without port) to orgs for
	// guests.
	OrgDomains map[string]string
}

// BearerToken extracts the token from an Authorization header value: raw
// (as the PocketBase SDK sends it) or with a "Bearer " scheme.
func BearerToken(header string) string {
	h := strings.TrimSpace(header)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// Identify derives a request's identity and org (ARCHITECTURE.md
// "Requests, tenants, identity") from the verified claims of its token
// (nil for a guest or an invalid token), the raw token, its X-Org-Id
// header and its Host. The handler and the realtime hub both use it, so
// they always agree.
//
// A user acts in the token's owner org (else organization, else the part
// of sub before "/"); X-Org-Id may choose another org the orgs claim
// lists (403 otherwise); a platform superuser (isGlobalAdmin, or owner
// built-in/superuser) may choose any org. isAdmin makes the caller a
// superuser of its owner org, and a role admin/owner in orgs of that org.
// A guest's org is the host map, else X-Org-Id, else the default org.
// An invalid org name is a 400.
func (t Tenancy) Identify(claims map[string]any, token, xorg, host string) (*Identity, error) {
	xorg = strings.TrimSpace(xorg)
	sub, _ := claims["sub"].(string)
	if claims == nil || sub == "" {
		org := t.GuestOrg(host, xorg)
		if !ValidOrg(org) {
			return nil, BadRequest("Invalid organization.", nil)
		}
		return &Identity{Org: org}, nil
	}
	owner := claimString(claims, "owner")
	if owner == "" {
		owner = claimString(claims, "organization")
	}
	if owner == "" {
		if i := strings.IndexByte(sub, '/'); i > 0 {
			owner = sub[:i]
		}
	}
	platform := claimBool(claims, "isGlobalAdmin") || owner == "built-in" || owner == "superuser"
	org := owner
	switch {
	case xorg != "" && xorg != owner:
		if !platform && memberRole(claims, xorg) == "" {
			return nil, Forbidden("The token is not a member of the requested organization.")
		}
		org = xorg
	case platform && (owner == "built-in" || owner == "superuser" || owner == ""):
		org = t.DefaultOrg
	case org == "":
		org = t.DefaultOrg
	}
	if !ValidOrg(org) {
		return nil, BadRequest("Invalid organization.", nil)
	}
	role := memberRole(claims, org)
	return &Identity{
		Org: org, Subject: sub, UserID: UserRecordID(sub), Claims: claims, Token: token, Platform: platform,
		Superuser: platform || (org == owner && claimBool(claims, "isAdmin")) || role == "admin" || role == "owner",
	}, nil
}

// GuestOrg picks a guest's org: the host map, then X-Org-Id, then the
// default org. It does not validate the name.
func (t Tenancy) GuestOrg(host, xorg string) string {
	xorg = strings.TrimSpace(xorg)
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	if org, ok := t.OrgDomains[strings.ToLower(host)]; ok {
		return org
	}
	if xorg != "" {
		return xorg
	}
	return t.DefaultOrg
}

// memberRole returns the role of the orgs claim entry for org, "" when the
// token does not list it.
func memberRole(claims map[string]any, org string) string {
	list, _ := claims["orgs"].([]any)
	for _, e := range list {
		switch m := e.(type) {
		case map[string]any:
			if o, _ := m["org"].(string); o == org {
				if role, _ := m["role"].(string); role != "" {
					return role
				}
				return "member"
			}
		case string:
			if m == org {
				return "member"
			}
		}
	}
	return ""
}

func claimString(c map[string]any, k string) string {
	s, _ := c[k].(string)
	return s
}

func claimBool(c map[string]any, k string) bool {
	switch v := c[k].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

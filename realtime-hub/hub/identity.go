package hub

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/hanzoai/base"
)

// This file mirrors handler/identity.go (identity and org resolution of
// ARCHITECTURE.md "Requests, tenants, identity"); the two must agree. It is
// a candidate for a shared package both import.

// bearer extracts the token from an Authorization header, raw or "Bearer ".
func bearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// identify resolves the identity and org of a token presented with an
// X-Org-Id value (xorg) on host.
func (h *Hub) identify(ctx context.Context, token, xorg, host string) (*base.Identity, error) {
	xorg = strings.TrimSpace(xorg)
	id := &base.Identity{}
	var claims map[string]any
	if token != "" && h.cfg.Verifier != nil {
		if c, err := h.cfg.Verifier.Verify(ctx, token); err == nil {
			claims = c
		}
	}
	sub, _ := claims["sub"].(string)
	if claims == nil || sub == "" {
		id.Org = h.guestOrg(host, xorg)
		if !base.ValidOrg(id.Org) {
			return nil, base.BadRequest("Invalid organization.", nil)
		}
		return id, nil
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
			return nil, base.Forbidden("The token is not a member of the requested organization.")
		}
		org = xorg
	case platform && (owner == "built-in" || owner == "superuser" || owner == ""):
		org = h.cfg.DefaultOrg
	case org == "":
		org = h.cfg.DefaultOrg
	}
	if !base.ValidOrg(org) {
		return nil, base.BadRequest("Invalid organization.", nil)
	}
	role := memberRole(claims, org)
	id.Org, id.Subject, id.UserID, id.Claims, id.Token, id.Platform = org, sub, base.UserRecordID(sub), claims, token, platform
	id.Superuser = platform || (org == owner && claimBool(claims, "isAdmin")) || role == "admin" || role == "owner"
	return id, nil
}

// identifyRequest resolves r's identity from its headers.
func (h *Hub) identifyRequest(r *http.Request) (*base.Identity, error) {
	return h.identify(r.Context(), bearer(r.Header.Get("Authorization")), r.Header.Get("X-Org-Id"), r.Host)
}

func (h *Hub) guestOrg(host, xorg string) string {
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	if org, ok := h.cfg.OrgDomains[strings.ToLower(host)]; ok {
		return org
	}
	if xorg != "" {
		return xorg
	}
	return h.cfg.DefaultOrg
}

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

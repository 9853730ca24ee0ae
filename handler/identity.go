package handler

import (
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/hanzoai/base"
)

// bearer extracts the token from an Authorization header: raw (as the
// PocketBase SDK sends it) or with a "Bearer " scheme.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// identify resolves the request's identity and org. A missing or invalid
// token is a guest; a valid token may choose another of its orgs with
// X-Org-Id (403 for an org it does not belong to), a platform superuser any
// org.
func (h *Handler) identify(r *http.Request) (*base.Identity, error) {
	xorg := strings.TrimSpace(r.Header.Get("X-Org-Id"))
	id := &base.Identity{}
	var claims map[string]any
	if tok := bearer(r); tok != "" && h.cfg.Verifier != nil {
		c, err := h.cfg.Verifier.Verify(r.Context(), tok)
		if err != nil {
			h.log.DebugContext(r.Context(), "token rejected; guest request", "err", err)
		} else {
			claims = c
			id.Token = tok
		}
	}
	if claims == nil {
		id.Org = h.guestOrg(r, xorg)
		if !base.ValidOrg(id.Org) {
			return nil, base.BadRequest("Invalid organization.", nil)
		}
		return id, nil
	}

	sub, _ := claims["sub"].(string)
	if sub == "" {
		// A verified token with no subject identifies nobody.
		id.Token = ""
		id.Org = h.guestOrg(r, xorg)
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
	id.Org = org
	id.Subject = sub
	id.UserID = base.UserRecordID(sub)
	id.Claims = claims
	id.Platform = platform
	id.Superuser = platform ||
		(org == owner && claimBool(claims, "isAdmin")) ||
		role == "admin" || role == "owner"
	setLogAttrs(r, slog.String("org", org), slog.String("user", sub))
	return id, nil
}

// guestOrg picks a guest's org: the host map, then X-Org-Id, then the
// default org.
func (h *Handler) guestOrg(r *http.Request, xorg string) string {
	host := r.Host
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

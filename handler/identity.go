package handler

import (
	"log/slog"
	"net/http"

	"github.com/hanzoai/base"
)

// bearer extracts the token from the Authorization header (raw or Bearer).
func bearer(r *http.Request) string { return base.BearerToken(r.Header.Get("Authorization")) }

// identify resolves the request's identity and org (base.Tenancy.Identify).
// A missing or invalid token is a guest; why a token was refused is logged
// at debug level only.
func (h *Handler) identify(r *http.Request) (*base.Identity, error) {
	var claims map[string]any
	tok := bearer(r)
	if tok != "" && h.cfg.Verifier != nil {
		c, err := h.cfg.Verifier.Verify(r.Context(), tok)
		if err != nil {
			h.log.DebugContext(r.Context(), "token rejected; guest request", "err", err)
		} else {
			claims = c
		}
	}
	id, err := h.tenancy().Identify(claims, tok, r.Header.Get("X-Org-Id"), r.Host)
	if err != nil {
		return nil, err
	}
	if !id.Guest() {
		setLogAttrs(r, slog.String("org", id.Org), slog.String("user", id.Subject))
	}
	return id, nil
}

// tenancy is the deployment's org mapping.
func (h *Handler) tenancy() base.Tenancy {
	return base.Tenancy{DefaultOrg: h.cfg.DefaultOrg, OrgDomains: h.cfg.OrgDomains}
}

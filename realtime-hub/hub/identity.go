package hub

import (
	"context"
	"net/http"

	"github.com/hanzoai/base"
)

// bearer extracts the token from an Authorization header, raw or "Bearer ".
func bearer(h string) string { return base.BearerToken(h) }

// identify resolves the identity and org of a token presented with an
// X-Org-Id value (xorg) on host, exactly as the API handler does
// (base.Tenancy.Identify).
func (h *Hub) identify(ctx context.Context, token, xorg, host string) (*base.Identity, error) {
	var claims map[string]any
	if token != "" && h.cfg.Verifier != nil {
		if c, err := h.cfg.Verifier.Verify(ctx, token); err == nil {
			claims = c
		}
	}
	t := base.Tenancy{DefaultOrg: h.cfg.DefaultOrg, OrgDomains: h.cfg.OrgDomains}
	return t.Identify(claims, token, xorg, host)
}

// identifyRequest resolves r's identity from its headers.
func (h *Hub) identifyRequest(r *http.Request) (*base.Identity, error) {
	return h.identify(r.Context(), bearer(r.Header.Get("Authorization")), r.Header.Get("X-Org-Id"), r.Host)
}

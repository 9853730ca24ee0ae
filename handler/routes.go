package handler

import (
	"net/http"

	"github.com/hanzoai/base"
)

// routes registers every route under the configured prefix and the /api
// alias the PocketBase SDK hard-codes.
func (h *Handler) routes() {
	prefixes := []string{h.cfg.Prefix}
	if h.cfg.Prefix != "/api" {
		prefixes = append(prefixes, "/api")
	}
	for _, p := range prefixes {
		m := func(pattern string, fn http.HandlerFunc) {
			method, path, _ := cut(pattern)
			h.mux.HandleFunc(method+" "+p+path, fn)
		}
		m("GET /health", h.health)

		m("GET /collections", h.admin(h.listCollections))
		m("POST /collections", h.admin(h.createCollection))
		m("PUT /collections/import", h.admin(h.importCollections))
		m("GET /collections/meta/scaffolds", h.admin(h.scaffolds))
		m("GET /collections/meta/oauth2-providers", h.admin(h.oauth2Providers))
		m("POST /collections/meta/dry-run-view", h.admin(h.dryRunView))
		m("GET /collections/{c}", h.admin(h.viewCollection))
		m("PATCH /collections/{c}", h.admin(h.updateCollection))
		m("DELETE /collections/{c}", h.admin(h.withCollectionFiles(h.deleteCollection)))
		m("DELETE /collections/{c}/truncate", h.admin(h.withCollectionFiles(h.truncateCollection)))

		m("GET /collections/{c}/records", h.org(h.listRecords))
		m("POST /collections/{c}/records", h.org(h.createRecord))
		m("GET /collections/{c}/records/{id}", h.route(routeView, h.viewRecord))
		m("PATCH /collections/{c}/records/{id}", h.org(h.updateRecord))
		m("DELETE /collections/{c}/records/{id}", h.org(h.deleteRecord))

		m("GET /collections/{c}/auth-methods", h.route(routeSchemaOnly, h.authMethods))
		m("POST /collections/{c}/auth-refresh", h.route(routeSchemaOnly, h.authRefresh))

		m("POST /batch", h.org(h.batch))

		m("GET /files/{c}/{id}/{filename}", h.downloadFile)
		m("POST /files/token", h.fileToken)
		h.cronRoutes(m)
	}
	h.mux.HandleFunc("/", h.notFound)
}

func cut(pattern string) (method, path string, ok bool) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			return pattern[:i], pattern[i+1:], true
		}
	}
	return "", pattern, false
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]any{"code": 200, "message": "API is healthy.", "data": map[string]any{}})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, h.log, base.NotFound(""))
}

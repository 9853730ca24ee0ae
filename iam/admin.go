package iam

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// The admin API (JSON, Bearer access token of this IAM required):
//
//	GET  /v1/iam/admin/orgs                      list orgs (platform admin)
//	POST /v1/iam/admin/orgs                      create an org (platform admin)
//	GET  /v1/iam/admin/orgs/{org}/applications   list (org admin)
//	POST /v1/iam/admin/orgs/{org}/applications   create (org admin)
//	GET  /v1/iam/admin/orgs/{org}/users          list (org admin)
//	POST /v1/iam/admin/orgs/{org}/users          create (org admin)
//	GET  /v1/iam/admin/audit?org=&limit=         audit log (org admin for org, platform admin for all)
//	POST /v1/iam/admin/keys/rotate               rotate the signing key (platform admin)
//
// Responses use the Casdoor envelope {status, msg, data}. Create is
// create-only: an existing name answers 409.

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/iam/admin/orgs", s.admin(true, func(w http.ResponseWriter, r *http.Request) {
		orgs, err := s.Orgs(r.Context())
		s.adminResult(w, orgs, err)
	}))
	mux.HandleFunc("POST /v1/iam/admin/orgs", s.admin(true, func(w http.ResponseWriter, r *http.Request) {
		var o Org
		if !decodeBody(w, r, &o) {
			return
		}
		created, err := s.CreateOrg(r.Context(), o)
		s.adminCreated(w, created, o, err)
	}))
	mux.HandleFunc("GET /v1/iam/admin/orgs/{org}/applications", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		apps, err := s.Applications(r.Context(), r.PathValue("org"))
		s.adminResult(w, apps, err)
	}))
	mux.HandleFunc("POST /v1/iam/admin/orgs/{org}/applications", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var a Application
		if !decodeBody(w, r, &a) {
			return
		}
		a.Org = r.PathValue("org")
		created, err := s.CreateApplication(r.Context(), a)
		a.ClientSecret = ""
		s.adminCreated(w, created, a, err)
	}))
	mux.HandleFunc("GET /v1/iam/admin/orgs/{org}/users", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		users, err := s.Users(r.Context(), r.PathValue("org"))
		s.adminResult(w, users, err)
	}))
	mux.HandleFunc("POST /v1/iam/admin/orgs/{org}/users", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var u User
		if !decodeBody(w, r, &u) {
			return
		}
		u.Org = r.PathValue("org")
		if u.IsGlobalAdmin && !isGlobal(r) {
			envelope(w, 403, false, "Only platform admins can create platform admins.", nil)
			return
		}
		created, err := s.CreateUser(r.Context(), u)
		u.Password = ""
		s.adminCreated(w, created, u, err)
	}))
	mux.HandleFunc("GET /v1/iam/admin/audit", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		s.FlushAudit(r.Context())
		entries, err := s.Audit(r.Context(), r.URL.Query().Get("org"), limit)
		s.adminResult(w, entries, err)
	}))
	mux.HandleFunc("POST /v1/iam/admin/keys/rotate", s.admin(true, func(w http.ResponseWriter, r *http.Request) {
		kid, err := s.RotateKey(r.Context())
		s.adminResult(w, map[string]string{"kid": kid}, err)
	}))
}

type adminCtxKey struct{}

func isGlobal(r *http.Request) bool {
	c, _ := r.Context().Value(adminCtxKey{}).(map[string]any)
	g, _ := c["isGlobalAdmin"].(bool)
	return g
}

// admin authorizes an admin request: a live access token of a platform
// admin, or (unless global) an admin of the org named by the path or the
// org query parameter.
func (s *Server) admin(global bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		claims, err := s.activeAccess(r.Context(), bearer(r))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="iam"`)
			envelope(w, 401, false, "An admin access token is required.", nil)
			return
		}
		g, _ := claims["isGlobalAdmin"].(bool)
		adm, _ := claims["isAdmin"].(bool)
		owner, _ := claims["owner"].(string)
		org := r.PathValue("org")
		if org == "" {
			org = r.URL.Query().Get("org")
		}
		if !g && (global || !adm || org == "" || org != owner) {
			envelope(w, 403, false, "You are not an admin of this organization.", nil)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), adminCtxKey{}, claims))
		h(w, r)
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		envelope(w, 400, false, "Invalid JSON body: "+err.Error(), nil)
		return false
	}
	return true
}

func (s *Server) adminResult(w http.ResponseWriter, data any, err error) {
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			envelope(w, 404, false, "Not found.", nil)
			return
		}
		s.log.Error("iam: admin", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	envelope(w, 200, true, "", data)
}

func (s *Server) adminCreated(w http.ResponseWriter, created bool, data any, err error) {
	switch {
	case err != nil && errors.Is(err, ErrNotFound):
		envelope(w, 404, false, err.Error(), nil)
	case err != nil:
		envelope(w, 400, false, err.Error(), nil)
	case !created:
		envelope(w, 409, false, "It already exists.", nil)
	default:
		envelope(w, 201, true, "", data)
	}
}

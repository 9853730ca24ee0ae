package iam

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// The admin API (JSON, Bearer access token of this IAM required; no token
// or a dead one → 401, not an admin of the org → 403). Platform admins
// (isGlobalAdmin) may do everything; an org admin (isAdmin) only what is
// under its own org, and never to a platform admin user, nor grant
// platform admin or memberships in other orgs.
//
//	GET    /v1/iam/admin/orgs                        list orgs (platform admin)
//	POST   /v1/iam/admin/orgs                        create an org (platform admin)
//	GET    /v1/iam/admin/orgs/{org}                  read (org admin)
//	PATCH  /v1/iam/admin/orgs/{org}                  update (org admin; domains: platform admin)
//	DELETE /v1/iam/admin/orgs/{org}                  delete with everything it owns (platform admin)
//	GET    /v1/iam/admin/orgs/{org}/applications     list (org admin)
//	POST   /v1/iam/admin/orgs/{org}/applications     create (org admin)
//	GET    /v1/iam/admin/orgs/{org}/applications/{clientId}          read
//	PATCH  /v1/iam/admin/orgs/{org}/applications/{clientId}          update
//	DELETE /v1/iam/admin/orgs/{org}/applications/{clientId}          delete (its tokens die)
//	POST   /v1/iam/admin/orgs/{org}/applications/{clientId}/secret   rotate the client secret → {clientSecret}
//	GET    /v1/iam/admin/orgs/{org}/users            list (org admin)
//	POST   /v1/iam/admin/orgs/{org}/users            create (org admin)
//	GET    /v1/iam/admin/orgs/{org}/users/{user}     read
//	PATCH  /v1/iam/admin/orgs/{org}/users/{user}     update; {"disabled":true} disables
//	DELETE /v1/iam/admin/orgs/{org}/users/{user}     delete (its tokens die)
//	POST   /v1/iam/admin/orgs/{org}/users/{user}/password           {password}: reset (its tokens die)
//	PUT    /v1/iam/admin/orgs/{org}/users/{user}/roles/{role}       assign a role
//	DELETE /v1/iam/admin/orgs/{org}/users/{user}/roles/{role}       take a role away
//	GET    /v1/iam/admin/orgs/{org}/roles            list roles (org admin)
//	POST   /v1/iam/admin/orgs/{org}/roles            create {name, permissions}
//	GET    /v1/iam/admin/orgs/{org}/roles/{role}     read
//	PATCH  /v1/iam/admin/orgs/{org}/roles/{role}     {permissions}: replace
//	DELETE /v1/iam/admin/orgs/{org}/roles/{role}     delete (taken from its users)
//	GET    /v1/iam/admin/audit?org=&limit=           audit log (org admin for org, platform admin for all)
//	POST   /v1/iam/admin/keys/rotate                 rotate the signing key (platform admin)
//
// Responses use the Casdoor envelope {status, msg, data}. Create is
// create-only: an existing name answers 409. Every change writes an audit
// row (event "admin.<what>.<verb>", user = the admin's subject).

func (s *Server) adminRoutes(mux *http.ServeMux) {
	const orgP = "/v1/iam/admin/orgs/{org}"
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
		if err == nil && created {
			s.adminAudit(r, "org.create", o.Name, "")
		}
		s.adminCreated(w, created, o, err)
	}))
	mux.HandleFunc("GET "+orgP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		o, err := s.Org(r.Context(), r.PathValue("org"))
		s.adminResult(w, o, err)
	}))
	mux.HandleFunc("PATCH "+orgP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var p OrgPatch
		if !decodeBody(w, r, &p) {
			return
		}
		if p.Domains != nil && !isGlobal(r) {
			envelope(w, 403, false, "Only platform admins can change an organization's domains.", nil)
			return
		}
		o, err := s.UpdateOrg(r.Context(), r.PathValue("org"), p)
		s.adminChanged(w, r, "org.update", r.PathValue("org"), "", o, err)
	}))
	mux.HandleFunc("DELETE "+orgP, s.admin(true, func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		s.adminChanged(w, r, "org.delete", org, "", nil, s.DeleteOrg(r.Context(), org))
	}))

	mux.HandleFunc("GET "+orgP+"/applications", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		apps, err := s.Applications(r.Context(), r.PathValue("org"))
		s.adminResult(w, apps, err)
	}))
	mux.HandleFunc("POST "+orgP+"/applications", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var a Application
		if !decodeBody(w, r, &a) {
			return
		}
		a.Org = r.PathValue("org")
		created, err := s.CreateApplication(r.Context(), a)
		a.ClientSecret = ""
		if err == nil && created {
			s.adminAudit(r, "application.create", a.Org, "application="+a.ClientID)
		}
		s.adminCreated(w, created, a, err)
	}))
	const appP = orgP + "/applications/{client}"
	mux.HandleFunc("GET "+appP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		a, err := s.orgApp(r.Context(), r.PathValue("org"), r.PathValue("client"))
		s.adminResult(w, a, err)
	}))
	mux.HandleFunc("PATCH "+appP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var p ApplicationPatch
		if !decodeBody(w, r, &p) {
			return
		}
		a, err := s.UpdateApplication(r.Context(), r.PathValue("org"), r.PathValue("client"), p)
		s.adminChanged(w, r, "application.update", r.PathValue("org"), "application="+r.PathValue("client"), a, err)
	}))
	mux.HandleFunc("DELETE "+appP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		err := s.DeleteApplication(r.Context(), r.PathValue("org"), r.PathValue("client"))
		s.adminChanged(w, r, "application.delete", r.PathValue("org"), "application="+r.PathValue("client"), nil, err)
	}))
	mux.HandleFunc("POST "+appP+"/secret", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		secret, err := s.RotateClientSecret(r.Context(), r.PathValue("org"), r.PathValue("client"))
		s.adminChanged(w, r, "application.secret", r.PathValue("org"), "application="+r.PathValue("client"),
			map[string]string{"clientId": r.PathValue("client"), "clientSecret": secret}, err)
	}))

	mux.HandleFunc("GET "+orgP+"/users", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		users, err := s.Users(r.Context(), r.PathValue("org"))
		out := make([]adminUser, len(users))
		for i := range users {
			out[i] = viewUser(&users[i])
		}
		s.adminResult(w, out, err)
	}))
	mux.HandleFunc("POST "+orgP+"/users", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var u User
		if !decodeBody(w, r, &u) {
			return
		}
		u.Org = r.PathValue("org")
		if (u.IsGlobalAdmin || len(u.Orgs) > 0) && !isGlobal(r) {
			envelope(w, 403, false, "Only platform admins can create platform admins or grant memberships in other organizations.", nil)
			return
		}
		if u.Roles != nil {
			if err := checkRoles(r.Context(), s.db, u.Org, u.Roles); err != nil {
				s.adminError(w, err)
				return
			}
		}
		created, err := s.CreateUser(r.Context(), u)
		u.Password = ""
		if err == nil && created {
			s.adminAudit(r, "user.create", u.Org, "user="+u.Username)
		}
		s.adminCreated(w, created, u, err)
	}))
	const userP = orgP + "/users/{user}"
	mux.HandleFunc("GET "+userP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		u, err := s.User(r.Context(), r.PathValue("org"), r.PathValue("user"))
		if err != nil {
			s.adminResult(w, nil, err)
			return
		}
		s.adminResult(w, viewUser(u), nil)
	}))
	mux.HandleFunc("PATCH "+userP, s.adminUser(func(w http.ResponseWriter, r *http.Request, org, name string) {
		var p UserPatch
		if !decodeBody(w, r, &p) {
			return
		}
		if (p.IsGlobalAdmin != nil || p.Orgs != nil) && !isGlobal(r) {
			envelope(w, 403, false, "Only platform admins can change platform admin rights or memberships in other organizations.", nil)
			return
		}
		u, err := s.UpdateUser(r.Context(), org, name, p)
		var view any
		if u != nil {
			view = viewUser(u)
		}
		detail := "user=" + name
		if p.Disabled != nil {
			detail += " disabled=" + strconv.FormatBool(*p.Disabled)
		}
		s.adminChanged(w, r, "user.update", org, detail, view, err)
	}))
	mux.HandleFunc("DELETE "+userP, s.adminUser(func(w http.ResponseWriter, r *http.Request, org, name string) {
		s.adminChanged(w, r, "user.delete", org, "user="+name, nil, s.DeleteUser(r.Context(), org, name))
	}))
	mux.HandleFunc("POST "+userP+"/password", s.adminUser(func(w http.ResponseWriter, r *http.Request, org, name string) {
		var req struct {
			Password string `json:"password"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		s.adminChanged(w, r, "user.password_reset", org, "user="+name, nil, s.ResetPassword(r.Context(), org, name, req.Password))
	}))
	mux.HandleFunc("PUT "+userP+"/roles/{role}", s.adminUser(func(w http.ResponseWriter, r *http.Request, org, name string) {
		err := s.AssignRole(r.Context(), org, name, r.PathValue("role"))
		s.adminChanged(w, r, "role.assign", org, "user="+name+" role="+r.PathValue("role"), nil, err)
	}))
	mux.HandleFunc("DELETE "+userP+"/roles/{role}", s.adminUser(func(w http.ResponseWriter, r *http.Request, org, name string) {
		err := s.UnassignRole(r.Context(), org, name, r.PathValue("role"))
		s.adminChanged(w, r, "role.unassign", org, "user="+name+" role="+r.PathValue("role"), nil, err)
	}))

	mux.HandleFunc("GET "+orgP+"/roles", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		roles, err := s.Roles(r.Context(), r.PathValue("org"))
		s.adminResult(w, roles, err)
	}))
	mux.HandleFunc("POST "+orgP+"/roles", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var ro Role
		if !decodeBody(w, r, &ro) {
			return
		}
		ro.Org = r.PathValue("org")
		ro.Permissions = dedupe(ro.Permissions)
		if err := checkRole(ro); err != nil {
			s.adminError(w, err)
			return
		}
		created, err := s.CreateRole(r.Context(), ro)
		if err == nil && created {
			s.adminAudit(r, "role.create", ro.Org, "role="+ro.Name)
		}
		s.adminCreated(w, created, ro, err)
	}))
	const roleP = orgP + "/roles/{role}"
	mux.HandleFunc("GET "+roleP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		ro, err := s.Role(r.Context(), r.PathValue("org"), r.PathValue("role"))
		s.adminResult(w, ro, err)
	}))
	mux.HandleFunc("PATCH "+roleP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Permissions []string `json:"permissions"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		ro, err := s.UpdateRole(r.Context(), r.PathValue("org"), r.PathValue("role"), req.Permissions)
		s.adminChanged(w, r, "role.update", r.PathValue("org"), "role="+r.PathValue("role"), ro, err)
	}))
	mux.HandleFunc("DELETE "+roleP, s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		err := s.DeleteRole(r.Context(), r.PathValue("org"), r.PathValue("role"))
		s.adminChanged(w, r, "role.delete", r.PathValue("org"), "role="+r.PathValue("role"), nil, err)
	}))

	mux.HandleFunc("GET /v1/iam/admin/audit", s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		s.FlushAudit(r.Context())
		entries, err := s.Audit(r.Context(), r.URL.Query().Get("org"), limit)
		s.adminResult(w, entries, err)
	}))
	mux.HandleFunc("POST /v1/iam/admin/keys/rotate", s.admin(true, func(w http.ResponseWriter, r *http.Request) {
		kid, err := s.RotateKey(r.Context())
		s.adminChanged(w, r, "key.rotate", "", "kid="+kid, map[string]string{"kid": kid}, err)
	}))
	if s.cfg.BalanceAPI {
		s.balanceRoutes(mux)
	}
}

// adminUser is a user as the admin API shows it.
type adminUser struct {
	User
	Disabled bool    `json:"disabled"`
	Balance  float64 `json:"balance"`
}

func viewUser(u *User) adminUser {
	return adminUser{User: *u, Disabled: u.Disabled(), Balance: fromCents(u.BalanceCents)}
}

// adminUser authorizes a change to the user of the path: an org admin may
// not change a platform admin (that would let it take over the platform).
func (s *Server) adminUser(h func(w http.ResponseWriter, r *http.Request, org, name string)) http.HandlerFunc {
	return s.admin(false, func(w http.ResponseWriter, r *http.Request) {
		org, name := r.PathValue("org"), r.PathValue("user")
		if !isGlobal(r) {
			u, err := s.User(r.Context(), org, name)
			if err != nil {
				s.adminError(w, err)
				return
			}
			if u.IsGlobalAdmin {
				envelope(w, 403, false, "Only platform admins can change a platform admin.", nil)
				return
			}
		}
		h(w, r, org, name)
	})
}

// adminAudit records an admin change made by the request's admin.
func (s *Server) adminAudit(r *http.Request, what, org, detail string) {
	c, _ := r.Context().Value(adminCtxKey{}).(map[string]any)
	s.adminAuditClaims(r, c, what, org, detail)
}

func (s *Server) adminAuditClaims(r *http.Request, claims map[string]any, what, org, detail string) {
	ev := requestEvent(r)
	ev.Event, ev.Result, ev.Org, ev.Detail = "admin."+what, "ok", org, detail
	ev.Username, _ = claims["sub"].(string)
	ev.ClientID, _ = claims["client_id"].(string)
	s.audit(ev)
}

// adminChanged answers a change: data on success (with an audit row), else
// the error's status.
func (s *Server) adminChanged(w http.ResponseWriter, r *http.Request, what, org, detail string, data any, err error) {
	if err != nil {
		s.adminError(w, err)
		return
	}
	s.adminAudit(r, what, org, detail)
	envelope(w, 200, true, "", data)
}

// adminError answers err: 404, 400 (ErrInvalid, with its message), 409
// (ErrConflict), else 500 with the details only in the log.
func (s *Server) adminError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		envelope(w, 404, false, "Not found.", nil)
	case errors.Is(err, ErrInvalid):
		envelope(w, 400, false, err.Error(), nil)
	case errors.Is(err, ErrConflict):
		envelope(w, 409, false, err.Error(), nil)
	default:
		s.log.Error("iam: admin", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
	}
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

// adminCreated answers a create: 201, 409 when it existed, else the error
// as adminError maps it (internal errors masked).
func (s *Server) adminCreated(w http.ResponseWriter, created bool, data any, err error) {
	switch {
	case err != nil:
		s.adminError(w, err)
	case !created:
		envelope(w, 409, false, "It already exists.", nil)
	default:
		envelope(w, 201, true, "", data)
	}
}

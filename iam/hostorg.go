package iam

import (
	"errors"
	"net/http"
	"strings"
)

// The org of a request is its application's (client_id); without one, the
// org whose domains list the request's Host (spec/iam.md "Tenancy"). The
// login page, the login API, the device page and the password API resolve
// it so; the org's domains are set by platform admins only (see the admin
// API), since they decide whose login page a host shows.

// hostOrgName is the name of the org the Host header names, or "".
func (s *Server) hostOrgName(r *http.Request) string {
	if o := s.hostOrg(r); o != nil {
		return o.Name
	}
	return ""
}

// hostSignIn serves an authorization request without client_id on a host
// of an org: the org's branded login page, which starts an SSO session
// for the org (applications of the org then sign the user in at once). It
// reports false, doing nothing, when the Host names no org.
func (s *Server) hostSignIn(w http.ResponseWriter, r *http.Request) bool {
	org := s.hostOrg(r)
	if org == nil {
		return false
	}
	ctx := r.Context()
	name := org.DisplayName
	if name == "" {
		name = org.Name
	}
	p := page{Title: "Sign in", Subtitle: "to " + name, Form: true, Action: PathAuthorize, Submit: "Sign in"}
	brand(&p, org)
	signedIn := func(u *User) {
		p.Form, p.Title, p.Subtitle = false, "Signed in", name
		p.Message = "You are signed in as " + u.Username + "."
		renderPage(w, http.StatusOK, p)
	}
	if r.Method != http.MethodPost {
		if sess, u := s.currentSession(ctx, r, org.Name); sess != nil && s.sessionSatisfiesPolicy(ctx, u) {
			signedIn(u)
			return true
		}
		renderPage(w, http.StatusOK, p)
		return true
	}
	p.Username = strings.TrimSpace(r.PostForm.Get("username"))
	u, err := s.authenticate(ctx, org.Name, p.Username, r.PostForm.Get("password"), requestEvent(r))
	if err == nil {
		err = s.passwordSuffices(ctx, u)
	}
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, errSecondFactor):
		// The second factor is bound to an application's sign-in.
		status = http.StatusForbidden
		p.Error = "This account needs a passkey: sign in from an application of " + name + "."
	default:
		status = s.signInFailure(w, &p, err, "iam: host sign-in")
	}
	if status != http.StatusOK {
		renderPage(w, status, p)
		return true
	}
	if _, err := s.startSession(ctx, w, r, u, amrPassword); err != nil {
		s.log.Error("iam: host sign-in", "err", err)
		errorPage(w, http.StatusInternalServerError, org, "Something went wrong while processing your request.")
		return true
	}
	signedIn(u)
	return true
}

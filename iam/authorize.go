package iam

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// sessionCookie is the SSO session cookie.
const sessionCookie = "iam_session"

// authzRequest is an authorization request (RFC 6749 §4.1.1 + PKCE).
type authzRequest struct {
	ClientID, RedirectURI, ResponseType, Scope, State, Nonce string
	Challenge, Method, Prompt                                string
}

// first returns the first non-empty value of the keys in v.
func first(v url.Values, keys ...string) string {
	for _, k := range keys {
		if s := v.Get(k); s != "" {
			return s
		}
	}
	return ""
}

func parseAuthz(v url.Values) authzRequest {
	return authzRequest{
		ClientID:     first(v, "client_id", "clientId"),
		RedirectURI:  first(v, "redirect_uri", "redirectUri"),
		ResponseType: first(v, "response_type", "responseType"),
		Scope:        v.Get("scope"),
		State:        v.Get("state"),
		Nonce:        v.Get("nonce"),
		Challenge:    first(v, "code_challenge", "codeChallenge"),
		Method:       first(v, "code_challenge_method", "codeChallengeMethod"),
		Prompt:       v.Get("prompt"),
	}
}

func (a authzRequest) hidden() map[string]string {
	m := map[string]string{"client_id": a.ClientID, "redirect_uri": a.RedirectURI, "response_type": a.ResponseType,
		"scope": a.Scope, "state": a.State, "nonce": a.Nonce, "code_challenge": a.Challenge, "code_challenge_method": a.Method}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// authzFailure is a failed authorization request: redirect reports whether
// the error may be sent to the redirect URI (RFC 6749 §4.1.2.1).
type authzFailure struct {
	redirect bool
	err      *oauthError
}

// checkAuthz validates a against its application. The returned scope is the
// effective scope.
func (s *Server) checkAuthz(ctx context.Context, a authzRequest) (*Application, string, *authzFailure, error) {
	if a.ClientID == "" {
		return nil, "", &authzFailure{err: oerr(400, "invalid_request", "client_id is required.")}, nil
	}
	app, err := s.Application(ctx, a.ClientID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", &authzFailure{err: oerr(400, "invalid_client", "Unknown client_id.")}, nil
	}
	if err != nil {
		return nil, "", nil, err
	}
	if !app.redirectAllowed(a.RedirectURI) {
		return app, "", &authzFailure{err: oerr(400, "invalid_request", "The redirect_uri is missing or not registered for this application.")}, nil
	}
	fail := func(code, desc string) (*Application, string, *authzFailure, error) {
		return app, "", &authzFailure{redirect: true, err: oerr(400, code, desc)}, nil
	}
	if a.ResponseType != "code" {
		return fail("unsupported_response_type", "Only response_type=code is supported.")
	}
	if !app.allows(GrantAuthorizationCode) {
		return fail("unauthorized_client", "This application may not use the authorization code flow.")
	}
	if a.Challenge != "" || a.Method != "" {
		if a.Method != "S256" {
			return fail("invalid_request", "code_challenge_method must be S256.")
		}
		if !validPKCE(a.Challenge) {
			return fail("invalid_request", "code_challenge is malformed.")
		}
	} else if app.Public() {
		return fail("invalid_request", "PKCE (code_challenge with S256) is required for public clients.")
	}
	scope, oe := effectiveScope(app, a.Scope, true)
	if oe != nil {
		return fail(oe.Code, oe.Description)
	}
	return app, scope, nil, nil
}

// validPKCE reports whether s is a PKCE verifier or S256 challenge: 43–128
// characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
func validPKCE(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// effectiveScope checks requested against the application's scopes. An
// empty request means the application's scopes (for user flows: those of
// "openid profile email offline_access" it has).
func effectiveScope(app *Application, requested string, user bool) (string, *oauthError) {
	req := strings.Fields(requested)
	if len(req) == 0 {
		for _, sc := range app.Scopes {
			if !user && (sc == "openid" || sc == "offline_access") {
				continue
			}
			req = append(req, sc)
		}
	}
	var out []string
	for _, sc := range req {
		if !slices.Contains(app.Scopes, sc) {
			return "", oerr(400, "invalid_scope", fmt.Sprintf("Scope %q is not allowed for this application.", sc))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), nil
}

// redirectWith returns redirectURI with params added to its query.
func redirectWith(redirectURI string, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, a authzRequest, oe *oauthError) {
	http.Redirect(w, r, redirectWith(a.RedirectURI, url.Values{
		"error": {oe.Code}, "error_description": {oe.Description}, "state": {a.State}, "iss": {s.issuer},
	}), http.StatusFound)
}

// handleAuthorize serves GET /v1/iam/oauth/authorize (the login page, or an
// immediate redirect with a code when an SSO session exists) and POST (the
// login form).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			errorPage(w, 400, nil, "The form could not be read.")
			return
		}
	}
	var a authzRequest
	if r.Method == http.MethodPost {
		a = parseAuthz(r.PostForm)
	} else {
		a = parseAuthz(r.URL.Query())
	}
	if a.ClientID == "" && s.hostSignIn(w, r) { // no application: the Host's org
		return
	}
	app, scope, fail, err := s.checkAuthz(ctx, a)
	if err != nil {
		s.log.Error("iam: authorize", "err", err)
		errorPage(w, 500, nil, "Something went wrong while processing your request.")
		return
	}
	var org *Org
	if app != nil {
		org, _ = s.Org(ctx, app.Org)
	}
	if fail != nil {
		if fail.redirect {
			s.redirectError(w, r, a, fail.err)
			return
		}
		errorPage(w, fail.err.Status, org, fail.err.Description)
		return
	}
	ev := requestEvent(r)
	ev.ClientID = app.ClientID

	if r.Method == http.MethodPost {
		username := strings.TrimSpace(r.PostForm.Get("username"))
		u, err := s.authenticate(ctx, app.Org, username, r.PostForm.Get("password"), ev)
		if err != nil {
			s.loginPage(w, r, a, app, org, username, err)
			return
		}
		step, err := s.secondFactor(ctx, u)
		if err == nil && step != "" {
			err = s.startMFA(ctx, w, r, u, step, "", a)
		}
		if err != nil {
			s.log.Error("iam: second factor", "err", err)
			errorPage(w, 500, org, "Something went wrong while processing your request.")
			return
		}
		if step != "" {
			s.mfaPage(w, r, app, org, step)
			return
		}
		sessHash, err := s.startSession(ctx, w, r, u, amrPassword)
		if err != nil {
			s.log.Error("iam: start session", "err", err)
			errorPage(w, 500, org, "Something went wrong while processing your request.")
			return
		}
		s.finishAuthorize(w, r, a, app, u, scope, sessHash, s.now().Unix(), amrPassword, http.StatusSeeOther)
		return
	}

	if a.Prompt != "login" {
		if sess, u := s.currentSession(ctx, r, app.Org); sess != nil && s.sessionSatisfiesPolicy(ctx, u) {
			s.finishAuthorize(w, r, a, app, u, scope, sess.hash, sess.authTime, sess.amr, http.StatusFound)
			return
		}
	}
	if a.Prompt == "none" {
		s.redirectError(w, r, a, oerr(400, "login_required", "The user is not signed in."))
		return
	}
	s.loginPage(w, r, a, app, org, "", nil)
}

// loginPage renders the branded login form (401 after a failure, 429 while
// throttled).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, a authzRequest, app *Application, org *Org, username string, loginErr error) {
	p := page{Title: "Sign in", Subtitle: "to continue to " + titleOf(app), Form: true, Action: PathAuthorize,
		Hidden: a.hidden(), Username: username, Submit: "Sign in"}
	brand(&p, org)
	if s.webauthnAvailable() {
		q := url.Values{}
		for k, v := range a.hidden() {
			q.Set(k, v)
		}
		p.WebAuthn = &webauthnButton{Label: "Sign in with a passkey", Begin: PathWebAuthnLoginBegin + "?" + q.Encode(), Finish: PathWebAuthnLoginFinish}
	}
	status := http.StatusOK
	if loginErr != nil {
		status = s.signInFailure(w, &p, loginErr, "iam: login")
	}
	renderPage(w, status, p)
}

// signInFailure puts the message of a failed password sign-in on p and
// returns the page's status: 429 with Retry-After while throttled, 401 for
// wrong credentials, else 500 (logged under op).
func (s *Server) signInFailure(w http.ResponseWriter, p *page, err error, op string) int {
	var th *errThrottled
	switch {
	case errors.As(err, &th):
		w.Header().Set("Retry-After", fmt.Sprint(int(th.retryAfter.Seconds())))
		p.Error = "Too many failed sign-in attempts. Try again later."
		return http.StatusTooManyRequests
	case errors.Is(err, errBadCredentials):
		p.Error = "Invalid username or password."
		return http.StatusUnauthorized
	}
	s.log.Error(op, "err", err)
	p.Error = "Something went wrong while processing your request."
	return http.StatusInternalServerError
}

// finishAuthorize issues a code and redirects to the client.
func (s *Server) finishAuthorize(w http.ResponseWriter, r *http.Request, a authzRequest, app *Application, u *User, scope, sessHash string, authTime int64, amr string, status int) {
	code, err := s.issueCode(r.Context(), a, app, u, scope, sessHash, authTime, amr)
	if err != nil {
		s.log.Error("iam: issue code", "err", err)
		errorPage(w, 500, nil, "Something went wrong while processing your request.")
		return
	}
	http.Redirect(w, r, redirectWith(a.RedirectURI, url.Values{"code": {code}, "state": {a.State}, "iss": {s.issuer}}), status)
}

// issueCode stores a single-use authorization code bound to the request;
// amr is how the user authenticated (see amrOf).
func (s *Server) issueCode(ctx context.Context, a authzRequest, app *Application, u *User, scope, sessHash string, authTime int64, amr string) (string, error) {
	code := randomToken(32)
	_, err := s.db.ExecContext(ctx, `INSERT INTO iam_codes (code_hash, client_id, org, username, redirect_uri, scope, nonce, challenge, session_hash, auth_time, expires, amr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tokenHash(code), app.ClientID, u.Org, u.Username, a.RedirectURI, scope, a.Nonce, a.Challenge, sessHash, authTime,
		s.now().Add(s.cfg.CodeTTL).Unix(), amr)
	if err != nil {
		return "", fmt.Errorf("issue code: %w", err)
	}
	return code, nil
}

// session is an SSO session.
type session struct {
	hash     string
	org      string
	username string
	authTime int64
	amr      string // RFC 8176 methods, space-separated
}

// startSession creates an SSO session for u, who authenticated by amr
// (see amrOf), and sets its cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u *User, amr string) (string, error) {
	if u.Disabled() { // every sign-in path ends here, passkeys included
		return "", errUserDisabled
	}
	id := randomToken(32)
	now := s.now()
	h := tokenHash(id)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO iam_sessions (id_hash, org, username, auth_time, expires, amr) VALUES (?, ?, ?, ?, ?, ?)`,
		h, u.Org, u.Username, now.Unix(), now.Add(s.cfg.SessionTTL).Unix(), amr); err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/v1/iam/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SessionTTL.Seconds())})
	return h, nil
}

func (s *Server) secure(r *http.Request) bool {
	return s.cfg.SecureCookies || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// currentSession returns the request's live SSO session for org and its
// user, or nils.
func (s *Server) currentSession(ctx context.Context, r *http.Request, org string) (*session, *User) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess := session{hash: tokenHash(c.Value)}
	var expires int64
	var revoked int
	err = s.db.QueryRowContext(ctx, `SELECT org, username, auth_time, expires, revoked, amr FROM iam_sessions WHERE id_hash = ?`, sess.hash).
		Scan(&sess.org, &sess.username, &sess.authTime, &expires, &revoked, &sess.amr)
	if err != nil || revoked != 0 || expires <= s.now().Unix() || (org != "" && sess.org != org) {
		return nil, nil
	}
	u, err := s.User(ctx, sess.org, sess.username)
	if err != nil {
		return nil, nil
	}
	return &sess, u
}

// endSession revokes the request's session (and every grant issued in it)
// and clears the cookie.
func (s *Server) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/v1/iam/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: -1, Expires: time.Unix(0, 0)})
	if err != nil || c.Value == "" {
		return nil
	}
	h := tokenHash(c.Value)
	var sess session
	if err := s.db.QueryRowContext(ctx, `SELECT org, username FROM iam_sessions WHERE id_hash = ?`, h).Scan(&sess.org, &sess.username); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			s.log.Error("iam: end session", "err", err)
		}
		return nil
	}
	sess.hash = h
	tx, err := s.db.Begin(ctx)
	if err != nil {
		s.log.Error("iam: end session", "err", err)
		return &sess
	}
	defer tx.Rollback()
	tx.ExecContext(ctx, `UPDATE iam_sessions SET revoked = 1 WHERE id_hash = ?`, h)
	tx.ExecContext(ctx, `UPDATE iam_grants SET revoked = 1 WHERE session_hash = ?`, h)
	if err := tx.Commit(); err != nil {
		s.log.Error("iam: end session", "err", err)
	}
	return &sess
}

// loginRequest is the body of POST /v1/iam/login (the Casdoor-compatible
// login API of the login page).
type loginRequest struct {
	Type         string `json:"type"`
	Application  string `json:"application"`
	Organization string `json:"organization"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

// envelope writes the Casdoor envelope {status, msg, data}.
func envelope(w http.ResponseWriter, status int, ok bool, msg string, data any) {
	st := "ok"
	if !ok {
		st = "error"
	}
	writeJSON(w, status, map[string]any{"status": st, "msg": msg, "data": data})
}

// handleLoginAPI serves POST /v1/iam/login. type "code": authenticates and
// returns an authorization code bound to the OAuth parameters (and PKCE
// challenge) of the query string; type "login": only starts the SSO
// session. Either way the SSO session cookie is set.
func (s *Server) handleLoginAPI(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "POST, OPTIONS") {
		return
	}
	ctx := r.Context()
	var req loginRequest
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		envelope(w, 400, false, "The request body must be a JSON object.", nil)
		return
	}
	a := parseAuthz(r.URL.Query())
	if req.Type == "" {
		req.Type = "code"
	}
	var app *Application
	var err error
	if a.ClientID == "" && req.Organization == "" {
		req.Organization = s.hostOrgName(r) // no application: the Host's org
	}
	switch {
	case a.ClientID != "":
		app, err = s.Application(ctx, a.ClientID)
	case req.Organization != "" && req.Application != "":
		app, err = s.applicationByName(ctx, req.Organization, req.Application)
		if err == nil {
			a.ClientID = app.ClientID
		}
	default:
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		envelope(w, 400, false, "Unknown application.", nil)
		return
	}
	if err != nil {
		s.log.Error("iam: login api", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	if req.Organization != "" && req.Organization != app.Org {
		envelope(w, 400, false, "The application does not belong to this organization.", nil)
		return
	}
	scope := ""
	if req.Type == "code" {
		var fail *authzFailure
		_, scope, fail, err = s.checkAuthz(ctx, a)
		if err != nil {
			s.log.Error("iam: login api", "err", err)
			envelope(w, 500, false, "Something went wrong while processing your request.", nil)
			return
		}
		if fail != nil {
			writeJSON(w, 400, map[string]any{"status": "error", "msg": fail.err.Description, "data": nil,
				"error": fail.err.Code, "error_description": fail.err.Description})
			return
		}
	} else if req.Type != "login" {
		envelope(w, 400, false, "Unsupported login type.", nil)
		return
	}
	ev := requestEvent(r)
	ev.ClientID = app.ClientID
	u, err := s.authenticate(ctx, app.Org, strings.TrimSpace(req.Username), req.Password, ev)
	var th *errThrottled
	switch {
	case errors.As(err, &th):
		w.Header().Set("Retry-After", fmt.Sprint(int(th.retryAfter.Seconds())))
		envelope(w, http.StatusTooManyRequests, false, "Too many failed sign-in attempts. Try again later.", nil)
		return
	case errors.Is(err, errBadCredentials):
		envelope(w, http.StatusUnauthorized, false, "Invalid username or password.", nil)
		return
	case err != nil:
		s.log.Error("iam: login api", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	step, err := s.secondFactor(ctx, u)
	if err == nil && step != "" {
		err = s.startMFA(ctx, w, r, u, step, req.Type, a)
	}
	if err != nil {
		s.log.Error("iam: login api", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	if step != "" {
		// The password was right; the login finishes with a passkey
		// through the mfa endpoints (the cookie set above names it).
		envelope(w, http.StatusUnauthorized, false, "A passkey is required to finish signing in.",
			map[string]string{"mfa": step, "begin": PathWebAuthnMFABegin, "finish": PathWebAuthnMFAFinish})
		return
	}
	sessHash, err := s.startSession(ctx, w, r, u, amrPassword)
	if err != nil {
		s.log.Error("iam: login api", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	if req.Type == "login" {
		envelope(w, 200, true, "", u.Subject())
		return
	}
	code, err := s.issueCode(ctx, a, app, u, scope, sessHash, s.now().Unix(), amrPassword)
	if err != nil {
		s.log.Error("iam: login api", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	envelope(w, 200, true, "", code)
}

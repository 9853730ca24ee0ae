package iam

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// discoveryJSON is the discovery document of the IAM.
func (s *Server) discoveryJSON() []byte {
	base := s.issuer
	doc := map[string]any{
		"issuer":                                         s.issuer,
		"authorization_endpoint":                         base + PathAuthorize,
		"token_endpoint":                                 base + PathToken,
		"userinfo_endpoint":                              base + PathUserinfo,
		"jwks_uri":                                       base + PathJWKS,
		"introspection_endpoint":                         base + PathIntrospect,
		"revocation_endpoint":                            base + PathRevoke,
		"end_session_endpoint":                           base + PathLogout,
		"device_authorization_endpoint":                  base + PathDevice,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{AlgRS256, AlgES256},
		"scopes_supported":                               []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":               []string{"S256"},
		"authorization_response_iss_parameter_supported": true,
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "scope", "auth_time", "nonce", "at_hash", "amr", "sid",
			"owner", "organization", "orgs", "name", "preferred_username", "email", "email_verified", "isAdmin", "isGlobalAdmin"},
	}
	b, _ := json.Marshal(doc)
	return b
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	serveDocument(w, r, s.discoveryJSON(), discoveryMaxAgeHdr, "application/json")
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	_, _, jwks := s.currentKeys(r.Context())
	serveDocument(w, r, jwks, jwksMaxAgeHdr, "application/jwk-set+json")
}

// bearer returns the bearer token of r's Authorization header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// activeAccess verifies an access token and checks it has not been revoked
// (its jti, or its grant by revocation, reuse detection or logout).
func (s *Server) activeAccess(ctx context.Context, token string) (map[string]any, error) {
	claims, err := s.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if _, ok := claims["client_id"]; !ok { // ID tokens are not access tokens
		return nil, errInvalidToken
	}
	jti, _ := claims["jti"].(string)
	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM iam_revoked WHERE jti = ?`, jti).Scan(&one)
	if err == nil {
		return nil, errInvalidToken
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if sid, _ := claims["sid"].(string); sid != "" {
		var revoked int
		err := s.db.QueryRowContext(ctx, `SELECT revoked FROM iam_grants WHERE id = ?`, sid).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked != 0) {
			return nil, errInvalidToken
		}
		if err != nil {
			return nil, err
		}
	}
	return claims, nil
}

// handleUserinfo serves the OIDC UserInfo endpoint.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "GET, POST, OPTIONS") {
		return
	}
	ctx := r.Context()
	tok := bearer(r)
	if tok == "" && r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		r.ParseForm()
		tok = r.PostForm.Get("access_token")
	}
	unauthorized := func(code, desc string, status int) {
		w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
		writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
	}
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="iam"`)
		writeJSON(w, 401, map[string]any{"error": "invalid_token", "error_description": "An access token is required."})
		return
	}
	claims, err := s.activeAccess(ctx, tok)
	if err != nil {
		if !errors.Is(err, errInvalidToken) {
			s.log.Error("iam: userinfo", "err", err)
		}
		unauthorized("invalid_token", "The access token is invalid, expired or revoked.", 401)
		return
	}
	scope, _ := claims["scope"].(string)
	if !hasScope(scope, "openid") {
		unauthorized("insufficient_scope", "The openid scope is required.", 403)
		return
	}
	sub, _ := claims["sub"].(string)
	org, username, _ := strings.Cut(sub, "/")
	u, err := s.User(ctx, org, username)
	if err != nil {
		unauthorized("invalid_token", "The user no longer exists.", 401)
		return
	}
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	out := map[string]any{"sub": sub, "owner": u.Org, "organization": u.Org, "orgs": u.memberships(), "isAdmin": u.IsAdmin}
	if u.IsGlobalAdmin {
		out["isGlobalAdmin"] = true
	}
	if hasScope(scope, "profile") {
		out["name"], out["preferred_username"] = name, u.Username
	}
	if hasScope(scope, "email") && u.Email != "" {
		out["email"], out["email_verified"] = u.Email, u.EmailVerified
	}
	writeJSON(w, 200, out)
}

// refreshInfo looks up a refresh token for introspection and revocation.
type refreshInfo struct {
	grantID, clientID, org, username, scope string
	expires                                 int64
	used, revoked                           int
}

func (s *Server) lookupRefresh(ctx context.Context, token string) (*refreshInfo, error) {
	var ri refreshInfo
	err := s.db.QueryRowContext(ctx, `SELECT g.id, g.client_id, g.org, g.username, g.scope, r.expires, r.used, g.revoked
		FROM iam_refresh r JOIN iam_grants g ON g.id = r.grant_id WHERE r.token_hash = ?`, tokenHash(token)).
		Scan(&ri.grantID, &ri.clientID, &ri.org, &ri.username, &ri.scope, &ri.expires, &ri.used, &ri.revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &ri, nil
}

// handleIntrospect serves RFC 7662 introspection. The caller authenticates
// as a client; tokens of other orgs are reported inactive.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "POST, OPTIONS") {
		return
	}
	ctx := r.Context()
	if err := parseForm(w, r); err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	app, err := s.authenticateClient(ctx, r)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		s.writeOAuthError(w, r, oerr(400, "invalid_request", "token is required."))
		return
	}
	inactive := map[string]any{"active": false}
	if strings.Count(tok, ".") == 2 {
		claims, err := s.activeAccess(ctx, tok)
		if err != nil {
			if !errors.Is(err, errInvalidToken) {
				s.log.Error("iam: introspect", "err", err)
			}
			writeJSON(w, 200, inactive)
			return
		}
		if owner, _ := claims["owner"].(string); owner != app.Org {
			writeJSON(w, 200, inactive)
			return
		}
		out := map[string]any{"active": true, "token_type": "Bearer"}
		for _, k := range []string{"scope", "client_id", "exp", "iat", "nbf", "sub", "aud", "iss", "jti", "owner", "organization", "isAdmin", "isGlobalAdmin", "orgs", "email", "name", "sid"} {
			if v, ok := claims[k]; ok {
				out[k] = v
			}
		}
		if pu, ok := claims["preferred_username"]; ok {
			out["username"] = pu
		}
		writeJSON(w, 200, out)
		return
	}
	ri, err := s.lookupRefresh(ctx, tok)
	if err != nil {
		s.log.Error("iam: introspect", "err", err)
	}
	if ri == nil || ri.used != 0 || ri.revoked != 0 || ri.expires <= s.now().Unix() || ri.org != app.Org {
		writeJSON(w, 200, inactive)
		return
	}
	writeJSON(w, 200, map[string]any{"active": true, "token_type": "refresh_token", "scope": ri.scope, "client_id": ri.clientID,
		"username": ri.username, "sub": ri.org + "/" + ri.username, "exp": ri.expires, "iss": s.issuer, "sid": ri.grantID})
}

// handleRevoke serves RFC 7009 revocation. The caller authenticates as a
// client, or (browser SDKs) with its own access token as a Bearer. Revoking
// a refresh token revokes its whole family (and the family's access tokens
// for introspection); revoking an access token revokes it alone. Unknown
// tokens are not an error (200).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "POST, OPTIONS") {
		return
	}
	ctx := r.Context()
	if err := parseForm(w, r); err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	var clientID string
	bt := bearer(r)
	tok := r.PostForm.Get("token")
	var claims map[string]any
	if bt != "" {
		var err error
		if claims, err = s.activeAccess(ctx, bt); err != nil && r.PostForm.Get("client_id") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			s.writeOAuthError(w, r, oerr(401, "invalid_client", "Client authentication failed."))
			return
		}
		if tok == "" {
			tok = bt
		}
	}
	if claims != nil {
		clientID, _ = claims["client_id"].(string)
	} else {
		// No Bearer, or one already revoked or expired next to the form's
		// client_id (the browser SDK revokes its access token last, with
		// itself as the Bearer): the form authenticates the client.
		app, err := s.authenticateClient(ctx, r)
		if err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
		clientID = app.ClientID
	}
	if tok == "" {
		s.writeOAuthError(w, r, oerr(400, "invalid_request", "token is required."))
		return
	}
	ev := requestEvent(r)
	ev.ClientID, ev.Event, ev.Result = clientID, "revoke", "ok"
	if strings.Count(tok, ".") == 2 {
		if claims, err := s.verify(ctx, tok); err == nil {
			if cid, _ := claims["client_id"].(string); cid == clientID {
				jti, _ := claims["jti"].(string)
				exp, _ := claims["exp"].(float64)
				if _, err := s.db.ExecContext(ctx, `INSERT INTO iam_revoked (jti, expires) VALUES (?, ?) ON CONFLICT DO NOTHING`, jti, int64(exp)); err != nil {
					s.writeOAuthError(w, r, err)
					return
				}
				ev.Org, _ = claims["owner"].(string)
				ev.Username, _ = claims["preferred_username"].(string) // user tokens only
				ev.Detail = "access_token"
				s.audit(ev)
			}
		}
	} else if ri, err := s.lookupRefresh(ctx, tok); err != nil {
		s.writeOAuthError(w, r, err)
		return
	} else if ri != nil && ri.clientID == clientID {
		if _, err := s.db.ExecContext(ctx, `UPDATE iam_grants SET revoked = 1 WHERE id = ?`, ri.grantID); err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
		ev.Org, ev.Username, ev.Detail = ri.org, ri.username, "refresh_token"
		s.audit(ev)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// verifyHint verifies an id_token_hint: signature and issuer, expired
// tokens allowed (OIDC RP-Initiated Logout §2).
func (s *Server) verifyHint(ctx context.Context, token string) map[string]any {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{AlgRS256, AlgES256}), jwt.WithoutClaimsValidation())
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k := s.verificationKey(ctx, kid)
		if k == nil || t.Method.Alg() != k.alg {
			return nil, errInvalidToken
		}
		return k.priv.Public(), nil
	})
	if err != nil || claims["iss"] != s.issuer {
		return nil
	}
	return claims
}

// handleLogout serves RP-Initiated Logout: it ends the SSO session (cookie)
// and revokes the grants it covers, the grant named by id_token_hint and
// the Bearer token's grant, then redirects to a registered
// post_logout_redirect_uri (with state) or shows a signed-out page.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "GET, POST, OPTIONS") {
		return
	}
	ctx := r.Context()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	}
	r.ParseForm()
	ev := requestEvent(r)
	ev.Event, ev.Result = "logout", "ok"
	clientID := r.Form.Get("client_id")
	var grants []string
	if hint := r.Form.Get("id_token_hint"); hint != "" {
		claims := s.verifyHint(ctx, hint)
		if claims == nil {
			errorPage(w, 400, nil, "The id_token_hint is invalid.")
			return
		}
		if aud, _ := claims["aud"].(string); aud != "" {
			if clientID != "" && clientID != aud {
				errorPage(w, 400, nil, "client_id does not match the id_token_hint.")
				return
			}
			clientID = aud
		}
		if sid, _ := claims["sid"].(string); sid != "" {
			grants = append(grants, sid)
		}
		sub, _ := claims["sub"].(string)
		ev.Org, ev.Username, _ = strings.Cut(sub, "/")
	}
	if bt := bearer(r); bt != "" {
		if claims, err := s.activeAccess(ctx, bt); err == nil {
			if sid, _ := claims["sid"].(string); sid != "" {
				grants = append(grants, sid)
			}
			if clientID == "" {
				clientID, _ = claims["client_id"].(string)
			}
			jti, _ := claims["jti"].(string)
			exp, _ := claims["exp"].(float64)
			s.db.ExecContext(ctx, `INSERT INTO iam_revoked (jti, expires) VALUES (?, ?) ON CONFLICT DO NOTHING`, jti, int64(exp))
		}
	}
	var app *Application
	if clientID != "" {
		app, _ = s.Application(ctx, clientID)
	}
	post := r.Form.Get("post_logout_redirect_uri")
	if post != "" && (app == nil || !(slices.Contains(app.PostLogoutURIs, post) || slices.Contains(app.RedirectURIs, post))) {
		errorPage(w, 400, nil, "The post_logout_redirect_uri is not registered for this application.")
		return
	}
	if sess := s.endSession(ctx, w, r); sess != nil {
		ev.Org, ev.Username = sess.org, sess.username
	}
	for _, g := range grants {
		if _, err := s.db.ExecContext(ctx, `UPDATE iam_grants SET revoked = 1 WHERE id = ?`, g); err != nil {
			s.log.Error("iam: logout", "err", err)
		}
	}
	ev.ClientID = clientID
	s.audit(ev)
	if post != "" {
		http.Redirect(w, r, redirectWith(post, map[string][]string{"state": {r.Form.Get("state")}}), http.StatusSeeOther)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") || r.Method == http.MethodPost && bearer(r) != "" {
		envelope(w, 200, true, "", nil)
		return
	}
	var org *Org
	if app != nil {
		org, _ = s.Org(ctx, app.Org)
	}
	p := page{Title: "Signed out", Subtitle: "You have been signed out.", Message: "You can close this window."}
	brand(&p, org)
	renderPage(w, 200, p)
}

// passwordChange is the body of POST /v1/iam/password.
type passwordChange struct {
	Organization string `json:"organization"`
	Username     string `json:"username"`
	OldPassword  string `json:"oldPassword"`
	NewPassword  string `json:"newPassword"`
}

// handlePassword changes a user's password (old password required, with
// login throttling); every grant of the user is revoked.
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "POST, OPTIONS") {
		return
	}
	ctx := r.Context()
	var req passwordChange
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		envelope(w, 400, false, "The request body must be a JSON object.", nil)
		return
	}
	if req.Organization == "" {
		req.Organization = s.hostOrgName(r) // the Host's org
	}
	org, err := s.Org(ctx, req.Organization)
	if err != nil {
		envelope(w, 400, false, "Unknown organization.", nil)
		return
	}
	if len(req.NewPassword) < org.PasswordMinLength {
		envelope(w, 400, false, "The new password is too short.", nil)
		return
	}
	ev := requestEvent(r)
	u, err := s.authenticate(ctx, org.Name, req.Username, req.OldPassword, ev)
	var th *errThrottled
	switch {
	case errors.As(err, &th):
		envelope(w, 429, false, "Too many failed sign-in attempts. Try again later.", nil)
		return
	case errors.Is(err, errBadCredentials):
		envelope(w, 401, false, "Invalid username or password.", nil)
		return
	case err != nil:
		s.log.Error("iam: password", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	if err := s.SetPassword(ctx, u.Org, u.Username, req.NewPassword); err != nil {
		s.log.Error("iam: password", "err", err)
		envelope(w, 500, false, "Something went wrong while processing your request.", nil)
		return
	}
	s.db.ExecContext(ctx, `UPDATE iam_grants SET revoked = 1 WHERE org = ? AND username = ?`, u.Org, u.Username)
	ev.Event, ev.Result, ev.Org, ev.Username = "password_change", "ok", u.Org, u.Username
	s.audit(ev)
	envelope(w, 200, true, "", nil)
}

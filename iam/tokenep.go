package iam

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// authenticateClient authenticates the client of a token, introspection,
// revocation or device request: HTTP Basic (form-encoded id and secret,
// RFC 6749 §2.3.1) or client_id/client_secret in the body; a public client
// sends only its client_id. Failures are 401 invalid_client.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request) (*Application, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, oerr(401, "invalid_client", "Malformed client credentials.")
		}
		if r.PostForm.Get("client_secret") != "" {
			return nil, oerr(400, "invalid_request", "Use one client authentication method only.")
		}
		if b := r.PostForm.Get("client_id"); b != "" && b != id {
			return nil, oerr(401, "invalid_client", "client_id does not match the authenticated client.")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return nil, oerr(401, "invalid_client", "Client authentication is required.")
	}
	app, err := s.Application(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, oerr(401, "invalid_client", "Client authentication failed.")
	}
	if err != nil {
		return nil, err
	}
	if app.Public() {
		if secret != "" {
			return nil, oerr(401, "invalid_client", "Client authentication failed.")
		}
		return app, nil
	}
	if !app.checkSecret(secret) {
		return nil, oerr(401, "invalid_client", "Client authentication failed.")
	}
	return app, nil
}

// parseForm reads an application/x-www-form-urlencoded body (64 KiB max).
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return oerr(405, "invalid_request", "Use POST.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return oerr(400, "invalid_request", "The request body could not be parsed.")
	}
	return nil
}

// handleToken serves POST /v1/iam/oauth/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, "POST, OPTIONS") {
		return
	}
	ts, err := s.token(w, r)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) (*tokenSet, error) {
	if err := parseForm(w, r); err != nil {
		return nil, err
	}
	ctx := r.Context()
	app, err := s.authenticateClient(ctx, r)
	if err != nil {
		return nil, err
	}
	ev := requestEvent(r)
	ev.ClientID, ev.Org = app.ClientID, app.Org
	gt := r.PostForm.Get("grant_type")
	switch gt {
	case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode:
	case "":
		return nil, oerr(400, "invalid_request", "grant_type is required.")
	default:
		return nil, oerr(400, "unsupported_grant_type", "Unsupported grant_type.")
	}
	if !app.allows(gt) || (gt == GrantClientCredentials && app.Public()) {
		return nil, oerr(400, "unauthorized_client", "This client may not use this grant type.")
	}
	var ts *tokenSet
	switch gt {
	case GrantAuthorizationCode:
		ts, err = s.grantCode(ctx, r, app, ev)
	case GrantRefreshToken:
		ts, err = s.grantRefresh(ctx, r, app, ev)
	case GrantClientCredentials:
		scope, oe := effectiveScope(app, r.PostForm.Get("scope"), false)
		if oe != nil {
			return nil, oe
		}
		ts, err = s.mintTokens(ctx, issue{app: app, scope: scope})
		if err == nil {
			ev.Event, ev.Result = "client_credentials", "ok"
			s.audit(ev)
		}
	case GrantPassword:
		ts, err = s.grantPassword(ctx, r, app, ev)
	case GrantDeviceCode:
		ts, err = s.grantDevice(ctx, r, app, ev)
	}
	return ts, err
}

// newGrant records a login grant (a refresh family) and, when the client
// may refresh, its first refresh token. It runs inside tx.
func (s *Server) newGrant(ctx context.Context, tx interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, app *Application, u *User, scope, sessHash string, authTime int64, amr string) (grantID, refresh string, err error) {
	grantID = randomID()
	now := s.now()
	exp := now.Add(app.RefreshTTL).Unix()
	if _, err := tx.ExecContext(ctx, `INSERT INTO iam_grants (id, client_id, org, username, scope, session_hash, auth_time, created, expires, amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		grantID, app.ClientID, u.Org, u.Username, scope, sessHash, authTime, now.Unix(), exp, amr); err != nil {
		return "", "", fmt.Errorf("new grant: %w", err)
	}
	if app.allows(GrantRefreshToken) {
		refresh = randomToken(32)
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_refresh (token_hash, grant_id, expires) VALUES (?, ?, ?)`, tokenHash(refresh), grantID, exp); err != nil {
			return "", "", fmt.Errorf("new grant: %w", err)
		}
	}
	return grantID, refresh, nil
}

// grantCode redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
// A code is single-use: any second redemption fails and revokes the grant
// the first one created.
func (s *Server) grantCode(ctx context.Context, r *http.Request, app *Application, ev auditEvent) (*tokenSet, error) {
	code, verifier, redirectURI := r.PostForm.Get("code"), r.PostForm.Get("code_verifier"), r.PostForm.Get("redirect_uri")
	if code == "" {
		return nil, oerr(400, "invalid_request", "code is required.")
	}
	ev.Event = "code"
	bad := func(desc string) (*tokenSet, error) {
		ev.Result, ev.Detail = "failure", desc
		s.audit(ev)
		return nil, oerr(400, "invalid_grant", desc)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var c struct {
		clientID, org, username, redirectURI, scope, nonce, challenge, session, grantID, amr string
		authTime, expires                                                                    int64
		used                                                                                 int
	}
	h := tokenHash(code)
	err = tx.QueryRowContext(ctx, `SELECT client_id, org, username, redirect_uri, scope, nonce, challenge, session_hash, grant_id, auth_time, expires, used, amr FROM iam_codes WHERE code_hash = ?`, h).
		Scan(&c.clientID, &c.org, &c.username, &c.redirectURI, &c.scope, &c.nonce, &c.challenge, &c.session, &c.grantID, &c.authTime, &c.expires, &c.used, &c.amr)
	if errors.Is(err, sql.ErrNoRows) {
		return bad("The authorization code is invalid.")
	}
	if err != nil {
		return nil, err
	}
	ev.Username = c.username
	if c.clientID != app.ClientID {
		return bad("The authorization code was issued to another client.")
	}
	if c.used != 0 {
		if c.grantID != "" {
			tx.ExecContext(ctx, `UPDATE iam_grants SET revoked = 1 WHERE id = ?`, c.grantID)
			tx.Commit()
		}
		return bad("The authorization code has already been used.")
	}
	// Consume the code now, whatever the outcome below.
	if res, err := tx.ExecContext(ctx, `UPDATE iam_codes SET used = 1 WHERE code_hash = ? AND used = 0`, h); err != nil {
		return nil, err
	} else if n, _ := res.RowsAffected(); n != 1 {
		return bad("The authorization code has already been used.")
	}
	failAfterConsume := func(desc string) (*tokenSet, error) {
		if err := tx.Commit(); err != nil {
			return nil, err
		}
		return bad(desc)
	}
	if c.expires <= s.now().Unix() {
		return failAfterConsume("The authorization code has expired.")
	}
	if redirectURI != c.redirectURI {
		return failAfterConsume("redirect_uri does not match the authorization request.")
	}
	switch {
	case c.challenge != "":
		if !validPKCE(verifier) {
			return failAfterConsume("A valid code_verifier is required.")
		}
		if subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.challenge)) != 1 {
			return failAfterConsume("code_verifier does not match the code_challenge.")
		}
	case verifier != "":
		return failAfterConsume("code_verifier sent for a request without code_challenge.")
	}
	u, err := s.User(ctx, c.org, c.username)
	if errors.Is(err, ErrNotFound) {
		return failAfterConsume("The user no longer exists.")
	}
	if err != nil {
		return nil, err
	}
	grantID, refresh, err := s.newGrant(ctx, tx, app, u, c.scope, c.session, c.authTime, c.amr)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE iam_codes SET grant_id = ? WHERE code_hash = ?`, grantID, h); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	ts, err := s.mintTokens(ctx, issue{app: app, user: u, scope: c.scope, grantID: grantID, nonce: c.nonce, authTime: c.authTime, amr: c.amr, idToken: true})
	if err != nil {
		return nil, err
	}
	ts.RefreshToken = refresh
	ev.Result = "ok"
	s.audit(ev)
	return ts, nil
}

// s256 is the PKCE S256 transform: BASE64URL(SHA256(verifier)).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// grantRefresh rotates a refresh token (RFC 6749 §6). Presenting a used
// refresh token revokes its whole family.
func (s *Server) grantRefresh(ctx context.Context, r *http.Request, app *Application, ev auditEvent) (*tokenSet, error) {
	rt := r.PostForm.Get("refresh_token")
	if rt == "" {
		return nil, oerr(400, "invalid_request", "refresh_token is required.")
	}
	ev.Event = "refresh"
	bad := func(desc string) (*tokenSet, error) {
		ev.Result, ev.Detail = "failure", desc
		s.audit(ev)
		return nil, oerr(400, "invalid_grant", desc)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	h := tokenHash(rt)
	var g struct {
		id, clientID, org, username, scope, session, amr string
		authTime, expires                                int64
		used, revoked                                    int
	}
	err = tx.QueryRowContext(ctx, `SELECT g.id, g.client_id, g.org, g.username, g.scope, g.session_hash, g.auth_time, r.expires, r.used, g.revoked, g.amr
		FROM iam_refresh r JOIN iam_grants g ON g.id = r.grant_id WHERE r.token_hash = ?`, h).
		Scan(&g.id, &g.clientID, &g.org, &g.username, &g.scope, &g.session, &g.authTime, &g.expires, &g.used, &g.revoked, &g.amr)
	if errors.Is(err, sql.ErrNoRows) {
		return bad("The refresh token is invalid.")
	}
	if err != nil {
		return nil, err
	}
	ev.Username = g.username
	if g.clientID != app.ClientID {
		return bad("The refresh token was issued to another client.")
	}
	if g.revoked != 0 {
		return bad("The refresh token has been revoked.")
	}
	revokeFamily := func() (*tokenSet, error) {
		if _, err := tx.ExecContext(ctx, `UPDATE iam_grants SET revoked = 1 WHERE id = ?`, g.id); err != nil {
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
		ev.Event = "refresh_reuse"
		return bad("The refresh token has already been used; its family is revoked.")
	}
	if g.used != 0 {
		return revokeFamily()
	}
	if g.expires <= s.now().Unix() {
		return bad("The refresh token has expired.")
	}
	scope := g.scope
	if req := r.PostForm.Get("scope"); req != "" {
		for _, sc := range strings.Fields(req) {
			if !hasScope(g.scope, sc) {
				return nil, oerr(400, "invalid_scope", fmt.Sprintf("Scope %q was not granted.", sc))
			}
		}
		scope = strings.Join(strings.Fields(req), " ")
	}
	res, err := tx.ExecContext(ctx, `UPDATE iam_refresh SET used = 1 WHERE token_hash = ? AND used = 0`, h)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return revokeFamily()
	}
	u, err := s.User(ctx, g.org, g.username)
	if errors.Is(err, ErrNotFound) {
		return bad("The user no longer exists.")
	}
	if err != nil {
		return nil, err
	}
	next := randomToken(32)
	exp := s.now().Add(app.RefreshTTL).Unix()
	if _, err := tx.ExecContext(ctx, `INSERT INTO iam_refresh (token_hash, grant_id, expires) VALUES (?, ?, ?)`, tokenHash(next), g.id, exp); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE iam_grants SET expires = ? WHERE id = ?`, exp, g.id); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	ts, err := s.mintTokens(ctx, issue{app: app, user: u, scope: scope, grantID: g.id, authTime: g.authTime, amr: g.amr, idToken: true})
	if err != nil {
		return nil, err
	}
	ts.RefreshToken = next
	ev.Result = "ok"
	s.audit(ev)
	return ts, nil
}

// grantPassword is the resource owner password grant, for applications
// that allow it.
func (s *Server) grantPassword(ctx context.Context, r *http.Request, app *Application, ev auditEvent) (*tokenSet, error) {
	username, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	if username == "" || password == "" {
		return nil, oerr(400, "invalid_request", "username and password are required.")
	}
	scope, oe := effectiveScope(app, r.PostForm.Get("scope"), true)
	if oe != nil {
		return nil, oe
	}
	u, err := s.authenticate(ctx, app.Org, username, password, ev)
	var th *errThrottled
	switch {
	case errors.As(err, &th):
		return nil, oerr(http.StatusTooManyRequests, "invalid_grant", "Too many failed sign-in attempts. Try again later.")
	case errors.Is(err, errBadCredentials):
		return nil, oerr(400, "invalid_grant", "Invalid username or password.")
	case err != nil:
		return nil, err
	}
	if err := s.passwordSuffices(ctx, u); errors.Is(err, errSecondFactor) {
		return nil, oerr(400, "invalid_grant", "This account requires a passkey; sign in through the browser.")
	} else if err != nil {
		return nil, err
	}
	return s.issueForUser(ctx, app, u, scope, "", s.now().Unix(), "", amrPassword)
}

// issueForUser creates a grant and mints the tokens of a direct user grant
// (password, device); amr is how the user authenticated.
func (s *Server) issueForUser(ctx context.Context, app *Application, u *User, scope, sessHash string, authTime int64, nonce, amr string) (*tokenSet, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	grantID, refresh, err := s.newGrant(ctx, tx, app, u, scope, sessHash, authTime, amr)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	ts, err := s.mintTokens(ctx, issue{app: app, user: u, scope: scope, grantID: grantID, nonce: nonce, authTime: authTime, amr: amr, idToken: true})
	if err != nil {
		return nil, err
	}
	ts.RefreshToken = refresh
	return ts, nil
}

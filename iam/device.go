package iam

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/http"
	"strings"
)

// PathDevicePage is where a user enters a device's user code (the
// verification_uri of RFC 8628).
const PathDevicePage = "/v1/iam/device"

// userCodeAlphabet avoids vowels and look-alikes (RFC 8628 §6.1).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return string(out)
}

// normalizeUserCode upper-cases a typed code and drops separators.
func normalizeUserCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if strings.ContainsRune(userCodeAlphabet, c) {
			b.WriteRune(c)
		}
	}
	if b.Len() != 8 {
		return ""
	}
	t := b.String()
	return t[:4] + "-" + t[4:]
}

// handleDeviceAuthorization serves RFC 8628 §3.1.
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
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
	if !app.allows(GrantDeviceCode) {
		s.writeOAuthError(w, r, oerr(400, "unauthorized_client", "This client may not use the device flow."))
		return
	}
	scope, oe := effectiveScope(app, r.PostForm.Get("scope"), true)
	if oe != nil {
		s.writeOAuthError(w, r, oe)
		return
	}
	deviceCode, userCode := randomToken(32), newUserCode()
	interval := int64(s.cfg.DeviceInterval.Seconds())
	if interval < 1 {
		interval = 1
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO iam_devices (device_hash, user_code, client_id, org, scope, expires, interval_s) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tokenHash(deviceCode), userCode, app.ClientID, app.Org, scope, s.now().Add(s.cfg.DeviceCodeTTL).Unix(), interval); err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	verify := s.issuer + PathDevicePage
	writeJSON(w, 200, map[string]any{
		"device_code": deviceCode, "user_code": userCode,
		"verification_uri": verify, "verification_uri_complete": verify + "?user_code=" + userCode,
		"expires_in": int64(s.cfg.DeviceCodeTTL.Seconds()), "interval": interval,
	})
}

// grantDevice is the device_code grant (RFC 8628 §3.4–3.5).
func (s *Server) grantDevice(ctx context.Context, r *http.Request, app *Application, ev auditEvent) (*tokenSet, error) {
	dc := r.PostForm.Get("device_code")
	if dc == "" {
		return nil, oerr(400, "invalid_request", "device_code is required.")
	}
	h := tokenHash(dc)
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var d struct {
		clientID, org, scope, status, username string
		expires, interval, lastPoll, authTime  int64
	}
	err = tx.QueryRowContext(ctx, `SELECT client_id, org, scope, status, username, expires, interval_s, last_poll, auth_time FROM iam_devices WHERE device_hash = ?`, h).
		Scan(&d.clientID, &d.org, &d.scope, &d.status, &d.username, &d.expires, &d.interval, &d.lastPoll, &d.authTime)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oerr(400, "invalid_grant", "The device code is invalid.")
	}
	if err != nil {
		return nil, err
	}
	if d.clientID != app.ClientID {
		return nil, oerr(400, "invalid_grant", "The device code was issued to another client.")
	}
	now := s.now()
	if d.expires <= now.Unix() {
		return nil, oerr(400, "expired_token", "The device code has expired.")
	}
	nowMs := now.UnixMilli()
	if d.status == "pending" && d.lastPoll > 0 && nowMs-d.lastPoll < d.interval*1000-250 {
		tx.ExecContext(ctx, `UPDATE iam_devices SET interval_s = ?, last_poll = ? WHERE device_hash = ?`, d.interval+5, nowMs, h)
		tx.Commit()
		return nil, oerr(400, "slow_down", "Polling too fast; the interval has been increased by 5 seconds.")
	}
	switch d.status {
	case "pending":
		tx.ExecContext(ctx, `UPDATE iam_devices SET last_poll = ? WHERE device_hash = ?`, nowMs, h)
		tx.Commit()
		return nil, oerr(400, "authorization_pending", "The user has not approved the request yet.")
	case "denied":
		return nil, oerr(400, "access_denied", "The user denied the request.")
	case "approved":
	default:
		return nil, oerr(400, "invalid_grant", "The device code has already been used.")
	}
	res, err := tx.ExecContext(ctx, `UPDATE iam_devices SET status = 'used' WHERE device_hash = ? AND status = 'approved'`, h)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, oerr(400, "invalid_grant", "The device code has already been used.")
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, d.org, d.username)
	if err != nil {
		return nil, oerr(400, "invalid_grant", "The user no longer exists.")
	}
	// The device page approves with a password only.
	ts, err := s.issueForUser(ctx, app, u, d.scope, "", d.authTime, "", amrPassword)
	if err == nil {
		ev.Event, ev.Result, ev.Username = "device", "ok", u.Username
		s.audit(ev)
	}
	return ts, err
}

// handleDevicePage serves the page where a user enters the code shown on a
// device, signs in and approves (or denies) the device.
func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := page{Title: "Connect a device", Subtitle: "Enter the code shown on your device, then sign in to approve it.",
		Form: true, Action: PathDevicePage, AskCode: true, Submit: "Approve"}
	brand(&p, s.hostOrg(r)) // until the code names the org
	if r.Method == http.MethodGet {
		p.UserCode = r.URL.Query().Get("user_code")
		renderPage(w, 200, p)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		errorPage(w, 400, nil, "The form could not be read.")
		return
	}
	p.UserCode, p.Username = r.PostForm.Get("user_code"), strings.TrimSpace(r.PostForm.Get("username"))
	code := normalizeUserCode(p.UserCode)
	var clientID, org string
	var expires int64
	err := s.db.QueryRowContext(ctx, `SELECT client_id, org, expires FROM iam_devices WHERE user_code = ? AND status = 'pending'`, code).Scan(&clientID, &org, &expires)
	if err != nil || expires <= s.now().Unix() {
		p.Error = "That code is invalid or has expired."
		renderPage(w, 400, p)
		return
	}
	o, _ := s.Org(ctx, org)
	brand(&p, o)
	if app, err := s.Application(ctx, clientID); err == nil {
		p.Subtitle = "Sign in to connect " + titleOf(app) + "."
	}
	ev := requestEvent(r)
	ev.ClientID = clientID
	if r.PostForm.Get("action") == "deny" {
		s.db.ExecContext(ctx, `UPDATE iam_devices SET status = 'denied' WHERE user_code = ? AND status = 'pending'`, code)
		ev.Event, ev.Result, ev.Org = "device", "denied", org
		s.audit(ev)
		p.Form, p.Message = false, "The device was not connected."
		renderPage(w, 200, p)
		return
	}
	u, err := s.authenticate(ctx, org, p.Username, r.PostForm.Get("password"), ev)
	var th *errThrottled
	switch {
	case errors.As(err, &th):
		p.Error = "Too many failed sign-in attempts. Try again later."
		renderPage(w, 429, p)
		return
	case errors.Is(err, errBadCredentials):
		p.Error = "Invalid username or password."
		renderPage(w, 401, p)
		return
	case err != nil:
		s.log.Error("iam: device page", "err", err)
		p.Error = "Something went wrong while processing your request."
		renderPage(w, 500, p)
		return
	}
	if err := s.passwordSuffices(ctx, u); err != nil {
		status := http.StatusForbidden
		p.Error = "This account requires a passkey, which this page cannot use."
		if !errors.Is(err, errSecondFactor) {
			s.log.Error("iam: device page", "err", err)
			p.Error, status = "Something went wrong while processing your request.", 500
		}
		renderPage(w, status, p)
		return
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE iam_devices SET status = 'approved', username = ?, auth_time = ? WHERE user_code = ? AND status = 'pending'`,
		u.Username, s.now().Unix(), code); err != nil {
		s.log.Error("iam: device page", "err", err)
		p.Error = "Something went wrong while processing your request."
		renderPage(w, 500, p)
		return
	}
	p.Form, p.Message = false, "Your device is connected. You can return to it now."
	renderPage(w, 200, p)
}

package iam

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// MFA policies of an organization (Org.MFA).
//
// Under MFAOptional a user who has registered a passkey must use it as a
// second factor after their password; a user without one signs in with the
// password alone. Under MFARequired the password never completes a login on
// its own: a user with a passkey must use it, a user without one must
// register one before an authorization code is issued. A passwordless login
// with a user-verified passkey satisfies either policy. Non-interactive
// password flows (the password grant, the device page) are refused to
// users who need a second factor.
const (
	MFAOptional = "optional"
	MFARequired = "required"
)

// Second-factor steps that remain after a correct password.
const (
	stepPasskey = "passkey" // assert one of the user's passkeys
	stepEnroll  = "enroll"  // register a first passkey (MFARequired)
)

// mfaCookie holds the id of a pending second factor; mfaTTL bounds it.
const (
	mfaCookie = "iam_mfa"
	mfaTTL    = 5 * time.Minute
)

// mfaSchema holds pending second factors: a user whose password was right
// and who has not yet passed (or enrolled) a passkey.
var mfaSchema = []string{
	`CREATE TABLE IF NOT EXISTS iam_mfa_pending (
		id_hash TEXT PRIMARY KEY,
		org TEXT NOT NULL,
		username TEXT NOT NULL,
		step TEXT NOT NULL,
		mode TEXT NOT NULL DEFAULT '',
		authz TEXT NOT NULL DEFAULT '',
		expires BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS iam_mfa_pending_expires ON iam_mfa_pending (expires)`,
}

// secondFactor returns what u must still do after a correct password: ""
// (nothing), stepPasskey or stepEnroll.
func (s *Server) secondFactor(ctx context.Context, u *User) (string, error) {
	has, err := s.HasPasskey(ctx, u.Org, u.Username)
	if err != nil {
		return "", err
	}
	if has {
		return stepPasskey, nil
	}
	org, err := s.Org(ctx, u.Org)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	if org != nil && org.MFA == MFARequired {
		return stepEnroll, nil
	}
	return "", nil
}

// sessionSatisfiesPolicy reports whether an existing SSO session of u may
// still sign u in: under MFARequired a user without any passkey (the
// policy changed after the session began) must sign in again.
func (s *Server) sessionSatisfiesPolicy(ctx context.Context, u *User) bool {
	step, err := s.secondFactor(ctx, u)
	return err == nil && step != stepEnroll
}

// errSecondFactor refuses a password-only flow to a user who needs a
// second factor.
var errSecondFactor = errors.New("a second factor (passkey) is required")

// passwordSuffices returns errSecondFactor when u may not complete a
// non-interactive password flow (password grant, device page).
func (s *Server) passwordSuffices(ctx context.Context, u *User) error {
	step, err := s.secondFactor(ctx, u)
	if err != nil {
		return err
	}
	if step != "" {
		return errSecondFactor
	}
	return nil
}

// pendingMFA is a login waiting for its second factor.
type pendingMFA struct {
	hash     string
	org      string
	username string
	step     string
	mode     string // "" (login page), "code" or "login" (JSON login API)
	authz    authzRequest
}

// startMFA records a pending second factor for u and sets its cookie.
func (s *Server) startMFA(ctx context.Context, w http.ResponseWriter, r *http.Request, u *User, step, mode string, a authzRequest) error {
	now := s.now()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM iam_mfa_pending WHERE expires < ?`, now.Unix()); err != nil {
		return fmt.Errorf("start mfa: %w", err)
	}
	id := randomToken(32)
	authz, _ := json.Marshal(a)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO iam_mfa_pending (id_hash, org, username, step, mode, authz, expires) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tokenHash(id), u.Org, u.Username, step, mode, string(authz), now.Add(mfaTTL).Unix()); err != nil {
		return fmt.Errorf("start mfa: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: mfaCookie, Value: id, Path: "/v1/iam/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: int(mfaTTL.Seconds())})
	ev := requestEvent(r)
	ev.Event, ev.Result, ev.Org, ev.Username, ev.ClientID, ev.Detail = "mfa", "required", u.Org, u.Username, a.ClientID, step
	s.audit(ev)
	return nil
}

// currentMFA returns the request's live pending second factor, or nil.
func (s *Server) currentMFA(ctx context.Context, r *http.Request) (*pendingMFA, error) {
	c, err := r.Cookie(mfaCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	p := pendingMFA{hash: tokenHash(c.Value)}
	var authz string
	var expires int64
	err = s.db.QueryRowContext(ctx, `SELECT org, username, step, mode, authz, expires FROM iam_mfa_pending WHERE id_hash = ?`, p.hash).
		Scan(&p.org, &p.username, &p.step, &p.mode, &authz, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && expires < s.now().Unix()) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pending mfa: %w", err)
	}
	if authz != "" {
		json.Unmarshal([]byte(authz), &p.authz)
	}
	return &p, nil
}

// takeMFA consumes a pending second factor (once, on any instance).
func (s *Server) takeMFA(ctx context.Context, hash string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM iam_mfa_pending WHERE id_hash = ?`, hash)
	if err != nil {
		return fmt.Errorf("take mfa: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errBadCeremony
	}
	return nil
}

func (s *Server) clearMFACookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: mfaCookie, Value: "", Path: "/v1/iam/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1, Expires: time.Unix(0, 0)})
}

// mfaPage renders the second step of the login page: use a passkey, or
// register one first.
func (s *Server) mfaPage(w http.ResponseWriter, r *http.Request, app *Application, org *Org, step string) {
	p := page{Title: "Confirm it's you", Subtitle: "Use your passkey to finish signing in to " + titleOf(app) + "."}
	label := "Use your passkey"
	if step == stepEnroll {
		p.Title = "Set up a passkey"
		p.Subtitle = "Your organization requires a passkey. Create one to finish signing in to " + titleOf(app) + "."
		label = "Create a passkey"
	}
	brand(&p, org)
	if !s.webauthnAvailable() {
		p.Error = "A passkey is required, but passkeys are not available on this server."
		renderPage(w, http.StatusForbidden, p)
		return
	}
	p.WebAuthn = &webauthnButton{Label: label, Begin: PathWebAuthnMFABegin, Finish: PathWebAuthnMFAFinish, Primary: true}
	renderPage(w, http.StatusOK, p)
}

// handleMFABegin starts the second-factor ceremony of the pending login:
// an assertion with one of the user's passkeys, or the registration of a
// first one.
func (s *Server) handleMFABegin(w http.ResponseWriter, r *http.Request) {
	if !s.webauthnRequest(w, r) {
		return
	}
	ctx := r.Context()
	p, err := s.currentMFA(ctx, r)
	if err != nil {
		s.serverError(w, "mfa begin", err)
		return
	}
	if p == nil {
		envelope(w, 401, false, "Sign in with your password first.", nil)
		return
	}
	ev := requestEvent(r)
	ev.Event, ev.Org, ev.Username = "mfa", p.org, p.username
	if s.refuseLocked(w, r, throttleKeys(p.org, p.username, ev.IP), ev) {
		return
	}
	u, err := s.User(ctx, p.org, p.username)
	if err != nil {
		envelope(w, 401, false, "Sign in with your password first.", nil)
		return
	}
	if p.step == stepEnroll {
		s.beginRegistration(w, r, u, "mfa", p.hash)
		return
	}
	org, _ := s.Org(ctx, u.Org)
	wa, err := s.relyingParty(org)
	if err != nil {
		s.serverError(w, "mfa begin", err)
		return
	}
	pu, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		s.serverError(w, "mfa begin", err)
		return
	}
	assertion, data, err := wa.BeginLogin(pu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		s.serverError(w, "mfa begin", err)
		return
	}
	id, err := s.beginCeremony(ctx, ceremony{kind: "mfa", org: u.Org, username: u.Username, ref: p.hash, authz: p.authz, data: *data})
	if err != nil {
		s.serverError(w, "mfa begin", err)
		return
	}
	writeJSON(w, 200, beginResponse{Ceremony: id, Mode: "get", PublicKey: assertion.Response})
}

// handleMFAFinish verifies the second factor, then completes the login the
// password began (SSO session, authorization code).
func (s *Server) handleMFAFinish(w http.ResponseWriter, r *http.Request) {
	if !s.webauthnRequest(w, r) {
		return
	}
	ctx := r.Context()
	p, err := s.currentMFA(ctx, r)
	if err != nil {
		s.serverError(w, "mfa finish", err)
		return
	}
	if p == nil {
		envelope(w, 401, false, "Sign in with your password first.", nil)
		return
	}
	ev := requestEvent(r)
	ev.Event, ev.Org, ev.Username, ev.ClientID = "mfa", p.org, p.username, p.authz.ClientID
	keys := throttleKeys(p.org, p.username, ev.IP)
	if s.refuseLocked(w, r, keys, ev) {
		return
	}
	req, ok := readFinish(w, r)
	if !ok {
		return
	}
	c, err := s.takeCeremony(ctx, req.Ceremony, "mfa")
	if err == nil && (c.ref != p.hash || c.org != p.org || c.username != p.username) {
		err = errBadCeremony
	}
	if err != nil {
		s.ceremonyError(w, r, "mfa", p.org, p.username, err)
		return
	}
	u, err := s.User(ctx, p.org, p.username)
	if err != nil {
		envelope(w, 401, false, "Sign in with your password first.", nil)
		return
	}
	detail, amr := "", amrPassword
	if p.step == stepEnroll {
		c.authz = p.authz
		pk, err := s.finishRegistration(ctx, r, u, c, req)
		if err != nil {
			s.countPasskeyFailure(ctx, keys, err)
			s.ceremonyError(w, r, "mfa", p.org, p.username, err)
			return
		}
		detail = "enrolled " + pk.ID
	} else {
		cred, err := s.verifyAssertion(ctx, u, c, req.Credential)
		if err != nil {
			s.countPasskeyFailure(ctx, keys, err)
			s.ceremonyError(w, r, "mfa", p.org, p.username, err)
			return
		}
		detail, amr = b64.EncodeToString(cred.ID), amrOf(true, cred, true)
	}
	if err := s.takeMFA(ctx, p.hash); err != nil {
		s.ceremonyError(w, r, "mfa", p.org, p.username, err)
		return
	}
	s.clearMFACookie(w, r)
	s.clearFailures(ctx, keys)
	ev.Result, ev.Detail = "ok", detail
	s.audit(ev)
	// Enrolment (MFARequired, no passkey yet) created a passkey but did not
	// authenticate with one: its login stays password-only (amr pwd).
	s.completeLogin(w, r, u, p.authz, p.mode, amr)
}

// verifyAssertion checks an assertion by one of u's passkeys against c and
// records its use.
func (s *Server) verifyAssertion(ctx context.Context, u *User, c *ceremony, body []byte) (*webauthn.Credential, error) {
	org, _ := s.Org(ctx, u.Org)
	wa, err := s.relyingParty(org)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, verifyError{err}
	}
	pu, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		return nil, err
	}
	cred, err := wa.ValidateLogin(pu, c.data, parsed)
	if err != nil {
		return nil, verifyError{err}
	}
	if err := s.touchCredential(ctx, cred); err != nil {
		return nil, err
	}
	return cred, nil
}

package iam

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// WebAuthn passkeys (spec/iam.md "Users and security"); see also the MFA
// policies (MFAOptional, MFARequired).
//
// The relying party is the issuer: its RP ID is the issuer's host name and
// the only accepted origin is the issuer's origin, so passkeys work when the
// issuer is an https origin or http://localhost (browsers refuse WebAuthn
// on IP-address origins; there the endpoints answer 501 and the login page
// shows no passkey button).
//
// Credentials live in iam_webauthn_credentials; the state of a ceremony
// between its begin and finish calls (the challenge, go-webauthn's
// SessionData) lives in iam_webauthn_ceremonies with an expiry and is
// consumed exactly once, so any instance sharing the store can finish a
// ceremony another began.
//
// The JSON endpoints (all POST bodies are application/json; a request
// carrying an Origin header must come from the issuer's origin):
//
//	POST   /v1/iam/webauthn/register/begin    (SSO session) → {ceremony, mode:"create", publicKey}
//	POST   /v1/iam/webauthn/register/finish   {ceremony, credential, name?} → {status:"ok", data:Passkey}
//	POST   /v1/iam/webauthn/login/begin?<authorize query> → {ceremony, mode:"get", publicKey}
//	POST   /v1/iam/webauthn/login/finish      {ceremony, credential} → {status:"ok", redirect, data:code}
//	POST   /v1/iam/webauthn/mfa/begin         (pending second-factor cookie) → {ceremony, mode, publicKey}
//	POST   /v1/iam/webauthn/mfa/finish        {ceremony, credential} → {status:"ok", redirect?, data}
//	GET    /v1/iam/webauthn/credentials       (SSO session) → {status:"ok", data:[Passkey]}
//	DELETE /v1/iam/webauthn/credentials/{id}  (SSO session) → {status:"ok"}
//	GET    /v1/iam/webauthn                   the passkeys page of the signed-in user
//
// credential is the PublicKeyCredential as JSON (the shape of
// PublicKeyCredential.toJSON(): base64url binary fields). Failures answer
// {status:"error", msg} with 400 (bad ceremony or credential), 401 (no
// session, verification failed) or 501 (WebAuthn unavailable on this
// issuer).
//
// A correct password that needs a second factor (see MFARequired) sets the
// iam_mfa cookie (HttpOnly, SameSite=Strict, 5 minutes) naming the pending
// login: the login page then shows the passkey step, and POST
// /v1/iam/login answers 401 {status:"error", data:{mfa:"passkey"|"enroll",
// begin, finish}}; the mfa endpoints finish it the way the login would have
// (code and redirect for type "code" and the login page, the subject for
// type "login").
//
// These are the paths of those endpoints.
const (
	PathWebAuthn               = "/v1/iam/webauthn"
	PathWebAuthnRegisterBegin  = "/v1/iam/webauthn/register/begin"
	PathWebAuthnRegisterFinish = "/v1/iam/webauthn/register/finish"
	PathWebAuthnLoginBegin     = "/v1/iam/webauthn/login/begin"
	PathWebAuthnLoginFinish    = "/v1/iam/webauthn/login/finish"
	PathWebAuthnMFABegin       = "/v1/iam/webauthn/mfa/begin"
	PathWebAuthnMFAFinish      = "/v1/iam/webauthn/mfa/finish"
	PathWebAuthnCredentials    = "/v1/iam/webauthn/credentials"
)

// ceremonyTTL is how long a begun ceremony may be finished.
const ceremonyTTL = 5 * time.Minute

// webauthnSchema are the WebAuthn tables, appended to the IAM schema.
var webauthnSchema = []string{
	`CREATE TABLE IF NOT EXISTS iam_webauthn_credentials (
		id TEXT PRIMARY KEY,
		org TEXT NOT NULL,
		username TEXT NOT NULL,
		user_handle TEXT NOT NULL,
		name TEXT NOT NULL DEFAULT '',
		public_key TEXT NOT NULL,
		attestation_type TEXT NOT NULL DEFAULT '',
		aaguid TEXT NOT NULL DEFAULT '',
		sign_count BIGINT NOT NULL DEFAULT 0,
		transports TEXT NOT NULL DEFAULT '[]',
		backup_eligible INTEGER NOT NULL DEFAULT 0,
		backup_state INTEGER NOT NULL DEFAULT 0,
		clone_warning INTEGER NOT NULL DEFAULT 0,
		record TEXT NOT NULL,
		created BIGINT NOT NULL,
		last_used BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS iam_webauthn_credentials_user ON iam_webauthn_credentials (org, username)`,
	`CREATE INDEX IF NOT EXISTS iam_webauthn_credentials_handle ON iam_webauthn_credentials (user_handle)`,
	`CREATE TABLE IF NOT EXISTS iam_webauthn_ceremonies (
		id_hash TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		org TEXT NOT NULL DEFAULT '',
		username TEXT NOT NULL DEFAULT '',
		ref TEXT NOT NULL DEFAULT '',
		authz TEXT NOT NULL DEFAULT '',
		session_data TEXT NOT NULL,
		expires BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS iam_webauthn_ceremonies_expires ON iam_webauthn_ceremonies (expires)`,
}

// Passkey is a registered WebAuthn credential, as the API lists it.
type Passkey struct {
	ID             string    `json:"id"` // credential id, base64url
	Name           string    `json:"name,omitempty"`
	SignCount      uint32    `json:"signCount"`
	Transports     []string  `json:"transports,omitempty"`
	BackupEligible bool      `json:"backupEligible"`
	BackupState    bool      `json:"backupState"`
	CloneWarning   bool      `json:"cloneWarning,omitempty"`
	AAGUID         string    `json:"aaguid,omitempty"`
	Created        time.Time `json:"created"`
	LastUsed       time.Time `json:"lastUsed,omitzero"`
}

// b64 is the unpadded base64url encoding of WebAuthn binary fields.
var b64 = base64.RawURLEncoding

// errNoWebAuthn is returned when the issuer cannot be a WebAuthn relying
// party (an IP-address host).
var errNoWebAuthn = errors.New("webauthn: the issuer's host cannot be a relying party ID")

// relyingParty returns the WebAuthn relying party of the issuer, named
// after org (nil: the issuer's host).
func (s *Server) relyingParty(org *Org) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(s.issuer)
	if err != nil {
		return nil, fmt.Errorf("relying party: %w", err)
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return nil, errNoWebAuthn
	}
	name := host
	if org != nil {
		name = org.DisplayName
		if name == "" {
			name = org.Name
		}
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          host,
		RPDisplayName: name,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("relying party: %w", err)
	}
	return wa, nil
}

// webauthnAvailable reports whether passkeys can be used on this issuer.
func (s *Server) webauthnAvailable() bool {
	_, err := s.relyingParty(nil)
	return err == nil
}

// passkeyUser adapts a User and its credentials to webauthn.User.
type passkeyUser struct {
	u      *User
	handle []byte
	creds  []webauthn.Credential
}

func (p *passkeyUser) WebAuthnID() []byte { return p.handle }
func (p *passkeyUser) WebAuthnName() string {
	if p.u.Email != "" {
		return p.u.Email
	}
	return p.u.Username
}
func (p *passkeyUser) WebAuthnDisplayName() string {
	if p.u.DisplayName != "" {
		return p.u.DisplayName
	}
	return p.u.Username
}
func (p *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// loadPasskeyUser returns u with its credentials and user handle (an
// existing credential's, else a new random one).
func (s *Server) loadPasskeyUser(ctx context.Context, u *User) (*passkeyUser, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT user_handle, record FROM iam_webauthn_credentials WHERE org = ? AND username = ? ORDER BY created, id`, u.Org, u.Username)
	if err != nil {
		return nil, fmt.Errorf("load passkeys: %w", err)
	}
	defer rows.Close()
	pu := &passkeyUser{u: u}
	for rows.Next() {
		var handle, record string
		if err := rows.Scan(&handle, &record); err != nil {
			return nil, fmt.Errorf("load passkeys: %w", err)
		}
		c, err := decodeCredential(record)
		if err != nil {
			return nil, fmt.Errorf("load passkeys: %w", err)
		}
		if pu.handle == nil {
			pu.handle, _ = b64.DecodeString(handle)
		}
		pu.creds = append(pu.creds, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load passkeys: %w", err)
	}
	if len(pu.handle) == 0 {
		pu.handle, _ = b64.DecodeString(randomToken(32))
	}
	return pu, nil
}

// storedCredential is a credential row's JSON record: go-webauthn's
// Credential plus the raw authenticator flags, which its JSON form drops.
type storedCredential struct {
	webauthn.Credential
	RawFlags byte `json:"rawFlags"`
}

func encodeCredential(c webauthn.Credential) string {
	b, _ := json.Marshal(storedCredential{Credential: c, RawFlags: c.Flags.MsgpByte()})
	return string(b)
}

func decodeCredential(record string) (webauthn.Credential, error) {
	var sc storedCredential
	if err := json.Unmarshal([]byte(record), &sc.Credential); err != nil {
		return webauthn.Credential{}, err
	}
	var raw struct {
		RawFlags byte `json:"rawFlags"`
	}
	if err := json.Unmarshal([]byte(record), &raw); err != nil {
		return webauthn.Credential{}, err
	}
	sc.Credential.Flags = webauthn.CredentialFlagsFromMsgpByte(raw.RawFlags)
	return sc.Credential, nil
}

func transportsOf(c webauthn.Credential) []string {
	out := make([]string, 0, len(c.Transport))
	for _, t := range c.Transport {
		out = append(out, string(t))
	}
	return out
}

// saveCredential inserts a newly registered credential of pu.
func (s *Server) saveCredential(ctx context.Context, pu *passkeyUser, c *webauthn.Credential, name string) (*Passkey, error) {
	now := s.now()
	id := b64.EncodeToString(c.ID)
	if len(name) > 100 {
		name = name[:100]
	}
	if name == "" {
		name = "Passkey " + now.UTC().Format("2006-01-02 15:04")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO iam_webauthn_credentials (id, org, username, user_handle, name, public_key, attestation_type, aaguid,
		sign_count, transports, backup_eligible, backup_state, clone_warning, record, created, last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
		id, pu.u.Org, pu.u.Username, b64.EncodeToString(pu.handle), name, b64.EncodeToString(c.PublicKey), c.AttestationType,
		b64.EncodeToString(c.Authenticator.AAGUID), int64(c.Authenticator.SignCount), jsonText(transportsOf(*c)),
		b2i(c.Flags.BackupEligible), b2i(c.Flags.BackupState), b2i(c.Authenticator.CloneWarning), encodeCredential(*c), now.Unix())
	if err != nil {
		return nil, fmt.Errorf("save passkey: %w", err)
	}
	return &Passkey{ID: id, Name: name, SignCount: c.Authenticator.SignCount, Transports: transportsOf(*c),
		BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState, AAGUID: b64.EncodeToString(c.Authenticator.AAGUID),
		Created: time.Unix(now.Unix(), 0).UTC()}, nil
}

// touchCredential records a successful assertion: the new sign count,
// backup state, clone warning and last use.
func (s *Server) touchCredential(ctx context.Context, c *webauthn.Credential) error {
	_, err := s.db.ExecContext(ctx, `UPDATE iam_webauthn_credentials SET sign_count = ?, backup_state = ?, clone_warning = ?, record = ?, last_used = ? WHERE id = ?`,
		int64(c.Authenticator.SignCount), b2i(c.Flags.BackupState), b2i(c.Authenticator.CloneWarning), encodeCredential(*c),
		s.now().Unix(), b64.EncodeToString(c.ID))
	if err != nil {
		return fmt.Errorf("update passkey: %w", err)
	}
	return nil
}

// Passkeys returns the passkeys of a user, oldest first.
func (s *Server) Passkeys(ctx context.Context, org, username string) ([]Passkey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, sign_count, transports, backup_eligible, backup_state, clone_warning, aaguid, created, last_used
		FROM iam_webauthn_credentials WHERE org = ? AND username = ? ORDER BY created, id`, org, username)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	defer rows.Close()
	out := []Passkey{}
	for rows.Next() {
		var p Passkey
		var count, created, lastUsed int64
		var transports string
		var be, bs, cw int
		if err := rows.Scan(&p.ID, &p.Name, &count, &transports, &be, &bs, &cw, &p.AAGUID, &created, &lastUsed); err != nil {
			return nil, fmt.Errorf("list passkeys: %w", err)
		}
		json.Unmarshal([]byte(transports), &p.Transports)
		p.SignCount, p.BackupEligible, p.BackupState, p.CloneWarning = uint32(count), be != 0, bs != 0, cw != 0
		p.Created = time.Unix(created, 0).UTC()
		if lastUsed > 0 {
			p.LastUsed = time.Unix(lastUsed, 0).UTC()
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// HasPasskey reports whether the user has registered at least one passkey.
func (s *Server) HasPasskey(ctx context.Context, org, username string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM iam_webauthn_credentials WHERE org = ? AND username = ?`, org, username).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("has passkey: %w", err)
	}
	return n > 0, nil
}

// DeletePasskey removes one passkey of a user; ErrNotFound when the user
// has no passkey with that id.
func (s *Server) DeletePasskey(ctx context.Context, org, username, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM iam_webauthn_credentials WHERE id = ? AND org = ? AND username = ?`, id, org, username)
	if err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ceremony is the server-side state of a begun WebAuthn ceremony.
type ceremony struct {
	kind     string // "register", "login", "mfa"
	org      string
	username string
	ref      string // mfa: the pending second-factor id hash
	authz    authzRequest
	data     webauthn.SessionData
}

// beginCeremony stores c and returns the id the client finishes it with.
func (s *Server) beginCeremony(ctx context.Context, c ceremony) (string, error) {
	now := s.now()
	// Expired ceremonies are few and cheap to drop here, so no instance's
	// janitor needs to know about this table.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM iam_webauthn_ceremonies WHERE expires < ?`, now.Unix()); err != nil {
		return "", fmt.Errorf("begin ceremony: %w", err)
	}
	data, err := json.Marshal(c.data)
	if err != nil {
		return "", fmt.Errorf("begin ceremony: %w", err)
	}
	authz, _ := json.Marshal(c.authz)
	id := randomToken(32)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO iam_webauthn_ceremonies (id_hash, kind, org, username, ref, authz, session_data, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		tokenHash(id), c.kind, c.org, c.username, c.ref, string(authz), string(data), now.Add(ceremonyTTL).Unix()); err != nil {
		return "", fmt.Errorf("begin ceremony: %w", err)
	}
	return id, nil
}

// errBadCeremony is an unknown, expired, already finished or mismatched
// ceremony.
var errBadCeremony = errors.New("webauthn: unknown or expired ceremony")

// takeCeremony consumes the ceremony id of kind: it can be finished once,
// on any instance.
func (s *Server) takeCeremony(ctx context.Context, id, kind string) (*ceremony, error) {
	if id == "" {
		return nil, errBadCeremony
	}
	h := tokenHash(id)
	var c ceremony
	var authz, data string
	var expires int64
	err := s.db.QueryRowContext(ctx, `SELECT kind, org, username, ref, authz, session_data, expires FROM iam_webauthn_ceremonies WHERE id_hash = ?`, h).
		Scan(&c.kind, &c.org, &c.username, &c.ref, &authz, &data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadCeremony
	}
	if err != nil {
		return nil, fmt.Errorf("take ceremony: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM iam_webauthn_ceremonies WHERE id_hash = ?`, h)
	if err != nil {
		return nil, fmt.Errorf("take ceremony: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 || c.kind != kind || expires < s.now().Unix() {
		return nil, errBadCeremony
	}
	if authz != "" {
		json.Unmarshal([]byte(authz), &c.authz)
	}
	if err := json.Unmarshal([]byte(data), &c.data); err != nil {
		return nil, fmt.Errorf("take ceremony: %w", err)
	}
	return &c, nil
}

// beginResponse is the answer of every …/begin endpoint.
type beginResponse struct {
	Ceremony  string `json:"ceremony"`
	Mode      string `json:"mode"` // "create" (navigator.credentials.create) or "get"
	PublicKey any    `json:"publicKey"`
}

// finishRequest is the body of every …/finish endpoint.
type finishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name,omitempty"`
}

// webauthnRequest checks a WebAuthn API request: same-origin when it
// carries an Origin, a JSON body on POST. It writes the refusal and returns
// false when the request is refused.
func (s *Server) webauthnRequest(w http.ResponseWriter, r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && strings.TrimRight(o, "/") != originOf(s.issuer) {
		envelope(w, http.StatusForbidden, false, "Cross-origin requests are not allowed.", nil)
		return false
	}
	if r.Method == http.MethodPost || r.Method == http.MethodDelete {
		if ct := r.Header.Get("Content-Type"); r.Method == http.MethodPost && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
			envelope(w, http.StatusUnsupportedMediaType, false, "The request body must be JSON.", nil)
			return false
		}
	}
	if !s.webauthnAvailable() {
		envelope(w, http.StatusNotImplemented, false, "Passkeys are not available on this issuer (its host is an IP address).", nil)
		return false
	}
	return true
}

// readFinish decodes a finish body (64 KiB max).
func readFinish(w http.ResponseWriter, r *http.Request) (*finishRequest, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var req finishRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Credential) == 0 {
		envelope(w, 400, false, "The request body must be {ceremony, credential}.", nil)
		return nil, false
	}
	return &req, true
}

// serverError logs err and answers a masked 500.
func (s *Server) serverError(w http.ResponseWriter, op string, err error) {
	s.log.Error("iam: "+op, "err", err)
	envelope(w, 500, false, "Something went wrong while processing your request.", nil)
}

// signedInWebAuthnUser checks a passkey API request (webauthnRequest) and
// returns the user of its SSO session, answering 401 when there is none.
func (s *Server) signedInWebAuthnUser(w http.ResponseWriter, r *http.Request) (*User, bool) {
	if !s.webauthnRequest(w, r) {
		return nil, false
	}
	sess, u := s.currentSession(r.Context(), r, "")
	if sess == nil {
		envelope(w, 401, false, "Sign in first.", nil)
		return nil, false
	}
	return u, true
}

// handleRegisterBegin starts the registration of a passkey for the user of
// the SSO session.
func (s *Server) handleRegisterBegin(w http.ResponseWriter, r *http.Request) {
	u, ok := s.signedInWebAuthnUser(w, r)
	if !ok {
		return
	}
	s.beginRegistration(w, r, u, "register", "")
}

// beginRegistration answers a registration options document for u and
// stores the ceremony (kind register, or mfa with ref for enrolment).
func (s *Server) beginRegistration(w http.ResponseWriter, r *http.Request, u *User, kind, ref string) {
	ctx := r.Context()
	org, _ := s.Org(ctx, u.Org)
	wa, err := s.relyingParty(org)
	if err != nil {
		s.serverError(w, "webauthn register", err)
		return
	}
	pu, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		s.serverError(w, "webauthn register", err)
		return
	}
	requireRK := true
	creation, data, err := wa.BeginRegistration(pu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: &requireRK,
			UserVerification: protocol.VerificationPreferred,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()),
	)
	if err != nil {
		s.serverError(w, "webauthn register", err)
		return
	}
	id, err := s.beginCeremony(ctx, ceremony{kind: kind, org: u.Org, username: u.Username, ref: ref, data: *data})
	if err != nil {
		s.serverError(w, "webauthn register", err)
		return
	}
	writeJSON(w, 200, beginResponse{Ceremony: id, Mode: "create", PublicKey: creation.Response})
}

// handleRegisterFinish verifies the attestation and stores the passkey.
func (s *Server) handleRegisterFinish(w http.ResponseWriter, r *http.Request) {
	u, ok := s.signedInWebAuthnUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	req, ok := readFinish(w, r)
	if !ok {
		return
	}
	c, err := s.takeCeremony(ctx, req.Ceremony, "register")
	if err == nil && (c.org != u.Org || c.username != u.Username) {
		err = errBadCeremony
	}
	if err != nil {
		s.ceremonyError(w, r, "webauthn.register", u.Org, u.Username, err)
		return
	}
	pk, err := s.finishRegistration(ctx, r, u, c, req)
	if err != nil {
		s.ceremonyError(w, r, "webauthn.register", u.Org, u.Username, err)
		return
	}
	envelope(w, 200, true, "", pk)
}

// finishRegistration verifies the attestation of req against c and saves
// the credential; it audits the outcome.
func (s *Server) finishRegistration(ctx context.Context, r *http.Request, u *User, c *ceremony, req *finishRequest) (*Passkey, error) {
	ev := requestEvent(r)
	ev.Event, ev.Org, ev.Username, ev.ClientID = "webauthn.register", u.Org, u.Username, c.authz.ClientID
	org, _ := s.Org(ctx, u.Org)
	wa, err := s.relyingParty(org)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.Credential)
	if err != nil {
		return nil, verifyError{err}
	}
	pu, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		return nil, err
	}
	if len(pu.creds) == 0 {
		pu.handle = c.data.UserID
	} else if !bytes.Equal(pu.handle, c.data.UserID) {
		// Another passkey (with a fresh handle) was registered since this
		// ceremony began: a user keeps one handle.
		return nil, verifyError{errors.New("user handle changed during the ceremony")}
	}
	cred, err := wa.CreateCredential(pu, c.data, parsed)
	if err != nil {
		return nil, verifyError{err}
	}
	pk, err := s.saveCredential(ctx, pu, cred, req.Name)
	if err != nil {
		return nil, err
	}
	ev.Result, ev.Detail = "ok", pk.ID
	s.audit(ev)
	return pk, nil
}

// verifyError is a ceremony the client got wrong (a 400/401, not a 500).
type verifyError struct{ err error }

func (e verifyError) Error() string { return "webauthn: " + e.err.Error() }
func (e verifyError) Unwrap() error { return e.err }

// ceremonyError audits a failed ceremony and answers it.
func (s *Server) ceremonyError(w http.ResponseWriter, r *http.Request, event, org, username string, err error) {
	var ve verifyError
	switch {
	case errors.Is(err, errBadCeremony):
		envelope(w, 400, false, "The passkey request expired or was already used. Try again.", nil)
	case errors.As(err, &ve):
		ev := requestEvent(r)
		ev.Event, ev.Result, ev.Org, ev.Username = event, "failure", org, username
		detail := ve.err.Error()
		var pe *protocol.Error
		if errors.As(ve.err, &pe) {
			detail = pe.Type + ": " + pe.Details
		}
		if len(detail) > 200 {
			detail = detail[:200]
		}
		ev.Detail = detail
		s.audit(ev)
		s.log.Info("iam: webauthn verification failed", "event", event, "org", org, "user", username, "err", ve.err)
		envelope(w, 401, false, "The passkey could not be verified.", nil)
	default:
		s.serverError(w, event, err)
	}
}

// handleLoginBegin starts a passwordless login (a discoverable credential)
// for the authorization request in the query string.
func (s *Server) handleLoginBegin(w http.ResponseWriter, r *http.Request) {
	if !s.webauthnRequest(w, r) {
		return
	}
	ctx := r.Context()
	ev := requestEvent(r)
	ev.Event = "webauthn.login"
	if s.refuseLocked(w, r, ipKeys(ev.IP), ev) {
		return
	}
	a := parseAuthz(r.URL.Query())
	app, _, fail, err := s.checkAuthz(ctx, a)
	if err != nil {
		s.serverError(w, "webauthn login", err)
		return
	}
	if fail != nil {
		writeJSON(w, 400, map[string]any{"status": "error", "msg": fail.err.Description, "data": nil,
			"error": fail.err.Code, "error_description": fail.err.Description})
		return
	}
	org, _ := s.Org(ctx, app.Org)
	wa, err := s.relyingParty(org)
	if err != nil {
		s.serverError(w, "webauthn login", err)
		return
	}
	assertion, data, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		s.serverError(w, "webauthn login", err)
		return
	}
	id, err := s.beginCeremony(ctx, ceremony{kind: "login", org: app.Org, authz: a, data: *data})
	if err != nil {
		s.serverError(w, "webauthn login", err)
		return
	}
	writeJSON(w, 200, beginResponse{Ceremony: id, Mode: "get", PublicKey: assertion.Response})
}

// handleLoginFinish verifies a passwordless assertion: the user-verified
// passkey alone signs the user in (it is both factors), starts the SSO
// session and issues the authorization code.
func (s *Server) handleLoginFinish(w http.ResponseWriter, r *http.Request) {
	if !s.webauthnRequest(w, r) {
		return
	}
	ctx := r.Context()
	ev := requestEvent(r)
	ev.Event = "webauthn.login"
	keys := ipKeys(ev.IP)
	if s.refuseLocked(w, r, keys, ev) {
		return
	}
	req, ok := readFinish(w, r)
	if !ok {
		return
	}
	c, err := s.takeCeremony(ctx, req.Ceremony, "login")
	if err != nil {
		s.ceremonyError(w, r, "webauthn.login", "", "", err)
		return
	}
	u, cred, err := s.verifyDiscoverable(ctx, c, req.Credential)
	if err != nil {
		s.countPasskeyFailure(ctx, keys, err)
		s.ceremonyError(w, r, "webauthn.login", c.org, "", err)
		return
	}
	ev.Event, ev.Result, ev.Org, ev.Username, ev.ClientID, ev.Detail = "webauthn.login", "ok", u.Org, u.Username, c.authz.ClientID, b64.EncodeToString(cred.ID)
	if u.Disabled() {
		ev.Result = "disabled"
		s.audit(ev)
		envelope(w, http.StatusUnauthorized, false, "This account cannot sign in.", nil)
		return
	}
	s.audit(ev)
	// A user-verified passkey is possession plus the PIN or biometric that
	// unlocked it: two factors.
	s.completeLogin(w, r, u, c.authz, "", amrOf(false, cred, true))
}

// verifyDiscoverable checks a passwordless assertion against the ceremony
// and returns its user (who must belong to the ceremony's org).
func (s *Server) verifyDiscoverable(ctx context.Context, c *ceremony, body []byte) (*User, *webauthn.Credential, error) {
	org, _ := s.Org(ctx, c.org)
	wa, err := s.relyingParty(org)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, nil, verifyError{err}
	}
	var found *passkeyUser
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		var o, name string
		err := s.db.QueryRowContext(ctx, `SELECT org, username FROM iam_webauthn_credentials WHERE id = ? AND user_handle = ?`,
			b64.EncodeToString(rawID), b64.EncodeToString(userHandle)).Scan(&o, &name)
		if err != nil {
			return nil, fmt.Errorf("unknown credential: %w", err)
		}
		if o != c.org {
			return nil, errors.New("the passkey belongs to another organization")
		}
		u, err := s.User(ctx, o, name)
		if err != nil {
			return nil, err
		}
		found, err = s.loadPasskeyUser(ctx, u)
		return found, err
	}
	cred, err := wa.ValidateDiscoverableLogin(handler, c.data, parsed)
	if err != nil {
		return nil, nil, verifyError{err}
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return nil, nil, verifyError{errors.New("passwordless sign-in requires user verification")}
	}
	if err := s.touchCredential(ctx, cred); err != nil {
		return nil, nil, err
	}
	return found.u, cred, nil
}

// completeLogin ends a successful interactive login for u, who
// authenticated by amr: it starts the SSO session and, for an authorization
// request, issues the code. mode is the JSON login API's type ("code",
// "login") or "" for the login page.
func (s *Server) completeLogin(w http.ResponseWriter, r *http.Request, u *User, a authzRequest, mode, amr string) {
	ctx := r.Context()
	var app *Application
	scope := ""
	if mode != "login" {
		var fail *authzFailure
		var err error
		app, scope, fail, err = s.checkAuthz(ctx, a)
		if err != nil {
			s.serverError(w, "complete login", err)
			return
		}
		if fail != nil {
			writeJSON(w, 400, map[string]any{"status": "error", "msg": fail.err.Description, "data": nil,
				"error": fail.err.Code, "error_description": fail.err.Description})
			return
		}
		if app.Org != u.Org {
			envelope(w, 400, false, "The application does not belong to this organization.", nil)
			return
		}
	}
	sessHash, err := s.startSession(ctx, w, r, u, amr)
	if errors.Is(err, errUserDisabled) {
		// A valid passkey of a disabled account: refused like a failed
		// sign-in, not as a server error.
		envelope(w, http.StatusUnauthorized, false, "This account cannot sign in.", nil)
		return
	}
	if err != nil {
		s.serverError(w, "complete login", err)
		return
	}
	if mode == "login" {
		envelope(w, 200, true, "", u.Subject())
		return
	}
	code, err := s.issueCode(ctx, a, app, u, scope, sessHash, s.now().Unix(), amr)
	if err != nil {
		s.serverError(w, "complete login", err)
		return
	}
	redirect := redirectWith(a.RedirectURI, url.Values{"code": {code}, "state": {a.State}, "iss": {s.issuer}})
	writeJSON(w, 200, map[string]any{"status": "ok", "msg": "", "data": code, "redirect": redirect})
}

// handleCredentials lists (GET) the passkeys of the SSO session's user.
func (s *Server) handleCredentials(w http.ResponseWriter, r *http.Request) {
	u, ok := s.signedInWebAuthnUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	list, err := s.Passkeys(ctx, u.Org, u.Username)
	if err != nil {
		s.serverError(w, "webauthn credentials", err)
		return
	}
	envelope(w, 200, true, "", list)
}

// handleCredentialDelete deletes one passkey of the SSO session's user.
// Under a required MFA policy the last passkey cannot be deleted.
func (s *Server) handleCredentialDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := s.signedInWebAuthnUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	list, err := s.Passkeys(ctx, u.Org, u.Username)
	if err != nil {
		s.serverError(w, "webauthn delete", err)
		return
	}
	if !slices.ContainsFunc(list, func(p Passkey) bool { return p.ID == id }) {
		envelope(w, 404, false, "No such passkey.", nil)
		return
	}
	if org, err := s.Org(ctx, u.Org); err == nil && org.MFA == MFARequired && len(list) <= 1 {
		envelope(w, 409, false, "Your organization requires a passkey: add another before deleting this one.", nil)
		return
	}
	err = s.DeletePasskey(ctx, u.Org, u.Username, id)
	if errors.Is(err, ErrNotFound) {
		envelope(w, 404, false, "No such passkey.", nil)
		return
	}
	if err != nil {
		s.serverError(w, "webauthn delete", err)
		return
	}
	ev := requestEvent(r)
	ev.Event, ev.Result, ev.Org, ev.Username, ev.Detail = "webauthn.delete", "ok", u.Org, u.Username, id
	s.audit(ev)
	envelope(w, 200, true, "", nil)
}

// handlePasskeysPage serves the passkeys page of the signed-in user: the
// list and an "Add a passkey" button.
func (s *Server) handlePasskeysPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, u := s.currentSession(ctx, r, "")
	if sess == nil {
		p := page{Title: "Passkeys", Subtitle: "Sign in to manage your passkeys.", Error: "You are not signed in."}
		brand(&p, nil)
		renderPage(w, http.StatusUnauthorized, p)
		return
	}
	org, _ := s.Org(ctx, u.Org)
	p := page{Title: "Passkeys", Subtitle: "Signed in as " + u.Subject()}
	brand(&p, org)
	if !s.webauthnAvailable() {
		p.Error = "Passkeys are not available on this server."
		renderPage(w, 200, p)
		return
	}
	list, err := s.Passkeys(ctx, u.Org, u.Username)
	if err != nil {
		s.log.Error("iam: passkeys page", "err", err)
		errorPage(w, 500, org, "Something went wrong while processing your request.")
		return
	}
	p.ShowPasskeys = true
	for _, pk := range list {
		p.Passkeys = append(p.Passkeys, pk.Name)
	}
	p.WebAuthn = &webauthnButton{Label: "Add a passkey", Begin: PathWebAuthnRegisterBegin, Finish: PathWebAuthnRegisterFinish, Primary: true}
	renderPage(w, 200, p)
}

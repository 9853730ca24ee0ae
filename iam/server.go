package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hanzoai/base/store"
)

// Config configures a [Server]. Store and Issuer are required.
type Config struct {
	// Store holds the IAM's state, in the database of SystemOrg.
	Store store.Store
	// SystemOrg is the store database used; empty means DefaultSystemOrg.
	SystemOrg string
	// Issuer is the absolute http(s) URL every token carries as iss; the
	// endpoints are served relative to its origin.
	Issuer string
	// DevIssuer, when set, supplies the first signing key (when the store
	// has none), so that tokens of `base token` and of the IAM share a key.
	DevIssuer *DevIssuer
	// KeyAlgorithm is the algorithm of generated keys: AlgRS256 (default,
	// RSA-2048) or AlgES256.
	KeyAlgorithm string
	// KeyRefresh is how often the key ring is reloaded from the store so
	// that rotations by other instances are picked up; 0 means 30 s.
	KeyRefresh time.Duration
	// InitData is the path of an init_data.json to apply on start (create
	// only); empty means none. A missing file is an error.
	InitData string
	// LookupEnv expands ${VAR} in InitData; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Admin, when its Username and Password are set, is created on start if
	// missing as a platform admin (isGlobalAdmin) of Admin.Org (created too;
	// default "built-in").
	Admin BootstrapAdmin
	// Argon2 are the password hashing parameters; zero means DefaultArgon2.
	Argon2 Argon2Params
	// CodeTTL is the lifetime of authorization codes; 0 means 60 s.
	CodeTTL time.Duration
	// DeviceCodeTTL is the lifetime of device codes; 0 means 10 min.
	DeviceCodeTTL time.Duration
	// DeviceInterval is the minimum polling interval of device clients; 0
	// means 5 s.
	DeviceInterval time.Duration
	// SessionTTL is the lifetime of the SSO session cookie; 0 means 24 h.
	SessionTTL time.Duration
	// SecureCookies forces the Secure cookie attribute; otherwise it is set
	// when the request came over TLS (or X-Forwarded-Proto: https).
	SecureCookies bool
	// MaxFailures and LockoutDuration configure login throttling; zero
	// means 5 failures → 15 minutes.
	MaxFailures     int
	LockoutDuration time.Duration
	// BalanceAPI serves the legacy Casdoor balance verbs (spec/iam.md
	// "Balances"): /api/add-balance, /api/add-transaction,
	// /api/get-transactions, /api/get-user-transactions, /api/get-account.
	// Off, they answer the JSON 404 of unknown paths.
	BalanceAPI bool
	// Logger receives errors and audit lines; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// BootstrapAdmin is the first platform admin (see Config.Admin).
type BootstrapAdmin struct {
	Org      string
	Username string
	Password string
	Email    string
}

// Server is the IAM: an OpenID Connect provider over a store. It is safe
// for concurrent use; several Servers (processes) may share one store.
type Server struct {
	cfg       Config
	issuer    string
	systemOrg string
	db        store.DB
	log       *slog.Logger
	now       func() time.Time
	argon     Argon2Params
	keys      keyRing
	handler   http.Handler

	corsMu      sync.Mutex
	corsOrigins map[string]bool
	corsLoaded  time.Time

	auditCh   chan auditEvent
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New opens the IAM over cfg.Store: it creates its tables, a signing key
// when there is none, applies cfg.InitData and cfg.Admin (create-only), and
// starts the audit writer and the janitor. Call Close when done.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("new iam: Store is required")
	}
	issuer, err := normalizeIssuer(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("new iam: %w", err)
	}
	if cfg.SystemOrg == "" {
		cfg.SystemOrg = DefaultSystemOrg
	}
	if cfg.KeyRefresh <= 0 {
		cfg.KeyRefresh = 30 * time.Second
	}
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = time.Minute
	}
	if cfg.DeviceCodeTTL <= 0 {
		cfg.DeviceCodeTTL = 10 * time.Minute
	}
	if cfg.DeviceInterval <= 0 {
		cfg.DeviceInterval = 5 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.LockoutDuration <= 0 {
		cfg.LockoutDuration = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyAlgorithm != "" && cfg.KeyAlgorithm != AlgRS256 && cfg.KeyAlgorithm != AlgES256 {
		return nil, fmt.Errorf("new iam: unsupported KeyAlgorithm %q", cfg.KeyAlgorithm)
	}
	db, err := cfg.Store.Acquire(ctx, cfg.SystemOrg)
	if err != nil {
		return nil, fmt.Errorf("new iam: %w", err)
	}
	s := &Server{
		cfg: cfg, issuer: issuer, systemOrg: cfg.SystemOrg, db: db, log: cfg.Logger, now: cfg.Now, argon: cfg.Argon2,
		auditCh: make(chan auditEvent, 4096), done: make(chan struct{}),
	}
	fail := func(err error) (*Server, error) {
		db.Release()
		return nil, fmt.Errorf("new iam: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if err := s.ensureKey(ctx); err != nil {
		return fail(err)
	}
	if err := s.reloadKeys(ctx); err != nil {
		return fail(err)
	}
	s.wg.Add(2)
	go s.auditWriter()
	go s.janitor()
	if cfg.InitData != "" {
		if err := s.ApplyInitDataFile(ctx, cfg.InitData); err != nil {
			s.Close()
			return nil, fmt.Errorf("new iam: %w", err)
		}
	}
	if cfg.Admin.Username != "" && cfg.Admin.Password != "" {
		if err := s.bootstrapAdmin(ctx, cfg.Admin); err != nil {
			s.Close()
			return nil, fmt.Errorf("new iam: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Close stops the background work, flushes the audit log and releases the
// store database. It does not close the store.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.db.Release()
	})
	return nil
}

// Issuer returns the issuer URL (the iss of every token).
func (s *Server) Issuer() string { return s.issuer }

// Handler returns the IAM's HTTP handler. It serves every endpoint of
// spec/iam.md by full path: mount it at "/" (standalone), or on the
// "/.well-known/" and "/v1/iam/" prefixes next to Base's API.
func (s *Server) Handler() http.Handler { return s.handler }

// LocalClient returns an HTTP client whose requests are served by Handler
// in-process, whatever their URL's host: give it to auth.Config.HTTPClient
// with JWKSURL = Issuer()+PathJWKS so an embedding Base verifies with the
// IAM's live key ring (rotations included) without a network round trip.
func (s *Server) LocalClient() *http.Client {
	return &http.Client{Transport: localTransport{s.handler}}
}

type localTransport struct{ h http.Handler }

func (t localTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// invalidate drops caches derived from orgs and applications.
func (s *Server) invalidate() {
	s.corsMu.Lock()
	s.corsOrigins = nil
	s.corsMu.Unlock()
}

// janitor deletes expired rows every ten minutes.
func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.sweep(context.Background())
		}
	}
}

func (s *Server) sweep(ctx context.Context) {
	now := s.now().Unix()
	for _, q := range []string{
		`DELETE FROM iam_codes WHERE expires < ?`,
		`DELETE FROM iam_refresh WHERE expires < ?`,
		`DELETE FROM iam_grants WHERE expires < ?`,
		`DELETE FROM iam_revoked WHERE expires < ?`,
		`DELETE FROM iam_sessions WHERE expires < ?`,
		`DELETE FROM iam_devices WHERE expires < ?`,
		`DELETE FROM iam_keys WHERE expires > 0 AND expires < ?`,
	} {
		if _, err := s.db.ExecContext(ctx, q, now); err != nil {
			s.log.Error("iam: sweep", "err", err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM iam_throttle WHERE locked_until < ? AND first_failure < ?`, now, now-int64(s.cfg.LockoutDuration.Seconds())); err != nil {
		s.log.Error("iam: sweep", "err", err)
	}
}

// clientIP is the remote address of r without port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// oauthError is an RFC 6749 §5.2 error.
type oauthError struct {
	Status      int
	Code        string
	Description string
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func oerr(status int, code, desc string) *oauthError {
	return &oauthError{Status: status, Code: code, Description: desc}
}

// writeOAuthError answers err: an *oauthError as itself, anything else as
// server_error (details only in the log).
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		s.log.Error("iam: internal error", "path", r.URL.Path, "err", err)
		oe = oerr(http.StatusInternalServerError, "server_error", "Something went wrong while processing your request.")
	}
	if _, _, basic := r.BasicAuth(); basic && oe.Status == http.StatusUnauthorized && oe.Code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="iam"`)
	}
	writeJSON(w, oe.Status, map[string]any{"error": oe.Code, "error_description": oe.Description})
}

// notFound is the JSON 404 for unknown paths.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "not_found", "The requested resource wasn't found.")
}

// cors answers CORS for the allow-listed origins (the origins of the
// applications' redirect URIs), with credentials. It reports whether the
// request was a preflight that has been answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request, methods string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if !s.originAllowed(r.Context(), origin) {
		return r.Method == http.MethodOptions && writePreflightDenied(w)
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func writePreflightDenied(w http.ResponseWriter) bool {
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (s *Server) originAllowed(ctx context.Context, origin string) bool {
	s.corsMu.Lock()
	defer s.corsMu.Unlock()
	if s.corsOrigins == nil || s.now().Sub(s.corsLoaded) > 10*time.Second {
		apps, err := s.Applications(ctx, "")
		if err != nil {
			return false
		}
		m := map[string]bool{}
		for _, a := range apps {
			for _, u := range append(append([]string{}, a.RedirectURIs...), a.PostLogoutURIs...) {
				if o := originOf(u); o != "" {
					m[o] = true
				}
			}
		}
		s.corsOrigins, s.corsLoaded = m, s.now()
	}
	return s.corsOrigins[strings.TrimRight(origin, "/")]
}

func originOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	rest := u[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	return u[:i+3] + rest
}

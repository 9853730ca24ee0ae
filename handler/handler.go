package handler

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/store"
)

// Verifier checks a bearer token and returns its claims. Any error makes
// the request a guest request.
type Verifier interface {
	Verify(ctx context.Context, token string) (map[string]any, error)
}

// Publisher receives committed changes, after their transaction commits.
// Publish must not block on slow consumers.
type Publisher interface {
	Publish(ctx context.Context, events []base.Event)
}

// Config configures the handler. Store is required; everything else has a
// usable zero value.
type Config struct {
	Store     store.Store
	Verifier  Verifier  // nil: every request is a guest
	Publisher Publisher // nil: events are dropped

	Logger *slog.Logger
	Now    func() time.Time

	// Prefix is the API prefix (default "/v1"); "/api" always answers too.
	Prefix string
	// DefaultOrg is a guest's org when neither host nor X-Org-Id name one
	// (default "default").
	DefaultOrg string
	// OrgDomains maps request hosts (without port) to orgs for guests.
	OrgDomains map[string]string

	// IAMAuthorizeURL and IAMClientID describe the IAM's authorization
	// endpoint for auth-methods.
	IAMAuthorizeURL string
	IAMClientID     string
	// IAMAuthorize, when set, is asked for the authorization endpoint on
	// each auth-methods request instead of IAMAuthorizeURL (an external
	// IAM discovered lazily).
	IAMAuthorize func(ctx context.Context) string

	// BatchMax is the maximum number of sub-requests of a batch (default
	// 50; negative disables batch).
	BatchMax int
	// MaxBodySize bounds request bodies (default 32 MiB).
	MaxBodySize int64
	// CORSOrigins restricts CORS to these origins (default any).
	CORSOrigins []string

	// Files stores the files of file fields (nil: uploads are refused and
	// /files answers 404).
	Files files.Storage
	// FileTokenSecret signs the tokens of POST /files/token (HMAC-SHA256).
	// Every instance of a deployment must share it; when empty a random
	// secret is drawn, valid for this process only.
	FileTokenSecret []byte
	// FileTokenTTL is the lifetime of a file token (default 180 s).
	FileTokenTTL time.Duration

	// Jobs configures the crons routes (zero: they answer 404).
	Jobs Jobs
}

// Handler serves the Base API. Create it with New.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	root    http.Handler
	schemas schemaCache // org → *records.Schema, bounded
	thumbs  flight      // thumbnails being generated, by storage key
}

// New validates cfg and returns the API handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("handler: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/v1"
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.DefaultOrg == "" {
		cfg.DefaultOrg = "default"
	}
	if !base.ValidOrg(cfg.DefaultOrg) {
		return nil, fmt.Errorf("handler: invalid default org %q", cfg.DefaultOrg)
	}
	for host, org := range cfg.OrgDomains {
		if !base.ValidOrg(org) {
			return nil, fmt.Errorf("handler: invalid org %q for domain %q", org, host)
		}
	}
	if cfg.BatchMax == 0 {
		cfg.BatchMax = 50
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 32 << 20
	}
	if len(cfg.FileTokenSecret) == 0 {
		cfg.FileTokenSecret = []byte(rand.Text() + rand.Text())
	}
	if cfg.FileTokenTTL <= 0 {
		cfg.FileTokenTTL = defaultFileTokenTTL
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	h.routes()
	h.root = Middleware(cfg)(h.mux)
	return h, nil
}

// Middleware returns the chain every API response goes through (panic
// recovery, one access-log line, security headers, CORS), for mounting
// other routes of the same deployment — the realtime hub — beside the
// handler with identical behaviour.
func Middleware(cfg Config) func(http.Handler) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return chain(next, recoverer(log), accessLog(log), securityHeaders, cors(cfg.CORSOrigins))
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.root.ServeHTTP(w, r)
}

// schema returns db's current schema, reusing the cached snapshot when the
// org's schema version has not changed.
func (h *Handler) schema(ctx context.Context, db store.DB) (*records.Schema, error) {
	cached, _ := h.schemas.Load(db.Org())
	s, err := records.CurrentSchema(ctx, db, cached)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", db.Org(), err)
	}
	if s != cached {
		h.schemas.Store(db.Org(), s)
	}
	return s, nil
}

// publish hands committed events to the publisher.
func (h *Handler) publish(ctx context.Context, events []base.Event) {
	if h.cfg.Publisher == nil || len(events) == 0 {
		return
	}
	h.cfg.Publisher.Publish(context.WithoutCancel(ctx), events)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	httpadapter "github.com/hanzoai/base/adapters/http"
	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/realtime-hub/bus"
	"github.com/hanzoai/base/realtime-hub/bus/redisbus"
	"github.com/hanzoai/base/realtime-hub/hub"
	"github.com/hanzoai/base/store"
)

// Config is everything `base serve` reads from flags and the environment
// (spec/base-v1.md §8).
type Config struct {
	HTTP        string
	Dir         string
	Store       string
	StoreURL    string
	RedisURL    string
	IAMEndpoint string
	IAMIssuer   string
	IAMAudience string
	IAMClientID string
	// The embedded IAM: init_data.json and a first platform admin.
	IAMInitData      string
	IAMAdminOrg      string
	IAMAdminUser     string
	IAMAdminPassword string
	IAMAdminEmail    string
	Prefix           string
	DefaultOrg       string
	OrgDomains       map[string]string
	BatchMax         int
	// TrustedProxyHops is BASE_TRUSTED_PROXY_HOPS: reverse proxies in
	// front whose X-Forwarded-For entries name the client (default 0).
	TrustedProxyHops int
	// RealtimeWriters is BASE_REALTIME_WRITERS: the hub's writer
	// goroutines (0: its default, GOMAXPROCS-1).
	RealtimeWriters int
	// Replay is how long realtime events are kept for clients resuming
	// with Last-Event-ID (BASE_REALTIME_REPLAY, default 60s).
	Replay    time.Duration
	LogLevel  slog.Level
	LogFormat string
	// File storage (BASE_FILES=local|s3, S3_*) and the file token key
	// (BASE_FILE_TOKEN_SECRET; default: a key file in Dir).
	Files config.Files
	// Scheduler may run jobs over HTTP besides platform superusers
	// (BASE_SCHEDULER_*; both audience and email, or neither).
	Scheduler config.Scheduler
	// EnvErr holds the environment values that could not be used (e.g.
	// BASE_SCHEDULER_* set half, S3_FORCE_PATH_STYLE not a boolean); Run
	// refuses to start with them rather than silently ignoring them.
	EnvErr error
}

// ConfigFromEnv reads the environment through getenv, with defaults.
func ConfigFromEnv(getenv func(string) string) Config {
	get := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		HTTP:        get("BASE_HTTP", "127.0.0.1:8090"),
		Dir:         get("BASE_DIR", "./base_data"),
		Store:       get("BASE_STORE", "sqlite"),
		StoreURL:    getenv("BASE_STORE_URL"),
		RedisURL:    getenv("BASE_REDIS_URL"),
		IAMEndpoint: getenv("IAM_ENDPOINT"),
		IAMIssuer:   getenv("IAM_ISSUER"),
		IAMAudience: getenv("IAM_AUDIENCE"),
		IAMClientID: get("IAM_CLIENT_ID", "base"),
		IAMInitData: getenv("IAM_INIT_DATA"),
		IAMAdminOrg: getenv("IAM_ADMIN_ORG"), IAMAdminUser: getenv("IAM_ADMIN_USER"),
		IAMAdminPassword: getenv("IAM_ADMIN_PASSWORD"), IAMAdminEmail: getenv("IAM_ADMIN_EMAIL"),
		Prefix:     get("BASE_API_PREFIX", "/v1"),
		DefaultOrg: get("BASE_DEFAULT_ORG", "default"),
		OrgDomains: map[string]string{},
		LogFormat:  get("BASE_LOG_FORMAT", "text"),
	}
	cfg.Replay = 60 * time.Second
	if d, err := time.ParseDuration(getenv("BASE_REALTIME_REPLAY")); err == nil && d > 0 {
		cfg.Replay = d
	}
	if n, err := strconv.Atoi(getenv("BASE_BATCH_MAX")); err == nil {
		cfg.BatchMax = n
	}
	for _, pair := range strings.Split(getenv("BASE_ORG_DOMAINS"), ",") {
		if host, org, ok := strings.Cut(strings.TrimSpace(pair), "="); ok {
			cfg.OrgDomains[strings.ToLower(strings.TrimSpace(host))] = strings.TrimSpace(org)
		}
	}
	_ = cfg.LogLevel.UnmarshalText([]byte(get("BASE_LOG_LEVEL", "info")))
	var schedErr, filesErr, hopsErr error
	cfg.Scheduler, schedErr = config.SchedulerFromEnv(getenv)
	cfg.Files, filesErr = config.FilesFromEnv(getenv)
	if v := getenv("BASE_TRUSTED_PROXY_HOPS"); v != "" {
		if cfg.TrustedProxyHops, hopsErr = strconv.Atoi(v); hopsErr != nil || cfg.TrustedProxyHops < 0 {
			hopsErr = fmt.Errorf("BASE_TRUSTED_PROXY_HOPS=%q: not a count", v)
		}
	}
	var writersErr error
	if v := getenv("BASE_REALTIME_WRITERS"); v != "" {
		if cfg.RealtimeWriters, writersErr = strconv.Atoi(v); writersErr != nil || cfg.RealtimeWriters < 1 {
			writersErr = fmt.Errorf("BASE_REALTIME_WRITERS=%q: want a positive integer", v)
		}
	}
	cfg.EnvErr = errors.Join(schedErr, filesErr, hopsErr, writersErr)
	return cfg
}

// Main wires and runs a single-node Base: the API over SQLite, the
// embedded dev IAM (unless IAM_ENDPOINT names an external one) and a plain
// HTTP server. End-to-end tests start it as a process.
type Main struct {
	Config Config
	Logger *slog.Logger

	store store.Store
}

// NewMain returns a Main logging to logw.
func NewMain(cfg Config, logw io.Writer) *Main {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(logw, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(logw, opts)
	}
	return &Main{Config: cfg, Logger: slog.New(h)}
}

// Run serves until ctx is done, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	defer m.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) {
		m.Logger.Error("stopping", "err", err)
		cancel(err)
	}
	cfg := m.Config
	if cfg.EnvErr != nil {
		return cfg.EnvErr
	}
	st, err := openStore(cfg, m.Logger)
	if err != nil {
		return err
	}
	m.store = st

	hcfg := handler.Config{
		Store:      m.store,
		Logger:     m.Logger,
		Prefix:     cfg.Prefix,
		DefaultOrg: cfg.DefaultOrg,
		OrgDomains: cfg.OrgDomains,
		BatchMax:   cfg.BatchMax,
	}
	if hcfg.Files, err = openFiles(cfg); err != nil {
		return err
	}
	if hcfg.FileTokenSecret, err = fileTokenSecret(cfg); err != nil {
		return err
	}
	// Scheduled jobs: the runner below, and the crons routes.
	reg, err := config.Jobs(m.store, m.Logger)
	if err != nil {
		return err
	}
	hcfg.Jobs = config.Crons(reg, cfg.Scheduler)
	var issuerHandler http.Handler
	if cfg.IAMEndpoint == "" {
		// The embedded IAM: its first signing key is the dev issuer's, so
		// tokens of `base token` and of the login flow share one key ring.
		dev, err := iam.OpenDevIssuer(cfg.Dir, "http://"+listenHost(cfg.HTTP))
		if err != nil {
			return fmt.Errorf("open embedded IAM key: %w", err)
		}
		idp := startIAM(ctx, iam.Config{
			Store: m.store, Issuer: dev.Issuer(), DevIssuer: dev,
			InitData: cfg.IAMInitData, Logger: m.Logger,
			Admin: iam.BootstrapAdmin{Org: cfg.IAMAdminOrg, Username: cfg.IAMAdminUser, Password: cfg.IAMAdminPassword, Email: cfg.IAMAdminEmail},
		}, fail)
		defer idp.Close()
		v, err := auth.New(ctx, auth.Config{
			Issuer: dev.Issuer(), Audience: cfg.IAMAudience,
			Keys:       dev.PublicKeys(),            // `base token` tokens, always
			JWKSURL:    dev.Issuer() + iam.PathJWKS, // the live key ring, rotations included
			HTTPClient: idp.client(),                // answered in-process
		})
		if err != nil {
			return fmt.Errorf("token verifier: %w", err)
		}
		hcfg.Verifier = v
		hcfg.IAMAuthorizeURL = dev.Issuer() + iam.PathAuthorize
		hcfg.IAMClientID = cfg.IAMClientID
		issuerHandler = idp
		if err := reg.Add(jobs.IAMCleanup(func(ctx context.Context) (jobs.Cleaner, error) {
			srv, err := idp.wait(ctx)
			if err != nil {
				return nil, err
			}
			return srv, nil
		}, m.Logger)); err != nil {
			return err
		}
	} else {
		endpoint := strings.TrimRight(cfg.IAMEndpoint, "/")
		v := auth.NewDiscovering(endpoint, auth.Config{Issuer: cfg.IAMIssuer, Audience: cfg.IAMAudience})
		hcfg.Verifier = v
		hcfg.IAMAuthorize = func(ctx context.Context) string {
			if d, err := v.Document(ctx); err == nil && d.AuthorizationEndpoint != "" {
				return d.AuthorizationEndpoint
			}
			return endpoint + "/v1/iam/oauth/authorize"
		}
		hcfg.IAMClientID = cfg.IAMClientID
	}
	// Realtime: the embedded hub receives committed events through the
	// in-process bus, or through Redis when BASE_REDIS_URL is set (several
	// base serve processes then see each other's writes).
	var evbus interface {
		bus.Bus
		Close() error
	}
	if cfg.RedisURL != "" {
		rb, err := redisbus.New(redisbus.Config{URL: cfg.RedisURL, Logger: m.Logger, Window: cfg.Replay})
		if err != nil {
			return fmt.Errorf("realtime bus: %w", err)
		}
		evbus = rb
	} else {
		evbus = bus.NewMemory(bus.MemoryConfig{Window: cfg.Replay})
	}
	defer evbus.Close()
	hcfg.Publisher = evbus
	api, err := handler.New(hcfg)
	if err != nil {
		return err
	}
	// The runner stops (and its running jobs return) before the IAM, bus
	// and store close: deferred after them, it runs first.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		jobs.NewRunner(reg, m.Logger).Run(jobsCtx)
	}()
	defer func() {
		stopJobs()
		<-jobsDone
	}()
	rt, err := hub.New(hub.Config{
		Store: m.store, Bus: evbus, Verifier: hcfg.Verifier, Logger: m.Logger,
		Prefix: cfg.Prefix, DefaultOrg: cfg.DefaultOrg, OrgDomains: cfg.OrgDomains,
		ResumeWindow: cfg.Replay, Writers: cfg.RealtimeWriters,
	})
	if err != nil {
		return fmt.Errorf("realtime hub: %w", err)
	}
	defer rt.Close()
	mux := http.NewServeMux()
	realtime := handler.Middleware(hcfg)(rt.Handler())
	prefixes := []string{"/" + strings.Trim(cfg.Prefix, "/")}
	if prefixes[0] != "/api" {
		prefixes = append(prefixes, "/api")
	}
	for _, p := range prefixes {
		mux.Handle(p+"/realtime", realtime)
		mux.Handle(p+"/realtime/ws", realtime)
	}
	if issuerHandler != nil {
		mux.Handle("/.well-known/", issuerHandler)
		mux.Handle("/v1/iam/", issuerHandler)
	}
	mux.Handle("/", api)
	root := http.Handler(mux)
	err = httpadapter.Serve(ctx, httpadapter.Config{
		Addr: cfg.HTTP, Handler: root, Logger: m.Logger, TrustedProxyHops: cfg.TrustedProxyHops,
		OnShutdown: func() { rt.Close() },
	}, func(a net.Addr) {
		m.Logger.Info("base serving", "addr", a.String(), "dir", cfg.Dir, "store", cfg.Store)
	})
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
		return cause
	}
	return nil
}

// listenHost turns a listen address into the host:port clients use: an
// empty or unspecified host is loopback.
func listenHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Close releases the store.
func (m *Main) Close() error {
	if m.store != nil {
		return m.store.Close()
	}
	return nil
}

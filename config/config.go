// Package config reads the environment of spec/base-v1.md §8 into a typed
// Config and wires the API handler from it (store, token verifier,
// handler) for the serverless mains: cmd/base-lambda and cmd/base-cloudrun.
// Unlike `base serve` it never embeds the development IAM: tokens are
// checked against the external IAM named by IAM_ENDPOINT.
package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/realtime-hub/bus/redisbus"
)

// Config is the deployment configuration read from the environment.
type Config struct {
	HTTP        string            // BASE_HTTP: listen address (plain HTTP only)
	Dir         string            // BASE_DIR: data directory
	Store       string            // BASE_STORE: sqlite, postgres, libsql
	StoreURL    string            // BASE_STORE_URL
	RedisURL    string            // BASE_REDIS_URL: realtime bus; "" = in-process
	IAMEndpoint string            // IAM_ENDPOINT: external IAM origin
	IAMIssuer   string            // IAM_ISSUER: overrides the discovered issuer
	IAMAudience string            // IAM_AUDIENCE
	IAMClientID string            // IAM_CLIENT_ID (default "base")
	Prefix      string            // BASE_API_PREFIX (default "/v1")
	DefaultOrg  string            // BASE_DEFAULT_ORG (default "default")
	OrgDomains  map[string]string // BASE_ORG_DOMAINS: host=org,host=org
	BatchMax    int               // BASE_BATCH_MAX (0: handler default)
	MaxBodySize int64             // BASE_MAX_BODY_SIZE in bytes (0: handler default)
	LogLevel    slog.Level        // BASE_LOG_LEVEL (default info)

	// TrustedProxyHops is BASE_TRUSTED_PROXY_HOPS: how many reverse
	// proxies in front append to X-Forwarded-For (httpadapter.ClientIP).
	TrustedProxyHops int

	// Files is BASE_FILES, S3_* and BASE_FILE_TOKEN_SECRET (FilesFromEnv);
	// its Dir is filled from Dir by FilesConfig.
	Files Files

	// Scheduler is who may run jobs over HTTP besides platform
	// superusers (BASE_SCHEDULER_*).
	Scheduler Scheduler
}

// FilesConfig returns the file storage part of cfg.
func (cfg Config) FilesConfig() Files {
	fc := cfg.Files
	fc.Dir = cfg.Dir
	return fc
}

// FromEnv reads the configuration through getenv (os.Getenv in mains, a
// map lookup in tests), applying the defaults of spec/base-v1.md §8. It
// fails on a value it cannot parse, naming the variable.
func FromEnv(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		HTTP:        get("BASE_HTTP", "127.0.0.1:8090"),
		Dir:         get("BASE_DIR", "./base_data"),
		Store:       get("BASE_STORE", "sqlite"),
		StoreURL:    get("BASE_STORE_URL", ""),
		RedisURL:    get("BASE_REDIS_URL", ""),
		IAMEndpoint: get("IAM_ENDPOINT", ""),
		IAMIssuer:   get("IAM_ISSUER", ""),
		IAMAudience: get("IAM_AUDIENCE", ""),
		IAMClientID: get("IAM_CLIENT_ID", "base"),
		Prefix:      get("BASE_API_PREFIX", "/v1"),
		DefaultOrg:  get("BASE_DEFAULT_ORG", "default"),
		OrgDomains:  map[string]string{},
	}
	var errs []error
	fc, err := FilesFromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Files = fc
	sc, err := SchedulerFromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Scheduler = sc
	if v := get("BASE_BATCH_MAX", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("BASE_BATCH_MAX=%q: not an integer", v))
		}
		cfg.BatchMax = n
	}
	if v := get("BASE_TRUSTED_PROXY_HOPS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("BASE_TRUSTED_PROXY_HOPS=%q: not a count", v))
		}
		cfg.TrustedProxyHops = n
	}
	if v := get("BASE_MAX_BODY_SIZE", ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("BASE_MAX_BODY_SIZE=%q: not a byte count", v))
		}
		cfg.MaxBodySize = n
	}
	for _, pair := range strings.Split(getenv("BASE_ORG_DOMAINS"), ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		host, org, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(host) == "" || strings.TrimSpace(org) == "" {
			errs = append(errs, fmt.Errorf("BASE_ORG_DOMAINS: %q is not host=org", pair))
			continue
		}
		cfg.OrgDomains[strings.ToLower(strings.TrimSpace(host))] = strings.TrimSpace(org)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(get("BASE_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("BASE_LOG_LEVEL: %w", err))
	}
	switch cfg.Store {
	case "sqlite", "postgres", "libsql":
	default:
		errs = append(errs, fmt.Errorf("BASE_STORE=%q: want sqlite, postgres or libsql", cfg.Store))
	}
	switch cfg.Files.Kind {
	case "local", "s3":
	default:
		errs = append(errs, fmt.Errorf("BASE_FILES=%q: want local or s3", cfg.Files.Kind))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Deployment is what OpenDeployment wires: the API handler, the registry
// of scheduled jobs it serves (and that adapters trigger), and what to
// close.
type Deployment struct {
	Handler http.Handler
	Jobs    *jobs.Registry
	closers closeAll
}

// Close closes the store, bus and the rest, in reverse order of opening.
func (d *Deployment) Close() error { return d.closers.Close() }

// Open is OpenDeployment for callers that need only the handler and a
// Closer.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (http.Handler, io.Closer, error) {
	d, err := OpenDeployment(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return d.Handler, d, nil
}

// OpenDeployment opens the store, file storage and realtime bus cfg names,
// builds the token verifier for the external IAM (discovered lazily: no
// network at start-up), the registry of built-in jobs (see Jobs) served
// on the crons routes (see Crons), and returns the API handler with them.
// Without IAM_ENDPOINT every request is a guest (logged as a warning).
// With BASE_REDIS_URL, committed changes are published to Redis for the
// realtime hub; without it they are not published (a serverless handler
// has no hub of its own).
func OpenDeployment(ctx context.Context, cfg Config, log *slog.Logger) (*Deployment, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var closers closeAll
	fail := func(err error) (*Deployment, error) {
		closers.Close()
		return nil, err
	}
	st, err := OpenStore(cfg.Store, cfg.StoreURL, cfg.Dir, log)
	if err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	closers = append(closers, st.Close)
	hcfg := handler.Config{
		Store:       st,
		Logger:      log,
		Prefix:      cfg.Prefix,
		DefaultOrg:  cfg.DefaultOrg,
		OrgDomains:  cfg.OrgDomains,
		BatchMax:    cfg.BatchMax,
		MaxBodySize: cfg.MaxBodySize,
		IAMClientID: cfg.IAMClientID,
	}
	reg, err := Jobs(st, log)
	if err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	hcfg.Jobs = Crons(reg, cfg.Scheduler)
	if hcfg.Files, err = OpenFiles(cfg.FilesConfig()); err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	if hcfg.FileTokenSecret, err = FileTokenSecret(cfg.FilesConfig()); err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	if cfg.RedisURL != "" {
		rb, err := redisbus.New(redisbus.Config{URL: cfg.RedisURL, Logger: log})
		if err != nil {
			return fail(fmt.Errorf("config: realtime bus: %w", err))
		}
		closers = append(closers, rb.Close)
		hcfg.Publisher = rb
	}
	if cfg.IAMEndpoint == "" {
		log.Warn("IAM_ENDPOINT is not set: no token is accepted, every request is a guest")
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
	}
	h, err := handler.New(hcfg)
	if err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	return &Deployment{Handler: h, Jobs: reg, closers: closers}, nil
}

// closeAll closes in reverse order of opening.
type closeAll []func() error

func (c closeAll) Close() error {
	var errs []error
	for i := len(c) - 1; i >= 0; i-- {
		errs = append(errs, c[i]())
	}
	return errors.Join(errs...)
}

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
	"time"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/sqlite"
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
	Files       string            // BASE_FILES: local or s3 (default local)
	LogLevel    slog.Level        // BASE_LOG_LEVEL (default info)
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
		Files:       get("BASE_FILES", "local"),
	}
	var errs []error
	if v := get("BASE_BATCH_MAX", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("BASE_BATCH_MAX=%q: not an integer", v))
		}
		cfg.BatchMax = n
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
	switch cfg.Files {
	case "local", "s3":
	default:
		errs = append(errs, fmt.Errorf("BASE_FILES=%q: want local or s3", cfg.Files))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Open opens the store cfg names, builds the token verifier for the
// external IAM (discovering its endpoints, with a fallback to canonical
// paths when discovery is unreachable) and returns the API handler and a
// Closer that releases the store. Without IAM_ENDPOINT every request is a
// guest (logged as a warning). Drivers and features that are not built
// yet are errors, never silently replaced.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (http.Handler, io.Closer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.RedisURL != "" {
		return nil, nil, errors.New("config: BASE_REDIS_URL is set, but the Redis bus is not built yet")
	}
	if cfg.Files != "" && cfg.Files != "local" {
		return nil, nil, fmt.Errorf("config: BASE_FILES=%q is not built yet", cfg.Files)
	}
	st, err := openStore(cfg, log)
	if err != nil {
		return nil, nil, err
	}
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
	if cfg.IAMEndpoint == "" {
		log.Warn("IAM_ENDPOINT is not set: no token is accepted, every request is a guest")
	} else {
		v, authorize, err := verifier(ctx, cfg, log)
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		hcfg.Verifier = v
		hcfg.IAMAuthorizeURL = authorize
	}
	h, err := handler.New(hcfg)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return h, st, nil
}

// openStore opens the driver cfg.Store names, with an explicit switch.
func openStore(cfg Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store {
	case "sqlite", "":
		st, err := sqlite.Open(sqlite.Config{Dir: cfg.Dir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("config: open sqlite store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("config: BASE_STORE=%q is not built yet (want sqlite)", cfg.Store)
	}
}

// verifier discovers the external IAM, falling back to its canonical
// paths when discovery is unreachable, as `base serve` does.
func verifier(ctx context.Context, cfg Config, log *slog.Logger) (*auth.Verifier, string, error) {
	endpoint := strings.TrimRight(cfg.IAMEndpoint, "/")
	issuer, jwks, authorize := endpoint, endpoint+"/v1/iam/.well-known/jwks", endpoint+"/v1/iam/oauth/authorize"
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if d, err := auth.Discover(dctx, nil, endpoint); err != nil {
		log.Warn("IAM discovery failed; using canonical paths", "endpoint", endpoint, "err", err)
	} else {
		issuer, jwks = d.Issuer, d.JWKSURI
		if d.AuthorizationEndpoint != "" {
			authorize = d.AuthorizationEndpoint
		}
	}
	if cfg.IAMIssuer != "" {
		issuer = cfg.IAMIssuer
	}
	v, err := auth.New(ctx, auth.Config{Issuer: issuer, Audience: cfg.IAMAudience, JWKSURL: jwks})
	if err != nil {
		return nil, "", fmt.Errorf("config: token verifier: %w", err)
	}
	return v, authorize, nil
}

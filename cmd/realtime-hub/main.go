// Command realtime-hub is the long-lived realtime hub of a Base deployment
// whose API runs elsewhere (Lambda, Cloud Run, several `base serve`): it
// serves /v1/realtime (SSE) and /v1/realtime/ws, receives committed events
// through Redis (BASE_REDIS_URL) and reads schemas and rules from the same
// store as the API.
//
// Environment: BASE_HUB_HTTP (listen address; else BASE_HTTP; else
// 0.0.0.0:$PORT when the platform sets PORT, as Cloud Run does; else
// 127.0.0.1:8091), BASE_DIR, BASE_STORE (sqlite, postgres, libsql) and
// BASE_STORE_URL, BASE_REDIS_URL (required), IAM_ENDPOINT,
// IAM_ISSUER, IAM_AUDIENCE, BASE_API_PREFIX, BASE_DEFAULT_ORG,
// BASE_ORG_DOMAINS (host=org,...), BASE_REALTIME_REPLAY (default 60s),
// BASE_REALTIME_WRITERS (goroutines writing events to client sockets;
// default GOMAXPROCS-1, at least 1).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/realtime-hub/bus/redisbus"
	"github.com/hanzoai/base/realtime-hub/hub"
)

// Config is what the hub reads from the environment.
type Config struct {
	HTTP, Dir, Store, StoreURL       string
	RedisURL                         string
	IAMEndpoint, IAMIssuer, Audience string
	Prefix, DefaultOrg               string
	OrgDomains                       map[string]string
	Replay                           time.Duration
	Writers                          int // 0: the hub's default
}

// ConfigFromEnv reads Config through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		HTTP: listenAddr(getenv), Dir: get("BASE_DIR", "./base_data"),
		Store: get("BASE_STORE", "sqlite"), StoreURL: getenv("BASE_STORE_URL"), RedisURL: getenv("BASE_REDIS_URL"),
		IAMEndpoint: getenv("IAM_ENDPOINT"), IAMIssuer: getenv("IAM_ISSUER"), Audience: getenv("IAM_AUDIENCE"),
		Prefix: get("BASE_API_PREFIX", "/v1"), DefaultOrg: get("BASE_DEFAULT_ORG", "default"),
		OrgDomains: map[string]string{}, Replay: 60 * time.Second,
	}
	for _, pair := range strings.Split(getenv("BASE_ORG_DOMAINS"), ",") {
		if host, org, ok := strings.Cut(strings.TrimSpace(pair), "="); ok {
			cfg.OrgDomains[strings.ToLower(strings.TrimSpace(host))] = strings.TrimSpace(org)
		}
	}
	if s := getenv("BASE_REALTIME_REPLAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return cfg, fmt.Errorf("BASE_REALTIME_REPLAY: %w", err)
		}
		cfg.Replay = d
	}
	if s := getenv("BASE_REALTIME_WRITERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("BASE_REALTIME_WRITERS: want a positive integer, got %q", s)
		}
		cfg.Writers = n
	}
	if cfg.RedisURL == "" {
		return cfg, errors.New("BASE_REDIS_URL is required: a standalone hub receives events through Redis")
	}
	return cfg, nil
}

// listenAddr is the hub's listen address: BASE_HUB_HTTP, else BASE_HTTP
// (the name the rest of Base uses, and the ECS task definition sets), else
// every interface on $PORT (Cloud Run), else loopback 8091 for a laptop.
func listenAddr(getenv func(string) string) string {
	for _, k := range []string{"BASE_HUB_HTTP", "BASE_HTTP"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	if p := getenv("PORT"); p != "" {
		return net.JoinHostPort("0.0.0.0", p)
	}
	return "127.0.0.1:8091"
}

// Main wires and runs the hub.
type Main struct {
	Config  Config
	Logger  *slog.Logger
	closers []func() error
	srv     *http.Server
	addr    atomic.Value // string: the bound listen address, once Run listens
}

// Addr is the address Run listens on, or "" before it listens.
func (m *Main) Addr() string {
	a, _ := m.addr.Load().(string)
	return a
}

// Run opens the store, the bus and the verifier and serves until ctx ends.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	st, err := config.OpenStore(cfg.Store, cfg.StoreURL, cfg.Dir, m.Logger)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, st.Close)
	b, err := redisbus.New(redisbus.Config{URL: cfg.RedisURL, Window: cfg.Replay, Logger: m.Logger})
	if err != nil {
		return err
	}
	m.closers = append(m.closers, b.Close)
	hcfg := hub.Config{
		Store: st, Bus: b, Logger: m.Logger, Prefix: cfg.Prefix, DefaultOrg: cfg.DefaultOrg,
		OrgDomains: cfg.OrgDomains, ResumeWindow: cfg.Replay, Writers: cfg.Writers,
	}
	if cfg.IAMEndpoint != "" {
		hcfg.Verifier = auth.NewDiscovering(cfg.IAMEndpoint, auth.Config{Issuer: cfg.IAMIssuer, Audience: cfg.Audience})
	}
	h, err := hub.New(hcfg)
	if err != nil {
		return err
	}
	m.closers = append([]func() error{h.Close}, m.closers...)
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTP, err)
	}
	m.srv = &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	m.addr.Store(ln.Addr().String())
	m.Logger.Info("realtime hub listening", "addr", ln.Addr().String(), "node", h.Node())
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// Close stops the server and releases everything Run opened.
func (m *Main) Close() error {
	var errs []error
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, m.srv.Shutdown(ctx))
	}
	for _, c := range m.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("realtime-hub: config", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Config: cfg, Logger: log}
	err = m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Error("realtime-hub", "err", err)
		os.Exit(1)
	}
}

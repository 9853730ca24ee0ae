// Command iam runs Base's OpenID Connect provider on its own (the same IAM
// `base serve` embeds), over any store driver: SQLite files in --dir by
// default, PostgreSQL or libSQL with BASE_STORE and BASE_STORE_URL (read by
// package config, as `base serve` and the serverless mains read them).
//
// Several iam processes may share one PostgreSQL (or libSQL) store: the
// store is the shared state. SSO sessions, authorization and device codes,
// refresh-token families and login-throttling counters are rows of the IAM's
// tables, written in the store's transactions, so every instance sees and
// enforces the same state at once; no Redis is needed (BASE_REDIS_URL is
// not read).
//
// Environment (flags mirror the first five):
//
//	IAM_HTTP / --http            listen address (127.0.0.1:8000)
//	IAM_DIR / --dir              SQLite data directory (./iam_data; BASE_DIR when IAM_DIR is unset)
//	BASE_STORE / --store         sqlite (default), postgres or libsql
//	BASE_STORE_URL / --store-url postgres://… or the libSQL URL template with {org}
//	IAM_INIT_DATA / --init-data  init_data.json to apply on start (create only)
//	IAM_ISSUER                   issuer URL (http://<listen address>)
//	IAM_ADMIN_ORG, IAM_ADMIN_USER, IAM_ADMIN_PASSWORD, IAM_ADMIN_EMAIL
//	                             first platform admin (created when missing)
//	IAM_KEY_ALG                  RS256 (default) or ES256 for generated keys
//	IAM_DEVICE_INTERVAL          device polling interval (5s)
//	IAM_CODE_TTL                 authorization code lifetime (60s)
//	IAM_ARGON2                   argon2id "memoryKiB,time,threads" (19456,2,1)
//	IAM_SECURE_COOKIES           "true" forces Secure cookies (behind TLS proxies)
//	IAM_BALANCE_API              "true" serves the legacy balance verbs (/api/add-balance, …)
//	IAM_LOG_LEVEL                debug, info (default), warn, error
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	httpadapter "github.com/hanzoai/base/adapters/http"
	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/iam"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// Config is what cmd/iam reads from flags and the environment.
type Config struct {
	HTTP     string
	Dir      string
	Store    string // sqlite, postgres or libsql
	StoreURL string
	InitData string
	IAM      iam.Config
	LogLevel slog.Level
}

// ConfigFromEnv reads the environment through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{HTTP: "127.0.0.1:8000", Dir: "./iam_data"}
	bc, err := config.FromEnv(getenv)
	if err != nil {
		return c, err
	}
	c.Store, c.StoreURL = bc.Store, bc.StoreURL
	if v := getenv("IAM_HTTP"); v != "" {
		c.HTTP = v
	}
	if v := getenv("IAM_DIR"); v != "" {
		c.Dir = v
	} else if v := getenv("BASE_DIR"); v != "" {
		c.Dir = v
	}
	c.InitData = getenv("IAM_INIT_DATA")
	c.IAM.Issuer = getenv("IAM_ISSUER")
	c.IAM.Admin = iam.BootstrapAdmin{Org: getenv("IAM_ADMIN_ORG"), Username: getenv("IAM_ADMIN_USER"),
		Password: getenv("IAM_ADMIN_PASSWORD"), Email: getenv("IAM_ADMIN_EMAIL")}
	c.IAM.KeyAlgorithm = getenv("IAM_KEY_ALG")
	c.IAM.SecureCookies = getenv("IAM_SECURE_COOKIES") == "true"
	c.IAM.BalanceAPI = getenv("IAM_BALANCE_API") == "true"
	for name, dst := range map[string]*time.Duration{"IAM_DEVICE_INTERVAL": &c.IAM.DeviceInterval, "IAM_CODE_TTL": &c.IAM.CodeTTL} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s: %w", name, err)
			}
			*dst = d
		}
	}
	if v := getenv("IAM_ARGON2"); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) != 3 {
			return c, errors.New("IAM_ARGON2: want memoryKiB,time,threads")
		}
		m, err1 := strconv.ParseUint(parts[0], 10, 32)
		t, err2 := strconv.ParseUint(parts[1], 10, 32)
		p, err3 := strconv.ParseUint(parts[2], 10, 8)
		if err := errors.Join(err1, err2, err3); err != nil || m == 0 || t == 0 || p == 0 {
			return c, fmt.Errorf("IAM_ARGON2: invalid %q", v)
		}
		c.IAM.Argon2 = iam.Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}
	}
	if v := getenv("IAM_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("IAM_LOG_LEVEL: %w", err)
		}
	}
	return c, nil
}

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "iam: %v\n", err)
		return 2
	}
	fs := flag.NewFlagSet("iam", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "listen address")
	fs.StringVar(&cfg.Dir, "dir", cfg.Dir, "SQLite data directory")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "store driver: sqlite, postgres or libsql")
	fs.StringVar(&cfg.StoreURL, "store-url", cfg.StoreURL, "store URL (postgres, libsql)")
	fs.StringVar(&cfg.InitData, "init-data", cfg.InitData, "init_data.json to apply on start")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Config: cfg, Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "iam: %v\n", err)
		return 1
	}
	return 0
}

// Main wires the store, the IAM and the HTTP server.
type Main struct {
	Config Config
	Logger *slog.Logger
}

// Run serves until ctx is done.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	st, err := config.OpenStore(cfg.Store, cfg.StoreURL, cfg.Dir, m.Logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	ic := cfg.IAM
	ic.Store = st
	ic.Logger = m.Logger
	ic.InitData = cfg.InitData
	if ic.Issuer == "" {
		ic.Issuer = "http://" + cfg.HTTP
	}
	srv, err := iam.New(ctx, ic)
	if err != nil {
		return err
	}
	defer srv.Close()
	return httpadapter.Serve(ctx, httpadapter.Config{Addr: cfg.HTTP, Handler: srv.Handler(), Logger: m.Logger}, func(a net.Addr) {
		m.Logger.Info("iam serving", "addr", a.String(), "issuer", srv.Issuer(), "store", storeName(cfg))
	})
}

// storeName describes the store for the log, without credentials.
func storeName(c Config) string {
	if c.Store == "" || c.Store == "sqlite" {
		return "sqlite:" + c.Dir
	}
	return c.Store
}

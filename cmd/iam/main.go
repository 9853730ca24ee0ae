// Command iam runs Base's OpenID Connect provider on its own (the same IAM
// `base serve` embeds), over a SQLite store in --dir.
//
// Environment (flags mirror the first three):
//
//	IAM_HTTP / --http            listen address (127.0.0.1:8000)
//	IAM_DIR / --dir              data directory (./iam_data)
//	IAM_INIT_DATA / --init-data  init_data.json to apply on start (create only)
//	IAM_ISSUER                   issuer URL (http://<listen address>)
//	IAM_ADMIN_ORG, IAM_ADMIN_USER, IAM_ADMIN_PASSWORD, IAM_ADMIN_EMAIL
//	                             first platform admin (created when missing)
//	IAM_KEY_ALG                  RS256 (default) or ES256 for generated keys
//	IAM_DEVICE_INTERVAL          device polling interval (5s)
//	IAM_CODE_TTL                 authorization code lifetime (60s)
//	IAM_ARGON2                   argon2id "memoryKiB,time,threads" (19456,2,1)
//	IAM_SECURE_COOKIES           "true" forces Secure cookies (behind TLS proxies)
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
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/store/sqlite"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// Config is what cmd/iam reads from flags and the environment.
type Config struct {
	HTTP     string
	Dir      string
	InitData string
	IAM      iam.Config
	LogLevel slog.Level
}

// ConfigFromEnv reads the environment through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{HTTP: "127.0.0.1:8000", Dir: "./iam_data"}
	if v := getenv("IAM_HTTP"); v != "" {
		c.HTTP = v
	}
	if v := getenv("IAM_DIR"); v != "" {
		c.Dir = v
	}
	c.InitData = getenv("IAM_INIT_DATA")
	c.IAM.Issuer = getenv("IAM_ISSUER")
	c.IAM.Admin = iam.BootstrapAdmin{Org: getenv("IAM_ADMIN_ORG"), Username: getenv("IAM_ADMIN_USER"),
		Password: getenv("IAM_ADMIN_PASSWORD"), Email: getenv("IAM_ADMIN_EMAIL")}
	c.IAM.KeyAlgorithm = getenv("IAM_KEY_ALG")
	c.IAM.SecureCookies = getenv("IAM_SECURE_COOKIES") == "true"
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
	fs.StringVar(&cfg.Dir, "dir", cfg.Dir, "data directory")
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
	st, err := sqlite.Open(sqlite.Config{Dir: cfg.Dir, Logger: m.Logger})
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
		m.Logger.Info("iam serving", "addr", a.String(), "issuer", srv.Issuer(), "dir", cfg.Dir)
	})
}

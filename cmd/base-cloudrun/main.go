// Command base-cloudrun runs the Base API on Google Cloud Run: it listens
// on $PORT (HTTP/1.1 and h2c), logs JSON lines in Cloud Logging's format
// (trace-correlated with GOOGLE_CLOUD_PROJECT set), and on SIGTERM stops
// accepting and drains in-flight requests within Cloud Run's 10 s grace
// period. It is configured by the environment of spec/base-v1.md §8;
// BASE_DIR defaults to /tmp/base_data.
//
// With FUNCTION_TARGET set (as on Cloud Functions 2nd gen) it serves the
// same handler through functions-framework-go instead; see package
// github.com/hanzoai/base/cmd/base-cloudrun/function for deploying from
// source as a function.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/hanzoai/base/adapters/cloudrun"
	httpadapter "github.com/hanzoai/base/adapters/http"
	"github.com/hanzoai/base/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := NewMain(os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "base-cloudrun: %v\n", err)
		os.Exit(1)
	}
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("base-cloudrun: exiting", "err", err)
		os.Exit(1)
	}
}

// Main wires the Cloud Run service.
type Main struct {
	Config          config.Config
	Logger          *slog.Logger
	Port            string        // $PORT; "" = Config.HTTP
	Project         string        // GOOGLE_CLOUD_PROJECT, for trace ids
	FunctionTarget  string        // FUNCTION_TARGET: serve through functions-framework-go
	ShutdownTimeout time.Duration // BASE_SHUTDOWN_TIMEOUT (default 9s, under Cloud Run's 10s)
}

// NewMain reads the environment through getenv; it logs to logw.
func NewMain(getenv func(string) string, logw io.Writer) (*Main, error) {
	// Cloud Run's defaults: the only writable directory is /tmp, and
	// Google's front end always stands in front, appending the client's
	// address to X-Forwarded-For (one trusted hop).
	defaults := map[string]string{"BASE_DIR": "/tmp/base_data", "BASE_TRUSTED_PROXY_HOPS": "1"}
	env := func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return defaults[k]
	}
	cfg, err := config.FromEnv(env)
	if err != nil {
		return nil, err
	}
	m := &Main{
		Config:          cfg,
		Port:            getenv("PORT"),
		Project:         getenv("GOOGLE_CLOUD_PROJECT"),
		FunctionTarget:  getenv("FUNCTION_TARGET"),
		ShutdownTimeout: 9 * time.Second,
	}
	if v := getenv("BASE_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("config: BASE_SHUTDOWN_TIMEOUT=%q: not a positive duration", v)
		}
		m.ShutdownTimeout = d
	}
	m.Logger = slog.New(cloudrun.LogHandler(logw, m.Project, cfg.LogLevel))
	return m, nil
}

// Run serves until ctx is done, then drains in-flight requests for up to
// ShutdownTimeout and returns.
func (m *Main) Run(ctx context.Context) error {
	addr := m.Config.HTTP
	if m.Port != "" {
		addr = ":" + m.Port
	}
	if m.FunctionTarget != "" {
		return m.runFunction(ctx)
	}
	h, closer, err := config.Open(ctx, m.Config, m.Logger)
	if err != nil {
		return err
	}
	defer closer.Close()
	return httpadapter.Serve(ctx, httpadapter.Config{
		Addr:             addr,
		Handler:          cloudrun.Tracing(h),
		Logger:           m.Logger,
		TrustedProxyHops: m.Config.TrustedProxyHops,
		ShutdownTimeout:  m.ShutdownTimeout,
		// Cloud Run's "HTTP/2 end-to-end" speaks h2c to the container
		// (and lifts HTTP/1's 32 MiB request limit); HTTP/1.1 still works.
		H2C: true,
	}, func(a net.Addr) {
		m.Logger.Info("base-cloudrun listening", "addr", a.String(), "store", m.Config.Store)
	})
}

// runFunction serves the handler as the HTTP function FUNCTION_TARGET
// through functions-framework-go (which has no graceful shutdown).
func (m *Main) runFunction(ctx context.Context) error {
	var closer io.Closer
	open := func(ctx context.Context) (http.Handler, error) {
		h, c, err := config.Open(ctx, m.Config, m.Logger)
		closer = c
		return httpadapter.ClientIP(m.Config.TrustedProxyHops, h), err
	}
	if err := funcframework.RegisterHTTPFunctionContext(ctx, "/", cloudrun.Function(open, m.Logger)); err != nil {
		return fmt.Errorf("register function: %w", err)
	}
	port := m.Port
	if port == "" {
		port = "8080"
	}
	m.Logger.Info("base-cloudrun serving as a function", "target", m.FunctionTarget, "port", port)
	errc := make(chan error, 1)
	go func() { errc <- funcframework.Start(port) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("functions framework: %w", err)
	case <-ctx.Done():
		if closer != nil {
			closer.Close()
		}
		return nil
	}
}

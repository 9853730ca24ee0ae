// Package httpadapter runs a handler as a plain HTTP server: header and
// idle timeouts, optional TLS, optional cleartext HTTP/2 (h2c), and a
// graceful shutdown that lets in-flight requests finish.
package httpadapter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config configures Serve. Addr and Handler are required.
type Config struct {
	Addr    string
	Handler http.Handler
	Logger  *slog.Logger

	// TLSCertFile and TLSKeyFile enable HTTPS when both are set; one
	// without the other is an error, never a silent fall back to HTTP.
	TLSCertFile string
	TLSKeyFile  string
	// H2C enables cleartext HTTP/2 alongside HTTP/1.1.
	H2C bool
	// TrustedProxyHops is how many trusted reverse proxies stand in front
	// (ClientIP): requests then see the client's address as RemoteAddr.
	TrustedProxyHops int

	// OnShutdown runs when graceful shutdown starts, before waiting for
	// in-flight requests: long-lived streams (SSE, WebSocket) close there,
	// or shutdown would wait for them until ShutdownTimeout.
	OnShutdown func()

	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // default 120s
	ShutdownTimeout   time.Duration // default 10s
}

// Serve listens on cfg.Addr, calls ready with the bound address (useful
// with port 0), and serves until ctx is done; then it stops accepting,
// waits up to ShutdownTimeout for in-flight requests and returns nil. If
// requests are still running then, it closes their connections and
// returns an error wrapping context.DeadlineExceeded.
func Serve(ctx context.Context, cfg Config, ready func(net.Addr)) error {
	if cfg.Handler == nil {
		return errors.New("httpadapter: Config.Handler is required")
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return errors.New("httpadapter: TLSCertFile and TLSKeyFile must be set together")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Handler = ClientIP(cfg.TrustedProxyHops, cfg.Handler)
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	useTLS := cfg.TLSCertFile != ""
	var tlsConfig *tls.Config
	if useTLS {
		// Loaded before listening, so that a bad pair fails Serve at once.
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("httpadapter: TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           cfg.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.H2C {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = p
	}
	if cfg.OnShutdown != nil {
		srv.RegisterOnShutdown(cfg.OnShutdown)
	}
	srv.TLSConfig = tlsConfig
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Package libsql is the libSQL driver of store: one libSQL database per
// organization, reached over Hrana (http://, https://, libsql://, ws://,
// wss://) with libsql-client-go, speaking store.SQLite's dialect.
//
// # One database per org: a URL template
//
// Config.URL is a template containing {org}, e.g.
//
//	libsql://{org}-myteam.turso.io       one Turso database per org
//	http://{org}.db.internal:8080        sqld with --enable-namespaces
//
// A template covers both deployments: hosted libSQL (one database, one
// hostname per org) and a self-hosted sqld with namespaces, which picks
// the namespace from the first label of the Host header. For sqld,
// Config.AdminURL (the --admin-listen-addr API) lets the store create an
// org's namespace on first Acquire and answer Exists without touching the
// database; without it, databases must be provisioned outside Base and
// Exists asks the database itself. Config.Proxy sends HTTP requests to
// another address while keeping the template's Host header, so sqld
// namespaces work without wildcard DNS (e.g. in tests, or behind one
// service address); ws:// URLs need real name resolution.
//
// The choice of a template over sqld's namespace API alone: the same
// driver then serves Turso, where an org's database is a separate
// hostname, and sqld, with no engine-specific code beyond the optional
// namespace creation.
//
// # Faults
//
// Every statement's error passes through classify (a wrapping
// driver.Connector): refused or reset connections, EOF, a stream whose
// baton a restarted sqld no longer knows, HTTP 5xx and a namespace sqld
// lost under eviction wrap store.ErrUnavailable, which the handler answers
// with a 503. Nothing is cached across a failure, so the store recovers by
// itself once sqld is back.
//
// Org databases are bootstrapped (system tables, users collection) on
// first use and marked with PRAGMA user_version. Writers to one org are
// serialized in-process and use BEGIN IMMEDIATE on one Hrana stream.
// Idle handles are closed least-recently-used beyond Config.MaxOpen or
// after Config.IdleTimeout; a handle holds at most Config.MaxConns
// streams.
package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/store"
	"github.com/tursodatabase/libsql-client-go/libsql"
)

// Defaults of Config.
const (
	DefaultMaxOpen     = 256
	DefaultIdleTimeout = 2 * time.Minute
	DefaultMaxConns    = 4
)

// schemaMarker is the PRAGMA user_version of a bootstrapped org database.
const schemaMarker = 1

// Config configures a Store.
type Config struct {
	// URL is the database URL template; "{org}" is replaced by the org
	// name. Required.
	URL string
	// AuthToken is sent as the bearer token (Turso, sqld --auth-jwt-key).
	AuthToken string
	// Proxy, when set, is where HTTP requests go (scheme://host:port);
	// the Host header stays the template's host.
	Proxy string
	// AdminURL is sqld's admin API (http://host:port). When set, an org's
	// namespace is created on first Acquire.
	AdminURL string
	// AdminToken is the admin API key (sqld --admin-auth-key), if any.
	AdminToken string
	// MaxOpen caps idle org handles kept open (default 256).
	MaxOpen int
	// IdleTimeout closes handles unused that long (default 2 min;
	// negative: never).
	IdleTimeout time.Duration
	// MaxConns caps the Hrana streams of one org (default 4).
	MaxConns int
	// HTTPClient is used for the admin API (default: a client with a
	// 10 s timeout).
	HTTPClient *http.Client
}

// Store is the libSQL store. It is safe for concurrent use.
type Store struct {
	cfg  Config
	http *http.Client

	pool *store.Handles[*handle]
}

var _ store.Store = (*Store)(nil)

type handle struct {
	org  string
	db   *sql.DB
	wsem chan struct{}
}

// Open returns a Store for cfg. It does not connect.
func Open(cfg Config) (*Store, error) {
	if !strings.Contains(cfg.URL, "{org}") {
		return nil, errors.New("libsql store: URL must be a template containing {org}")
	}
	if _, err := url.Parse(strings.ReplaceAll(cfg.URL, "{org}", "x")); err != nil {
		return nil, fmt.Errorf("libsql store: %w", err)
	}
	if cfg.MaxOpen <= 0 {
		cfg.MaxOpen = DefaultMaxOpen
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Store{cfg: cfg, http: hc}
	s.pool = store.NewHandles(store.HandlesConfig[*handle]{
		MaxOpen: cfg.MaxOpen, IdleTimeout: cfg.IdleTimeout,
		Open: s.openOrg, Close: closeAll,
	})
	return s, nil
}

// OrgURL returns the database URL of org.
func (s *Store) OrgURL(org string) (string, error) {
	if !base.ValidOrg(org) {
		return "", fmt.Errorf("invalid org %q", org)
	}
	return strings.ReplaceAll(s.cfg.URL, "{org}", org), nil
}

func (s *Store) connector(org string) (*connector, error) {
	u, err := s.OrgURL(org)
	if err != nil {
		return nil, err
	}
	var opts []libsql.Option
	if s.cfg.AuthToken != "" {
		opts = append(opts, libsql.WithAuthToken(s.cfg.AuthToken))
	}
	if s.cfg.Proxy != "" {
		opts = append(opts, libsql.WithProxy(s.cfg.Proxy))
	}
	// libsql://host:port?tls=0 is the conventional spelling for plain
	// HTTP; the client wants it as an option.
	if pu, err := url.Parse(u); err == nil && pu.Query().Has("tls") {
		q := pu.Query()
		tls := q.Get("tls") != "0" && q.Get("tls") != "false"
		q.Del("tls")
		pu.RawQuery = q.Encode()
		u = pu.String()
		opts = append(opts, libsql.WithTls(tls))
	}
	c, err := libsql.NewConnector(u, opts...)
	if err != nil {
		return nil, err
	}
	return &connector{base: c}, nil
}

// Acquire returns org's database, creating its namespace (with AdminURL)
// and bootstrapping it on first use.
func (s *Store) Acquire(ctx context.Context, org string) (store.DB, error) {
	if !base.ValidOrg(org) {
		return nil, fmt.Errorf("acquire: invalid org %q", org)
	}
	e, err := s.pool.Acquire(ctx, org)
	if err != nil {
		return nil, err
	}
	return &db{s: s, e: e, h: e.Value}, nil
}

// openOrg opens org's handle for the pool.
func (s *Store) openOrg(ctx context.Context, org string) (*handle, error) {
	h := &handle{org: org, wsem: make(chan struct{}, 1)}
	if err := s.open(ctx, h); err != nil {
		return nil, err
	}
	return h, nil
}

// open connects h to its database. The namespace is created (with
// AdminURL) only when the database answers that it does not exist, so the
// cold open of an existing org costs one round trip, not two.
func (s *Store) open(ctx context.Context, h *handle) error {
	c, err := s.connector(h.org)
	if err != nil {
		return fmt.Errorf("open org %q: %w", h.org, err)
	}
	h.db = sql.OpenDB(c)
	h.db.SetMaxOpenConns(s.cfg.MaxConns)
	// No idle streams: sqld counts open Hrana streams against
	// --max-concurrent-connections (128 by default) across all
	// namespaces, and an idle org must hold nothing.
	h.db.SetMaxIdleConns(0)
	var v int
	err = h.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	if err != nil && s.cfg.AdminURL != "" && isNoDatabase(err) {
		if err := s.createNamespace(ctx, h.org); err != nil {
			h.db.Close()
			return fmt.Errorf("open org %q: %w", h.org, err)
		}
		c.exists.Store(true)
		err = h.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	}
	if err == nil {
		c.exists.Store(true)
	}
	if err != nil {
		h.db.Close()
		return fmt.Errorf("open org %q: %w", h.org, classify(err))
	}
	if v < schemaMarker {
		if err := s.bootstrap(ctx, h); err != nil {
			h.db.Close()
			return fmt.Errorf("open org %q: %w", h.org, classify(err))
		}
	}
	return nil
}

func (s *Store) bootstrap(ctx context.Context, h *handle) error {
	h.wsem <- struct{}{}
	defer func() { <-h.wsem }()
	tx, err := beginImmediate(ctx, h.db, nil)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if v >= schemaMarker {
		return nil
	}
	if err := store.Bootstrap(ctx, tx, store.SQLite, h.org); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaMarker)); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return tx.Commit()
}

func (s *Store) admin(ctx context.Context, method, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(s.cfg.AdminURL, "/")+path, bytes.NewReader([]byte("{}")))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.AdminToken != "" {
		req.Header.Set("Authorization", "basic "+s.cfg.AdminToken)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "", classify(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body), nil
}

// Namespace returns org's sqld namespace: the first label of the host of
// its URL (sqld's rule), e.g. "acme" for http://acme.db:8080.
func (s *Store) Namespace(org string) (string, error) {
	u, err := s.OrgURL(org)
	if err != nil {
		return "", err
	}
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	ns, _, _ := strings.Cut(pu.Hostname(), ".")
	if ns == "" {
		return "", fmt.Errorf("no namespace in %q", u)
	}
	return ns, nil
}

// createNamespace creates org's sqld namespace unless it exists.
func (s *Store) createNamespace(ctx context.Context, org string) error {
	ns, err := s.Namespace(org)
	if err != nil {
		return err
	}
	code, body, err := s.admin(ctx, "POST", "/v1/namespaces/"+ns+"/create")
	if err != nil {
		return fmt.Errorf("create namespace: %w", err)
	}
	switch {
	case code/100 == 2:
		return nil
	case strings.Contains(body, "already exists"):
		return nil
	case code >= 500:
		return fmt.Errorf("create namespace: %w: %d %s", store.ErrUnavailable, code, body)
	}
	return fmt.Errorf("create namespace: %d %s", code, body)
}

// isNoDatabase reports whether err is the server saying the org's
// database (sqld namespace) does not exist.
func isNoDatabase(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "doesn't exist") || strings.Contains(msg, "error code 404")
}

// Exists reports whether org's database exists and is bootstrapped,
// creating nothing.
func (s *Store) Exists(ctx context.Context, org string) (bool, error) {
	if !base.ValidOrg(org) {
		return false, fmt.Errorf("exists: invalid org %q", org)
	}
	open, err := s.pool.Has(org)
	if err != nil {
		return false, fmt.Errorf("exists: %w", err)
	}
	if open {
		return true, nil
	}
	if s.cfg.AdminURL != "" {
		ns, err := s.Namespace(org)
		if err != nil {
			return false, fmt.Errorf("exists %q: %w", org, err)
		}
		code, body, err := s.admin(ctx, "GET", "/v1/namespaces/"+ns+"/config")
		switch {
		case err != nil:
			return false, fmt.Errorf("exists %q: %w", org, err)
		case code == http.StatusNotFound:
			return false, nil
		case code/100 != 2:
			return false, fmt.Errorf("exists %q: %w: %d %s", org, store.ErrUnavailable, code, body)
		}
	}
	c, err := s.connector(org)
	if err != nil {
		return false, fmt.Errorf("exists %q: %w", org, err)
	}
	d := sql.OpenDB(c)
	defer d.Close()
	var v int
	if err := d.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		if isNoDatabase(err) {
			return false, nil
		}
		return false, fmt.Errorf("exists %q: %w", org, classify(err))
	}
	return v >= schemaMarker, nil
}

// closeAll closes the pool's evicted handles.
func closeAll(hs []*handle) {
	for _, h := range hs {
		if h.db != nil {
			h.db.Close()
		}
	}
}

// OpenHandles reports how many org handles are open (acquired or idle).
func (s *Store) OpenHandles() int { return s.pool.Len() }

// Close closes every handle. Acquire fails afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

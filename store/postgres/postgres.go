// Package postgres is the PostgreSQL driver of store: one schema per
// organization inside one database, so any number of stateless Base
// instances can share it.
//
// An org's schema (Config.SchemaPrefix + org, e.g. "org_acme") is created
// and bootstrapped (system tables, users collection) on the org's first
// Acquire, under a transaction-scoped advisory lock so instances racing
// on a new org bootstrap it once. The schema comment records the
// bootstrap version, so a cold org costs one catalogue query per
// instance. Helper functions, operators and the NOCASE collation live
// once per database in a support schema (Config.SchemaPrefix + "_base",
// e.g. "org__base"), second on every org's search_path.
//
// Connections come from one small database/sql pool over pgx (Config.
// MaxConns, default 4; idle connections close after ConnMaxIdleTime), so
// idle orgs hold nothing. Statements are pointed at the org's schema with
// a transaction-local search_path (SearchPathLocal, the default): a read
// is set_config plus the statement pipelined in one round trip and one
// implicit transaction, a write transaction starts with SET LOCAL. No
// session state outlives a transaction, which keeps the driver correct
// behind PgBouncer or RDS Proxy in transaction mode. Reads of built-in
// SQL name their tables with the schema instead (store.Qualifier: the
// schema version every request reads, records by id) and need neither.
// "?" placeholders are rebound to $n.
//
// Hot reads (run a few times within the store's last few thousand reads)
// are prepared once per connection as named statements (cache.go,
// admit.go): schema-qualified ones in both modes, since their names
// (a hash of the SQL, which names the schema) mean the same statement on
// any server session; on direct connections (SearchPathSession) the
// other hot reads too, per org. Through a transaction pooler without prepared-statement
// support the first lost statement turns this off for the store, and
// the read is retried unnamed. base_statement_cache=off
// (Config.NoStatementCache) turns it off from the start: behind RDS
// Proxy, which pins a client connection to its server connection once it
// sees a named statement.
//
// Writers to one org are serialized like SQLite's: an in-process semaphore
// per org, then pg_advisory_xact_lock across processes, so
// read-modify-write transactions (counters, unique checks) lose no
// updates under READ COMMITTED. Reads never wait for writers.
//
// Values come back as SQLite returns them: integral numbers as int64,
// JSON as text, booleans as bool.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Defaults of Config.
const (
	// DefaultMaxConns is small on purpose: every connection is a server
	// process and instances multiply it (25 instances fill PostgreSQL's
	// default max_connections of 100). One instance under 32 clients on 2
	// shared cores served view by id 10% and 50% faster with 8 in two
	// rounds (bench/results/postgres-*): deployments of a few long-lived
	// instances may raise it with base_max_conns.
	DefaultMaxConns        = 4
	DefaultMaxIdleConns    = 2
	DefaultConnMaxIdleTime = 30 * time.Second
	DefaultSchemaPrefix    = "org_"
)

// bootstrapVersion is recorded as the schema comment "base:<n>" once an
// org schema is fully bootstrapped.
const bootstrapVersion = "base:1"

// Config configures a Store.
type Config struct {
	// URL is a PostgreSQL connection URL or DSN (postgres://...). pgx
	// parameters apply, e.g. default_query_exec_mode=exec for poolers
	// without prepared-statement support. Required.
	URL string
	// MaxConns caps the open connections of this instance (default 4).
	MaxConns int
	// MaxIdleConns caps the idle connections kept (default 2).
	MaxIdleConns int
	// ConnMaxIdleTime closes connections idle that long (default 30 s).
	ConnMaxIdleTime time.Duration
	// SchemaPrefix prefixes org schema names (default "org_").
	SchemaPrefix string
	// SearchPath selects how statements are pointed at an org's schema
	// (default SearchPathLocal, pooler-safe).
	SearchPath SearchPathMode
	// NoStatementCache keeps every statement unnamed: no read is ever
	// prepared (see Store.StatementCache). Set it behind RDS Proxy, which
	// pins a client connection to its server connection once it sees a
	// named prepared statement (a throughput loss, not an error). Poolers
	// without prepared-statement support need not set it: the store
	// notices them and stops preparing by itself.
	NoStatementCache bool
}

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	cfg Config
	db  *sql.DB
	cn  *connector // the pool's: statement cache state

	// handles are the orgs with outstanding Acquires (none kept idle: a
	// handle holds no connection, and known remembers the bootstrap).
	handles *store.Handles[*handle]

	mu     sync.Mutex
	closed bool
	known  map[string]bool // orgs known to be bootstrapped

	support   string     // schema of the shared helper functions
	supportMu sync.Mutex // guards supportOK
	supportOK bool
}

var _ store.Store = (*Store)(nil)

// handle is the in-process state of an org in use: the writer semaphore
// and the outcome of its first-use bootstrap.
type handle struct {
	org, schema string
	path        string // rendered search_path: the org schema, then the support schema
	lockKey     int64
	wsem        chan struct{}
}

// Open returns a Store on cfg.URL. It does not connect: the first Acquire
// does, and errors then wrap store.ErrUnavailable when the server cannot
// be reached.
func Open(cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres store: URL is required")
	}
	pc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxIdleConns <= 0 {
		cfg.MaxIdleConns = DefaultMaxIdleConns
	}
	if cfg.ConnMaxIdleTime <= 0 {
		cfg.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	if cfg.SchemaPrefix == "" {
		cfg.SchemaPrefix = DefaultSchemaPrefix
	}
	if !validPrefix(cfg.SchemaPrefix) {
		return nil, fmt.Errorf("postgres store: invalid schema prefix %q", cfg.SchemaPrefix)
	}
	if !strings.Contains(cfg.URL, "default_query_exec_mode") {
		// Unnamed statements: no server-side statement cache to go stale
		// when a collection's column types change, and nothing a
		// transaction pooler could route to the wrong session.
		pc.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 5 * time.Second
	}
	exec := pc.DefaultQueryExecMode == pgx.QueryExecModeExec
	cn := &connector{base: stdlib.GetConnector(*pc), mode: cfg.SearchPath, admit: newAdmission(), exec: exec,
		cache: !cfg.NoStatementCache && exec && !strings.Contains(cfg.URL, "default_query_exec_mode")}
	db := sql.OpenDB(cn)
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(min(cfg.MaxIdleConns, cfg.MaxConns))
	db.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
	db.SetConnMaxLifetime(30 * time.Minute)
	s := &Store{cfg: cfg, db: db, cn: cn, known: map[string]bool{},
		// No org can own it: org names start with a letter or digit.
		support: cfg.SchemaPrefix + "_base"}
	s.handles = store.NewHandles(store.HandlesConfig[*handle]{
		MaxOpen: 0, IdleTimeout: -1, Open: s.openOrg, Close: func([]*handle) {},
	})
	return s, nil
}

func validPrefix(p string) bool {
	if len(p) > 20 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Schema returns the schema name of org: the prefix and the org, or for
// names beyond PostgreSQL's 63 bytes a truncation with a hash suffix.
func (s *Store) Schema(org string) (string, error) {
	if !base.ValidOrg(org) {
		return "", fmt.Errorf("invalid org %q", org)
	}
	name := s.cfg.SchemaPrefix + org
	if len(name) > 63 {
		h := fnv.New32a()
		h.Write([]byte(org))
		name = fmt.Sprintf("%s%s_%08x", s.cfg.SchemaPrefix, org[:63-len(s.cfg.SchemaPrefix)-9], h.Sum32())
	}
	return name, nil
}

// DB returns the underlying pool (for tests and diagnostics).
func (s *Store) DB() *sql.DB { return s.db }

// advisoryKey is the pg_advisory_xact_lock key of a schema: writers and
// the bootstrap of one org take it.
func advisoryKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("base:" + schema))
	return int64(h.Sum64())
}

// Acquire returns org's database, creating and bootstrapping its schema
// on first use. Concurrent Acquires of a cold org in one process share one
// bootstrap; other processes wait on the advisory lock.
func (s *Store) Acquire(ctx context.Context, org string) (store.DB, error) {
	if _, err := s.Schema(org); err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	e, err := s.handles.Acquire(ctx, org)
	if err != nil {
		return nil, err
	}
	return &db{s: s, e: e, h: e.Value}, nil
}

// openOrg makes org's handle for the pool, bootstrapping the org's schema
// unless this process knows it is done.
func (s *Store) openOrg(ctx context.Context, org string) (*handle, error) {
	schema, err := s.Schema(org)
	if err != nil {
		return nil, err
	}
	h := &handle{org: org, schema: schema, path: quoteIdent(schema) + ", " + quoteIdent(s.support), lockKey: advisoryKey(schema), wsem: make(chan struct{}, 1)}
	s.mu.Lock()
	known := s.known[org]
	s.mu.Unlock()
	if !known {
		if err := s.ensure(ctx, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (s *Store) markKnown(org string) {
	s.mu.Lock()
	if len(s.known) >= 1<<16 {
		clear(s.known) // bound memory; re-checking costs one query
	}
	s.known[org] = true
	s.mu.Unlock()
}

// bootstrapped reports whether schema exists with the marker comment.
func (s *Store) bootstrapped(ctx context.Context, schema, marker string) (bool, error) {
	var comment string
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = ?`, schema).Scan(&comment)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return comment == marker, nil
}

// supportVersion marks the support schema as complete.
const supportVersion = "base-support:1"

// ensureSupport creates the schema of the helper functions, operators
// and collation every org schema uses (once per database, not per org:
// 10,000 orgs must not mean 10,000 copies in the catalogue).
func (s *Store) ensureSupport(ctx context.Context) error {
	s.supportMu.Lock()
	defer s.supportMu.Unlock()
	if s.supportOK {
		return nil
	}
	ok, err := s.bootstrapped(ctx, s.support, supportVersion)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.createSupport(ctx); err != nil {
			return err
		}
	}
	s.supportOK = true
	return nil
}

func (s *Store) createSupport(ctx context.Context) error {
	q := quoteIdent(s.support)
	tx, err := s.db.BeginTx(withWriteLock(ctx, advisoryKey(s.support)), nil)
	if err != nil {
		return fmt.Errorf("support schema: %w", err)
	}
	defer tx.Rollback()
	var comment string
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = ?`, s.support).Scan(&comment)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("support schema: %w", err)
	}
	if comment == supportVersion {
		return nil
	}
	// Helper functions and operators of ConvertExpr and rules.Postgres,
	// and the collation COLLATE NOCASE in index definitions (PocketBase's
	// usual unique email/username indexes) resolves to: case-insensitive
	// with ICU (Unicode-wide, where SQLite's NOCASE folds ASCII only).
	// One round trip: statements without arguments go as one simple query.
	ddl := append([]string{"CREATE SCHEMA IF NOT EXISTS " + q, "SET LOCAL search_path TO " + q}, supportDDL()...)
	ddl = append(ddl, `CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
	if _, err := tx.ExecContext(ctx, strings.Join(ddl, ";\n")); err != nil {
		return fmt.Errorf("support schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "COMMENT ON SCHEMA "+q+" IS '"+supportVersion+"'"); err != nil {
		return fmt.Errorf("support schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("support schema: %w", err)
	}
	return nil
}

// ensure bootstraps h's schema unless it already is.
func (s *Store) ensure(ctx context.Context, h *handle) error {
	if err := s.ensureSupport(ctx); err != nil {
		return fmt.Errorf("open org %q: %w", h.org, err)
	}
	ok, err := s.bootstrapped(ctx, h.schema, bootstrapVersion)
	if err != nil {
		return fmt.Errorf("open org %q: %w", h.org, err)
	}
	if !ok {
		if err := s.bootstrap(ctx, h); err != nil {
			return fmt.Errorf("open org %q: %w", h.org, err)
		}
	}
	s.markKnown(h.org)
	return nil
}

// bootstrap creates the schema and its system tables under the org's
// advisory lock; a racing instance waits and then finds the marker.
func (s *Store) bootstrap(ctx context.Context, h *handle) error {
	h.wsem <- struct{}{}
	defer func() { <-h.wsem }()
	ctx = withWriteLock(withSchema(ctx, h.path), h.lockKey)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	defer tx.Rollback()
	var comment string
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = ?`, h.schema).Scan(&comment)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if comment == bootstrapVersion {
		return nil
	}
	q := quoteIdent(h.schema)
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+q+"; SET LOCAL search_path TO "+h.path); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := store.Bootstrap(ctx, &sqlTx{tx: tx}, Dialect, h.org); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "COMMENT ON SCHEMA "+q+" IS '"+bootstrapVersion+"'"); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

// Exists reports whether org's schema has been bootstrapped, creating
// nothing.
func (s *Store) Exists(ctx context.Context, org string) (bool, error) {
	schema, err := s.Schema(org)
	if err != nil {
		return false, fmt.Errorf("exists: %w", err)
	}
	s.mu.Lock()
	closed, known := s.closed, s.known[org]
	s.mu.Unlock()
	if closed {
		return false, fmt.Errorf("exists %q: %w", org, store.ErrClosed)
	}
	if known {
		return true, nil
	}
	ok, err := s.bootstrapped(ctx, schema, bootstrapVersion)
	if err != nil {
		return false, fmt.Errorf("exists %q: %w", org, err)
	}
	if ok {
		s.markKnown(org)
	}
	return ok, nil
}

// Close closes the pool. Acquire fails afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.handles.Close()
	return s.db.Close()
}

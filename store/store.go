// Package store is the persistence contract of Base: a Store hands out one
// database per organization, and the functions here keep each org's schema
// (the _collections catalogue and one table per collection) in step with its
// collection definitions.
//
// Drivers live in subpackages (store/sqlite, later store/postgres and
// store/libsql) and satisfy Store; store/storetest is the conformance suite
// every driver runs. SQL passed through a Querier always uses "?"
// placeholders; drivers whose engine wants another style rebind them.
package store

import (
	"context"
	"database/sql"
	"errors"
)

// Store opens per-organization databases on demand.
//
// Handles are reference counted: every successful Acquire must be paired
// with DB.Release. Idle handles (no outstanding Acquire) may be closed by
// the driver at any time (LRU), so no caller keeps a DB past Release.
type Store interface {
	// Acquire returns org's database, creating it and migrating its system
	// tables on first use. org must satisfy base.ValidOrg. Errors wrap
	// ErrUnavailable when the backing engine cannot be reached.
	Acquire(ctx context.Context, org string) (DB, error)
	// Exists reports whether org's database has been created, creating
	// nothing. Callers use it to keep unauthenticated requests from
	// creating databases for arbitrary org names.
	Exists(ctx context.Context, org string) (bool, error)
	// Close closes every open handle. Acquire fails after Close.
	Close() error
}

// Querier runs SQL with "?" placeholders and bound arguments only.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// DB is one organization's database. Its Querier methods run outside any
// transaction (reads); writes go through Begin.
type DB interface {
	Querier
	// Org is the organization this database belongs to.
	Org() string
	// Dialect describes the engine's SQL flavour.
	Dialect() Dialect
	// Begin starts a read-write transaction. Writers to one org are
	// serialized by the driver as its engine requires; Begin waits (up to
	// ctx) rather than failing with "database is locked".
	Begin(ctx context.Context) (Tx, error)
	// Release returns the handle to the store. The DB must not be used
	// afterwards.
	Release()
}

// Tx is a read-write transaction.
type Tx interface {
	Querier
	Commit() error
	Rollback() error
}

// Dialect is what differs between engines for DDL and plain CRUD SQL.
// Expression-level differences of the filter language live in rules.
type Dialect interface {
	// Name is "sqlite" or "postgres" (libSQL speaks "sqlite").
	Name() string
	// Quote quotes an identifier.
	Quote(ident string) string
	// IsUniqueViolation reports whether err is a unique-constraint failure.
	IsUniqueViolation(err error) bool
	// UniqueColumns returns the columns a unique violation names, or nil
	// when err is none or the engine does not say (e.g. an index on
	// expressions).
	UniqueColumns(err error) []string
}

// ErrUnavailable marks errors caused by the backing engine being unreachable
// or restarting; the handler answers 503 for them.
var ErrUnavailable = errors.New("store unavailable")

// ErrNotFound is returned when a catalogue row does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a collection name or id is already taken.
var ErrExists = errors.New("already exists")

// ErrClosed is returned by Acquire after Store.Close.
var ErrClosed = errors.New("store closed")

package iam

import (
	"context"
	"fmt"
)

// DefaultSystemOrg is the store database the IAM keeps its state in when
// Config.SystemOrg is empty. It is an ordinary org database of the store
// (so SQLite, PostgreSQL and libSQL all work); the IAM's tables are prefixed
// "iam_" and are never registered as collections, so Base's record API
// cannot reach them. The name is reserved: no IAM organization may use it.
const DefaultSystemOrg = "iam-system"

// schema creates the IAM tables. It is portable SQL (SQLite and PostgreSQL):
// TEXT, BIGINT and INTEGER columns only, booleans as 0/1, times as Unix
// seconds, JSON documents as TEXT.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS iam_orgs (
		name TEXT PRIMARY KEY,
		display_name TEXT NOT NULL DEFAULT '',
		theme_color TEXT NOT NULL DEFAULT '',
		logo TEXT NOT NULL DEFAULT '',
		domains TEXT NOT NULL DEFAULT '[]',
		password_min_length INTEGER NOT NULL DEFAULT 8,
		mfa TEXT NOT NULL DEFAULT 'optional',
		created BIGINT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS iam_apps (
		client_id TEXT PRIMARY KEY,
		org TEXT NOT NULL,
		name TEXT NOT NULL,
		display_name TEXT NOT NULL DEFAULT '',
		secret_hash TEXT NOT NULL DEFAULT '',
		redirect_uris TEXT NOT NULL DEFAULT '[]',
		post_logout_uris TEXT NOT NULL DEFAULT '[]',
		grant_types TEXT NOT NULL DEFAULT '[]',
		scopes TEXT NOT NULL DEFAULT '[]',
		audiences TEXT NOT NULL DEFAULT '[]',
		access_ttl BIGINT NOT NULL,
		refresh_ttl BIGINT NOT NULL,
		created BIGINT NOT NULL
	)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS iam_apps_org_name ON iam_apps (org, name)`,
	`CREATE TABLE IF NOT EXISTS iam_users (
		org TEXT NOT NULL,
		username TEXT NOT NULL,
		password_hash TEXT NOT NULL DEFAULT '',
		display_name TEXT NOT NULL DEFAULT '',
		email TEXT NOT NULL DEFAULT '',
		email_verified INTEGER NOT NULL DEFAULT 0,
		is_admin INTEGER NOT NULL DEFAULT 0,
		is_global_admin INTEGER NOT NULL DEFAULT 0,
		memberships TEXT NOT NULL DEFAULT '[]',
		roles TEXT NOT NULL DEFAULT '[]',
		balance_cents BIGINT NOT NULL DEFAULT 0,
		created BIGINT NOT NULL,
		updated BIGINT NOT NULL,
		PRIMARY KEY (org, username)
	)`,
	`CREATE TABLE IF NOT EXISTS iam_roles (
		org TEXT NOT NULL,
		name TEXT NOT NULL,
		permissions TEXT NOT NULL DEFAULT '[]',
		PRIMARY KEY (org, name)
	)`,
	`CREATE TABLE IF NOT EXISTS iam_keys (
		kid TEXT PRIMARY KEY,
		alg TEXT NOT NULL,
		private_key TEXT NOT NULL,
		created BIGINT NOT NULL,
		retired BIGINT NOT NULL DEFAULT 0,
		expires BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS iam_sessions (
		id_hash TEXT PRIMARY KEY,
		org TEXT NOT NULL,
		username TEXT NOT NULL,
		auth_time BIGINT NOT NULL,
		expires BIGINT NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0,
		amr TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE TABLE IF NOT EXISTS iam_codes (
		code_hash TEXT PRIMARY KEY,
		client_id TEXT NOT NULL,
		org TEXT NOT NULL,
		username TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		scope TEXT NOT NULL,
		nonce TEXT NOT NULL DEFAULT '',
		challenge TEXT NOT NULL DEFAULT '',
		session_hash TEXT NOT NULL DEFAULT '',
		auth_time BIGINT NOT NULL,
		expires BIGINT NOT NULL,
		grant_id TEXT NOT NULL DEFAULT '',
		used INTEGER NOT NULL DEFAULT 0,
		amr TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE TABLE IF NOT EXISTS iam_grants (
		id TEXT PRIMARY KEY,
		client_id TEXT NOT NULL,
		org TEXT NOT NULL,
		username TEXT NOT NULL,
		scope TEXT NOT NULL,
		session_hash TEXT NOT NULL DEFAULT '',
		auth_time BIGINT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0,
		amr TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX IF NOT EXISTS iam_grants_session ON iam_grants (session_hash)`,
	`CREATE TABLE IF NOT EXISTS iam_refresh (
		token_hash TEXT PRIMARY KEY,
		grant_id TEXT NOT NULL,
		expires BIGINT NOT NULL,
		used INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS iam_refresh_grant ON iam_refresh (grant_id)`,
	`CREATE TABLE IF NOT EXISTS iam_revoked (
		jti TEXT PRIMARY KEY,
		expires BIGINT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS iam_devices (
		device_hash TEXT PRIMARY KEY,
		user_code TEXT NOT NULL UNIQUE,
		client_id TEXT NOT NULL,
		org TEXT NOT NULL,
		scope TEXT NOT NULL,
		expires BIGINT NOT NULL,
		interval_s INTEGER NOT NULL,
		last_poll BIGINT NOT NULL DEFAULT 0,
		status TEXT NOT NULL DEFAULT 'pending',
		username TEXT NOT NULL DEFAULT '',
		auth_time BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS iam_throttle (
		k TEXT PRIMARY KEY,
		failures INTEGER NOT NULL,
		first_failure BIGINT NOT NULL,
		locked_until BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS iam_audit (
		id TEXT PRIMARY KEY,
		at BIGINT NOT NULL,
		event TEXT NOT NULL,
		result TEXT NOT NULL,
		org TEXT NOT NULL DEFAULT '',
		username TEXT NOT NULL DEFAULT '',
		client_id TEXT NOT NULL DEFAULT '',
		ip TEXT NOT NULL DEFAULT '',
		user_agent TEXT NOT NULL DEFAULT '',
		detail TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX IF NOT EXISTS iam_audit_at ON iam_audit (at)`,
}

// migrate creates the IAM tables in one transaction (idempotent; several
// instances may run it at once).
func (s *Server) migrate(ctx context.Context) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate iam: %w", err)
	}
	defer tx.Rollback()
	for _, part := range [][]string{schema, balanceSchema, webauthnSchema, mfaSchema} {
		for _, q := range part {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("migrate iam: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate iam: %w", err)
	}
	return s.addColumns(ctx)
}

// addedColumns are columns added to tables after their first release;
// addColumns adds them to databases created before.
var addedColumns = []struct{ table, column, def string }{
	// The authentication methods (RFC 8176 amr values, space-separated)
	// of a session, and of the codes and grants issued in it.
	{"iam_sessions", "amr", "TEXT NOT NULL DEFAULT ''"},
	{"iam_codes", "amr", "TEXT NOT NULL DEFAULT ''"},
	{"iam_grants", "amr", "TEXT NOT NULL DEFAULT ''"},
}

// addColumns adds the missing addedColumns. Several instances may run it
// at once: a failed ALTER is fine when the column exists afterwards.
func (s *Server) addColumns(ctx context.Context) error {
	for _, c := range addedColumns {
		if s.hasColumn(ctx, c.table, c.column) {
			continue
		}
		if _, err := s.db.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.column+` `+c.def); err != nil && !s.hasColumn(ctx, c.table, c.column) {
			return fmt.Errorf("migrate iam: add %s.%s: %w", c.table, c.column, err)
		}
	}
	return nil
}

// hasColumn reports whether table has column (portable: a query naming it
// fails when it does not).
func (s *Server) hasColumn(ctx context.Context, table, column string) bool {
	rows, err := s.db.QueryContext(ctx, `SELECT `+column+` FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return false
	}
	rows.Close()
	return true
}

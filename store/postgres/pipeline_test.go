package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"testing"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/storetest"
)

// viaProxy returns rawURL with its host replaced by the proxy's.
func viaProxy(t *testing.T, rawURL string) (string, *testsrv.CountingProxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := testsrv.StartCountingProxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// TestPipelinedReadsOneRoundTrip checks the pooler-safe mode's promise: a
// statement outside a transaction is one client write (set_config and
// the statement under one Sync), leaves no session state behind, and a
// failing one leaves the connection idle and usable.
func TestPipelinedReadsOneRoundTrip(t *testing.T) {
	u, proxy := viaProxy(t, testsrv.PostgresURL(t))
	s, err := postgres.Open(postgres.Config{URL: u, SchemaPrefix: fmt.Sprintf("t%d_", prefixes.Add(1)), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	db, err := s.Acquire(ctx, "rt")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	storetest.ExecTx(t, db, `CREATE TABLE "things" ("id" TEXT PRIMARY KEY, "n" DOUBLE PRECISION NOT NULL DEFAULT 0)`)

	const n = 20
	before := proxy.Writes()
	for i := range n {
		if _, err := db.ExecContext(ctx, `INSERT INTO "things" ("id", "n") VALUES (?, ?)`, fmt.Sprint("id", i), i); err != nil {
			t.Fatal(err)
		}
		var v int64
		if err := db.QueryRowContext(ctx, `SELECT "n" FROM "things" WHERE "id" = ?`, fmt.Sprint("id", i)).Scan(&v); err != nil || v != int64(i) {
			t.Fatalf("read %d: %v, %v", i, v, err)
		}
	}
	if got := proxy.Writes() - before; got > 2*n+2 {
		t.Errorf("%d statements took %d client writes, want one each", 2*n, got)
	}

	// A failed statement rolls back its implicit transaction and leaves
	// the (only) connection usable.
	_, err = db.ExecContext(ctx, `INSERT INTO "things" ("id", "n") VALUES (?, ?)`, "id1", 1)
	if !db.Dialect().IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: %v, want a unique violation", err)
	}
	_, err = db.QueryContext(ctx, `SELECT "nope" FROM "things" WHERE "id" = ?`, "id1")
	if err == nil {
		t.Fatal("query of a missing column succeeded")
	}
	var count int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "things" WHERE "n" >= ?`, 0).Scan(&count); err != nil || count != n {
		t.Fatalf("count = %d, %v; want %d", count, err, n)
	}

	// Nothing outlives a statement: the pool's one connection is back to
	// the server's default search_path and outside any transaction.
	var path string
	var inTx bool
	if err := s.DB().QueryRowContext(ctx, `SELECT current_setting('search_path'), pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(&path, &inTx); err != nil {
		t.Fatal(err)
	}
	if path != `"$user", public` || inTx {
		t.Errorf("after pipelined statements: search_path %q, in transaction %v", path, inTx)
	}
}

// TestPipelinedValues checks that values read through the pipelined path
// (statements with arguments) are those of the stdlib path (statements
// without arguments take it).
func TestPipelinedValues(t *testing.T) {
	s := newStore(t, testsrv.PostgresURL(t), postgres.SearchPathLocal)
	defer s.Close()
	ctx := context.Background()
	db, err := s.Acquire(ctx, "values")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	const cols = `TRUE, FALSE, CAST(7 AS SMALLINT), 8, CAST(9 AS BIGINT), CAST(1.5 AS REAL), CAST(2 AS DOUBLE PRECISION), 2.25,
		CAST(10 AS NUMERIC), CAST(3.5 AS NUMERIC), 'text', CAST('{"a":[1]}' AS JSONB), CAST('[1, 2]' AS JSON), CAST('\x0102' AS BYTEA),
		CAST('2026-01-02 03:04:05Z' AS TIMESTAMPTZ), CAST('2026-01-02' AS DATE), NULL, CAST(NULL AS TEXT)`
	read := func(q string, args ...any) []any {
		t.Helper()
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		names, _ := rows.Columns()
		types, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if !rows.Next() {
			t.Fatalf("%s: no row: %v", q, rows.Err())
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out := append([]any{}, vals...)
		for _, ct := range types {
			out = append(out, ct.DatabaseTypeName())
		}
		return out
	}
	plain := read(`SELECT ` + cols)
	piped := read(`SELECT `+cols+` WHERE ? = 1`, 1)
	if !reflect.DeepEqual(plain, piped) {
		t.Errorf("values differ:\n stdlib    %#v\n pipelined %#v", plain, piped)
	}
	if plain[5] != 1.5 || plain[6] != int64(2) || plain[8] != int64(10) || plain[9] != 3.5 {
		t.Errorf("numbers not normalized like SQLite's: %#v", plain[5:10])
	}
}

// TestPipelinedCacheModeFallsBack: with a statement-caching exec mode
// from the URL, statements keep the BEGIN / SET LOCAL / COMMIT path and
// still see the org's tables.
func TestPipelinedCacheModeFallsBack(t *testing.T) {
	u, err := url.Parse(testsrv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_query_exec_mode", "cache_describe")
	u.RawQuery = q.Encode()
	s := newStore(t, u.String(), postgres.SearchPathLocal)
	defer s.Close()
	ctx := context.Background()
	db, err := s.Acquire(ctx, "cached")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	for range 3 {
		if v, err := store.SchemaVersion(ctx, db); err != nil || v < 1 {
			t.Fatalf("schema version = %d, %v", v, err)
		}
	}
	if _, err := db.QueryContext(ctx, `SELECT 1 FROM "missing" WHERE ? = 1`, 1); err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("missing table: %v, want a plain error", err)
	}
}

package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hanzoai/base"

	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
)

// TestSessionStatementCache: direct connections prepare reads once per
// org and connection, orgs with same-named tables of different column
// types never share a statement, and a column type change is survived.
func TestSessionStatementCache(t *testing.T) {
	s, err := postgres.Open(postgres.Config{URL: pgServer(t), SchemaPrefix: fmt.Sprintf("t%d_", prefixes.Add(1)),
		SearchPath: postgres.SearchPathSession, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	exec := func(db store.DB, q string) {
		t.Helper()
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	var dbs []store.DB
	for i, def := range []string{`"v" DOUBLE PRECISION NOT NULL DEFAULT 1.5`, `"v" TEXT NOT NULL DEFAULT 'text'`} {
		db, err := s.Acquire(ctx, fmt.Sprint("cache", i))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Release()
		exec(db, `CREATE TABLE "things" ("id" TEXT PRIMARY KEY, `+def+`); INSERT INTO "things" ("id") VALUES ('a')`)
		dbs = append(dbs, db)
	}
	read := func(db store.DB) any {
		t.Helper()
		var v any
		if err := db.QueryRowContext(ctx, `SELECT "v" FROM "things" WHERE "id" = ?`, "a").Scan(&v); err != nil {
			t.Fatalf("read %s: %v", db.Org(), err)
		}
		return v
	}
	for range 3 {
		if v := read(dbs[0]); v != 1.5 {
			t.Fatalf("org 0: %#v, want 1.5", v)
		}
		if v := read(dbs[1]); v != "text" {
			t.Fatalf("org 1: %#v, want \"text\"", v)
		}
	}
	var prepared int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE '%"things"%'`).Scan(&prepared); err != nil {
		t.Fatal(err)
	}
	if prepared != 2 {
		t.Errorf("%d prepared reads on the connection, want one per org", prepared)
	}

	exec(dbs[0], `ALTER TABLE "things" ALTER COLUMN "v" TYPE TEXT USING CAST("v" AS TEXT)`)
	if v := read(dbs[0]); v != "1.5" {
		t.Fatalf("after the type change: %#v, want \"1.5\"", v)
	}
}

// TestSchemaVersionQualified: the schema version read names its table
// with the schema, so it needs no search_path in either mode (cached as
// a prepared statement on direct connections), and a change made through
// one instance is seen by the other on its next read.
func TestSchemaVersionQualified(t *testing.T) {
	url := pgServer(t)
	prefix := fmt.Sprintf("t%d_", prefixes.Add(1))
	ctx := context.Background()
	var dbs []store.DB
	var stores []*postgres.Store
	for _, mode := range []postgres.SearchPathMode{postgres.SearchPathLocal, postgres.SearchPathSession} {
		s, err := postgres.Open(postgres.Config{URL: url, SchemaPrefix: prefix, SearchPath: mode, MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		db, err := s.Acquire(ctx, "versions")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Release()
		dbs = append(dbs, db)
		stores = append(stores, s)
	}
	v0, err := store.SchemaVersion(ctx, dbs[1])
	if err != nil {
		t.Fatal(err)
	}
	tx, err := dbs[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &base.Collection{ID: "notes", Name: "notes", Type: base.TypeBase, Fields: []*base.Field{base.RecordIDField()}}
	if err := store.CreateCollection(ctx, tx, dbs[0].Dialect(), c); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, db := range dbs {
		for range 2 {
			if v, err := store.SchemaVersion(ctx, db); err != nil || v != v0+1 {
				t.Fatalf("version = %d, %v; want %d", v, err, v0+1)
			}
		}
	}
	var prepared string
	if err := stores[1].DB().QueryRowContext(ctx, `SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%_meta%'`).Scan(&prepared); err != nil {
		t.Fatalf("no prepared version read on the session connection: %v", err)
	}
	if want := `"` + prefix + `versions"."_meta"`; !strings.Contains(prepared, want) {
		t.Errorf("prepared %q, want it to name %s", prepared, want)
	}
}

// TestQualifiedReads: statements through store.Qualifier name their
// tables with the schema and run without the org's search_path (no
// set_config pipelined before them), in both modes.
func TestQualifiedReads(t *testing.T) {
	url := pgServer(t)
	ctx := context.Background()
	for _, mode := range []postgres.SearchPathMode{postgres.SearchPathLocal, postgres.SearchPathSession} {
		s := newStore(t, url, mode)
		defer s.Close()
		db, err := s.Acquire(ctx, "qualified")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Release()
		qq, ok := db.(store.Qualifier)
		if !ok {
			t.Fatal("postgres DB is no store.Qualifier")
		}
		q, meta := store.PlainSource(db.Dialect(), db, store.MetaTable)
		want, _ := s.Schema("qualified")
		if meta != `"`+want+`"."_meta"` || qq.QualifiedTable("x") != `"`+want+`"."x"` {
			t.Errorf("qualified names %s, %s", meta, qq.QualifiedTable("x"))
		}
		read := func(q store.Querier, from string) string {
			t.Helper()
			var path, v string
			if err := q.QueryRowContext(ctx, `SELECT current_setting('search_path'), "value" FROM `+from+` WHERE "key" = ?`, store.SchemaVersionKey).Scan(&path, &v); err != nil {
				t.Fatal(err)
			}
			return path
		}
		for range 2 {
			if got := read(db, `"_meta"`); !strings.Contains(got, want) {
				t.Errorf("mode %d: search_path of an unqualified read %q", mode, got)
			}
			if got := read(q, meta); mode == postgres.SearchPathLocal && got != `"$user", public` {
				t.Errorf("qualified read ran with search_path %q, want the server default", got)
			}
		}
	}
}

package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hanzoai/base"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/storetest"
)

// TestSessionStatementCache: direct connections prepare reads once per
// org and connection, orgs with same-named tables of different column
// types never share a statement, and a column type change is survived.
func TestSessionStatementCache(t *testing.T) {
	s, err := postgres.Open(postgres.Config{URL: testsrv.PostgresURL(t), SchemaPrefix: fmt.Sprintf("t%d_", prefixes.Add(1)),
		SearchPath: postgres.SearchPathSession, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var dbs []store.DB
	for i, def := range []string{`"v" DOUBLE PRECISION NOT NULL DEFAULT 1.5`, `"v" TEXT NOT NULL DEFAULT 'text'`} {
		db, err := s.Acquire(ctx, fmt.Sprint("cache", i))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Release()
		storetest.ExecTx(t, db, `CREATE TABLE "things" ("id" TEXT PRIMARY KEY, `+def+`); INSERT INTO "things" ("id") VALUES ('a')`)
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
	for range postgres.AdmitHits {
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

	storetest.ExecTx(t, dbs[0], `ALTER TABLE "things" ALTER COLUMN "v" TYPE TEXT USING CAST("v" AS TEXT)`)
	if v := read(dbs[0]); v != "1.5" {
		t.Fatalf("after the type change: %#v, want \"1.5\"", v)
	}
}

// TestSchemaVersionQualified: the schema version read names its table
// with the schema, so it needs no search_path in either mode (cached as
// a prepared statement on direct connections), and a change made through
// one instance is seen by the other on its next read.
func TestSchemaVersionQualified(t *testing.T) {
	url := testsrv.PostgresURL(t)
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
		for range postgres.AdmitHits {
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
	url := testsrv.PostgresURL(t)
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

// cacheFixture is a store with one connection and an org with a table
// "things" ("id" 'a', "v" 1.5 as DOUBLE PRECISION).
type cacheFixture struct {
	s         *postgres.Store
	db        store.DB
	things    string // the table's schema-qualified name
	qualified store.Querier
}

func newCacheFixture(tb testing.TB, cfg postgres.Config) *cacheFixture {
	tb.Helper()
	if cfg.SchemaPrefix == "" {
		cfg.SchemaPrefix = fmt.Sprintf("t%d_", prefixes.Add(1))
	}
	cfg.MaxConns = 1
	s, err := postgres.Open(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	ctx := context.Background()
	db, err := s.Acquire(ctx, "cache")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Release)
	storetest.ExecTx(tb, db, `CREATE TABLE IF NOT EXISTS "things" ("id" TEXT PRIMARY KEY, "v" DOUBLE PRECISION NOT NULL DEFAULT 1.5);
		INSERT INTO "things" ("id") VALUES ('a') ON CONFLICT DO NOTHING`)
	qq := db.(store.Qualifier)
	return &cacheFixture{s: s, db: db, things: qq.QualifiedTable("things"), qualified: qq.Qualified()}
}

// read runs `SELECT "v"<extra> FROM from WHERE "id" = 'a'` through q and
// returns "v".
func (f *cacheFixture) read(tb testing.TB, q store.Querier, extra, from string) any {
	tb.Helper()
	var v any
	dest := []any{&v}
	if extra != "" {
		var x any
		dest = append(dest, &x)
	}
	if err := q.QueryRowContext(context.Background(), `SELECT "v"`+extra+` FROM `+from+` WHERE "id" = ?`, "a").Scan(dest...); err != nil {
		tb.Fatalf("read from %s: %v", from, err)
	}
	return v
}

// readQualified reads "things" through the qualified querier.
func (f *cacheFixture) readQualified(tb testing.TB) any {
	tb.Helper()
	return f.read(tb, f.qualified, "", f.things)
}

// prepared returns the statements prepared on the store's connection
// whose text contains "things".
func (f *cacheFixture) prepared(tb testing.TB) []string {
	tb.Helper()
	rows, err := f.s.DB().QueryContext(context.Background(), `SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%"things"%' ORDER BY statement`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var st string
		if err := rows.Scan(&st); err != nil {
			tb.Fatal(err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestLocalStatementCache: in the pooler-safe default mode a
// schema-qualified read becomes a named prepared statement once it is
// hot, and unqualified reads (which need the org's search_path) never do.
func TestLocalStatementCache(t *testing.T) {
	f := newCacheFixture(t, postgres.Config{URL: testsrv.PostgresURL(t)})
	if !f.s.StatementCache() {
		t.Fatal("StatementCache() = false on a fresh default store")
	}
	for i := range postgres.AdmitHits - 1 {
		if v := f.readQualified(t); v != 1.5 {
			t.Fatalf("read %d: %#v, want 1.5", i, v)
		}
	}
	if p := f.prepared(t); len(p) != 0 {
		t.Fatalf("prepared after %d reads, before the read was hot: %q", postgres.AdmitHits-1, p)
	}
	for range 2 {
		if v := f.readQualified(t); v != 1.5 {
			t.Fatalf("hot read: %#v, want 1.5", v)
		}
	}
	p := f.prepared(t)
	if len(p) != 1 || !strings.Contains(p[0], f.things) {
		t.Fatalf("prepared %q, want the one qualified read of %s", p, f.things)
	}

	for range 2 * postgres.AdmitHits {
		if v := f.read(t, f.db, "", `"things"`); v != 1.5 {
			t.Fatalf("unqualified read: %#v, want 1.5", v)
		}
	}
	if got := f.prepared(t); len(got) != 1 {
		t.Errorf("unqualified reads prepared in the default mode: %q", got)
	}
}

// TestAdmissionWindow: many distinct qualified reads, each run once (a
// crawl over many orgs), prepare nothing.
func TestAdmissionWindow(t *testing.T) {
	f := newCacheFixture(t, postgres.Config{URL: testsrv.PostgresURL(t)})
	for i := range 200 {
		if v := f.read(t, f.qualified, fmt.Sprintf(", %d AS c", i), f.things); v != 1.5 {
			t.Fatalf("read %d: %#v, want 1.5", i, v)
		}
	}
	if p := f.prepared(t); len(p) != 0 {
		t.Errorf("%d statements run once were prepared, e.g. %q", len(p), p[0])
	}
}

// TestQualifiedStalePlan: a hot qualified read survives a type change of
// its column in the pooler-safe mode (prepared again and retried).
func TestQualifiedStalePlan(t *testing.T) {
	f := newCacheFixture(t, postgres.Config{URL: testsrv.PostgresURL(t)})
	for range postgres.AdmitHits + 1 {
		f.readQualified(t)
	}
	if len(f.prepared(t)) != 1 {
		t.Fatal("the hot read was not prepared")
	}
	ctx := context.Background()
	tx, err := f.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE "things" ALTER COLUMN "v" TYPE TEXT USING CAST("v" AS TEXT)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v := f.readQualified(t); v != "1.5" {
		t.Fatalf("after the type change: %#v, want \"1.5\"", v)
	}
	if !f.s.StatementCache() {
		t.Error("a stale plan turned the statement cache off")
	}
}

// TestLostStatementFallback: when the server session loses a named
// statement (26000, as when a transaction pooler routes a client to
// another session) or already has one of its name (42P05), the read is
// retried unnamed and succeeds, and the store names no statement again.
func TestLostStatementFallback(t *testing.T) {
	url := testsrv.PostgresURL(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("t%d_", prefixes.Add(1))
	// The name pgx gives the hot read, learnt from a first store.
	var name string
	{
		f := newCacheFixture(t, postgres.Config{URL: url, SchemaPrefix: prefix})
		for range postgres.AdmitHits {
			f.readQualified(t)
		}
		if err := f.s.DB().QueryRowContext(ctx, `SELECT name FROM pg_prepared_statements WHERE statement LIKE '%"things"%'`).Scan(&name); err != nil {
			t.Fatalf("the hot read was not prepared: %v", err)
		}
		if !strings.HasPrefix(name, "stmtcache_") {
			t.Fatalf("prepared as %q, want pgx's stmtcache_<hash>", name)
		}
	}
	tests := []struct {
		name string
		// lose makes the session lose or shadow the statement; it runs
		// after AdmitHits-1 reads, before the read is hot.
		lose   func(t *testing.T, f *cacheFixture)
		reads0 int // hot reads before lose
	}{
		{"26000 missing", func(t *testing.T, f *cacheFixture) {
			if _, err := f.s.DB().ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"42P05 duplicate", func(t *testing.T, f *cacheFixture) {
			if _, err := f.s.DB().ExecContext(ctx, "PREPARE "+name+" AS SELECT 1"); err != nil {
				t.Fatal(err)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCacheFixture(t, postgres.Config{URL: url, SchemaPrefix: prefix})
			for range postgres.AdmitHits - 1 + tt.reads0 {
				f.readQualified(t)
			}
			if tt.reads0 > 0 && len(f.prepared(t)) != 1 {
				t.Fatal("the hot read was not prepared")
			}
			tt.lose(t, f)
			if v := f.readQualified(t); v != 1.5 {
				t.Fatalf("read after the loss: %#v, want 1.5", v)
			}
			if f.s.StatementCache() {
				t.Fatal("StatementCache() = true after a lost statement")
			}
			before := f.prepared(t)
			for i := range 2 * postgres.AdmitHits {
				f.readQualified(t)
				f.read(t, f.qualified, fmt.Sprintf(", %d AS c", i%2), f.things)
			}
			if after := f.prepared(t); len(after) != len(before) {
				t.Errorf("prepared %q after the fallback, had %q", after, before)
			}
		})
	}
}

// TestStatementCacheOff: base_statement_cache=off (and a URL choosing its
// own exec mode) keeps every read unnamed.
func TestStatementCacheOff(t *testing.T) {
	url := testsrv.PostgresURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, tt := range []struct {
		param string
		cache bool
	}{
		{"", true},
		{"base_statement_cache=on", true},
		{"base_statement_cache=off", false},
		{"default_query_exec_mode=exec", false},
	} {
		t.Run(tt.param, func(t *testing.T) {
			u := url
			if tt.param != "" {
				u += sep + tt.param
			}
			cfg, err := postgres.ParseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			f := newCacheFixture(t, cfg)
			if got := f.s.StatementCache(); got != tt.cache {
				t.Errorf("StatementCache() = %v, want %v", got, tt.cache)
			}
			for range postgres.AdmitHits + 1 {
				if v := f.readQualified(t); v != 1.5 {
					t.Fatalf("read: %#v, want 1.5", v)
				}
			}
			if p := f.prepared(t); (len(p) == 1) != tt.cache {
				t.Errorf("prepared %q with statement cache %v", p, tt.cache)
			}
		})
	}
}

func TestParseStatementCache(t *testing.T) {
	for _, tt := range []struct {
		url     string
		off, ok bool
	}{
		{"postgres://h/db", false, true},
		{"postgres://h/db?base_statement_cache=on", false, true},
		{"postgres://h/db?base_statement_cache=off&sslmode=disable", true, true},
		{"postgres://h/db?base_statement_cache=no", false, false},
		{"postgres://h/db?base_statement_cache=", false, false},
	} {
		cfg, err := postgres.ParseURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("ParseURL(%q) error %v, want ok %v", tt.url, err, tt.ok)
			continue
		}
		if cfg.NoStatementCache != tt.off {
			t.Errorf("ParseURL(%q).NoStatementCache = %v, want %v", tt.url, cfg.NoStatementCache, tt.off)
		}
		if strings.Contains(cfg.URL, "base_") {
			t.Errorf("ParseURL(%q).URL = %q still has Base's parameter", tt.url, cfg.URL)
		}
	}
}

// Package storetest is the conformance suite every store driver runs:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// open must return a new, empty Store that the suite may Close; the suite
// registers no cleanup of its own for it beyond Close. LRU tests assume
// the store keeps far fewer than 300 handles open (e.g. MaxOpen 32).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/store"
)

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Bootstrap", testBootstrap},
		{"InvalidOrg", testInvalidOrg},
		{"OrgIsolation", testOrgIsolation},
		{"CreateAndLoad", testCreateAndLoad},
		{"UpdateMigratesData", testUpdateMigratesData},
		{"RenameCollection", testRenameCollection},
		{"SwapFieldNames", testSwapFieldNames},
		{"DeleteCollection", testDeleteCollection},
		{"DuplicateCollection", testDuplicateCollection},
		{"Indexes", testIndexes},
		{"IndexesFollowUpdates", testIndexesFollowUpdates},
		{"Transactions", testTransactions},
		{"SchemaChangeRollback", testSchemaChangeRollback},
		{"ConcurrentWriters", testConcurrentWriters},
		{"BeginHonoursContext", testBeginHonoursContext},
		{"ReadDuringWrite", testReadDuringWrite},
		{"ManyOrgs", testManyOrgs},
		{"Views", testViews},
		{"Truncate", testTruncate},
		{"Exists", testExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
	t.Run("AcquireAfterClose", func(t *testing.T) {
		s := open(t)
		db := acquire(t, s, "closing")
		db.Release()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if db, err := s.Acquire(t.Context(), "closing"); err == nil {
			db.Release()
			t.Fatal("Acquire after Close succeeded")
		}
		if db, err := s.Acquire(t.Context(), "other"); err == nil {
			db.Release()
			t.Fatal("Acquire of a new org after Close succeeded")
		}
	})
}

// acquire acquires org and fails the test on error.
func acquire(tb testing.TB, s store.Store, org string) store.DB {
	tb.Helper()
	db, err := s.Acquire(context.Background(), org)
	if err != nil {
		tb.Fatalf("Acquire(%q): %v", org, err)
	}
	return db
}

// write runs fn in a transaction and commits it.
func write(tb testing.TB, db store.DB, fn func(tx store.Tx) error) {
	tb.Helper()
	if err := tryWrite(db, fn); err != nil {
		tb.Fatal(err)
	}
}

func tryWrite(db store.DB, fn func(tx store.Tx) error) error {
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func field(t base.FieldType, name string) *base.Field {
	return &base.Field{ID: base.DefaultFieldID(t, name), Name: name, Type: t}
}

// posts returns a collection with one field of each storage kind.
func posts(org string) *base.Collection {
	tags := field(base.FieldSelect, "tags")
	tags.MaxSelect = 5
	tags.Values = []string{"a", "b", "c"}
	author := field(base.FieldRelation, "author")
	author.MaxSelect = 1
	author.CollectionID = base.NewCollectionID(org, base.TypeAuth, base.UsersCollection, 0)
	return &base.Collection{
		ID:       base.NewCollectionID(org, base.TypeBase, "posts", 0),
		Name:     "posts",
		Type:     base.TypeBase,
		ListRule: base.StringPtr(""),
		Fields: []*base.Field{
			base.RecordIDField(),
			field(base.FieldText, "title"),
			field(base.FieldText, "slug"),
			field(base.FieldNumber, "views"),
			field(base.FieldBool, "published"),
			tags,
			author,
			field(base.FieldJSON, "meta"),
			field(base.FieldGeoPoint, "loc"),
		},
	}
}

func createCollection(tb testing.TB, db store.DB, c *base.Collection) {
	tb.Helper()
	write(tb, db, func(tx store.Tx) error {
		return store.CreateCollection(context.Background(), tx, db.Dialect(), c)
	})
}

func updateCollection(tb testing.TB, db store.DB, old, c *base.Collection) {
	tb.Helper()
	write(tb, db, func(tx store.Tx) error {
		return store.UpdateCollection(context.Background(), tx, db.Dialect(), old, c)
	})
}

// insert inserts a row of column values into table.
func insert(q store.Querier, d store.Dialect, table string, row map[string]any) error {
	cols := make([]string, 0, len(row))
	for c := range row {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	query := "INSERT INTO " + d.Quote(table) + " ("
	vals := ""
	args := make([]any, len(cols))
	for i, c := range cols {
		if i > 0 {
			query += ", "
			vals += ", "
		}
		query += d.Quote(c)
		vals += "?"
		args[i] = row[c]
	}
	_, err := q.ExecContext(context.Background(), query+") VALUES ("+vals+")", args...)
	return err
}

func mustInsert(tb testing.TB, db store.DB, table string, row map[string]any) {
	tb.Helper()
	write(tb, db, func(tx store.Tx) error { return insert(tx, db.Dialect(), table, row) })
}

// get reads column col of record id as a string-ish value.
func get(tb testing.TB, q store.Querier, d store.Dialect, table, id, col string) any {
	tb.Helper()
	var v any
	err := q.QueryRowContext(context.Background(), "SELECT "+d.Quote(col)+" FROM "+d.Quote(table)+" WHERE "+d.Quote("id")+" = ?", id).Scan(&v)
	if err != nil {
		tb.Fatalf("read %s.%s of %q: %v", table, col, id, err)
	}
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func count(tb testing.TB, q store.Querier, d store.Dialect, table string) int {
	tb.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+d.Quote(table)).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

func schemaVersion(tb testing.TB, q store.Querier) int64 {
	tb.Helper()
	v, err := store.SchemaVersion(context.Background(), q)
	if err != nil {
		tb.Fatalf("SchemaVersion: %v", err)
	}
	return v
}

func find(tb testing.TB, q store.Querier, name string) *base.Collection {
	tb.Helper()
	c, err := store.FindCollection(context.Background(), q, name)
	if err != nil {
		tb.Fatalf("FindCollection(%q): %v", name, err)
	}
	return c
}

func names(cs []*base.Collection) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func testBootstrap(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	if db.Org() != "acme" {
		t.Errorf("Org() = %q, want acme", db.Org())
	}
	cs, err := store.LoadCollections(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(cs); !slices.Equal(got, []string{base.UsersCollection}) {
		t.Fatalf("collections = %v, want [users]", got)
	}
	want := base.UsersMirror("acme")
	got := cs[0]
	if got.ID != want.ID || got.Type != base.TypeAuth || !got.System {
		t.Errorf("users = id %q type %q system %v, want %q auth system", got.ID, got.Type, got.System, want.ID)
	}
	var gotFields, wantFields []string
	for _, f := range got.Fields {
		gotFields = append(gotFields, f.ID+":"+f.Name+":"+string(f.Type))
	}
	for _, f := range want.Fields {
		wantFields = append(wantFields, f.ID+":"+f.Name+":"+string(f.Type))
	}
	if !slices.Equal(gotFields, wantFields) {
		t.Errorf("users fields = %v, want %v", gotFields, wantFields)
	}
	if !slices.Equal(got.Indexes, want.Indexes) {
		t.Errorf("users indexes = %v, want %v", got.Indexes, want.Indexes)
	}
	if got.Created == "" || got.Updated == "" {
		t.Errorf("users timestamps empty: %q %q", got.Created, got.Updated)
	}
	if v := schemaVersion(t, db); v < 1 {
		t.Errorf("schema_version = %d, want >= 1", v)
	}
	// The users table exists with its columns and unique sub index.
	d := db.Dialect()
	mustInsert(t, db, "users", map[string]any{"id": "aaaaaaaaaaaaaaa", "sub": "s1", "email": "a@x.io", "verified": true})
	if got := get(t, db, d, "users", "aaaaaaaaaaaaaaa", "email"); got != "a@x.io" {
		t.Errorf("users.email = %v", got)
	}
	err = tryWrite(db, func(tx store.Tx) error {
		return insert(tx, d, "users", map[string]any{"id": "bbbbbbbbbbbbbbb", "sub": "s1"})
	})
	if !d.IsUniqueViolation(err) || !slices.Equal(d.UniqueColumns(err), []string{"sub"}) {
		t.Errorf("duplicate sub: err %v, unique %v cols %v", err, d.IsUniqueViolation(err), d.UniqueColumns(err))
	}
	// A second acquire sees the same, bootstrapping nothing twice.
	db2 := acquire(t, s, "acme")
	defer db2.Release()
	cs2, err := store.LoadCollections(ctx, db2)
	if err != nil || len(cs2) != 1 {
		t.Fatalf("reload: %v %v", names(cs2), err)
	}
	if v2 := schemaVersion(t, db2); v2 != schemaVersion(t, db) {
		t.Errorf("schema version changed on re-acquire: %d", v2)
	}
}

func testInvalidOrg(t *testing.T, s store.Store) {
	for _, org := range []string{"", "../etc", "a/b", "A", "-x", "a.b", "x\x00", "..", "a b",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if db, err := s.Acquire(t.Context(), org); err == nil {
			db.Release()
			t.Errorf("Acquire(%q) succeeded", org)
		}
	}
}

func testOrgIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := acquire(t, s, "org-a")
	defer a.Release()
	b := acquire(t, s, "org_b")
	defer b.Release()
	createCollection(t, a, posts("org-a"))
	createCollection(t, b, posts("org_b"))
	mustInsert(t, a, "posts", map[string]any{"id": "p1", "title": "in a"})
	if n := count(t, b, b.Dialect(), "posts"); n != 0 {
		t.Errorf("org_b sees %d posts of org-a", n)
	}
	mustInsert(t, b, "posts", map[string]any{"id": "p1", "title": "in b"})
	if got := get(t, a, a.Dialect(), "posts", "p1", "title"); got != "in a" {
		t.Errorf("org-a p1 title = %v", got)
	}
	extra := &base.Collection{ID: "only_a", Name: "only_a", Type: base.TypeBase, Fields: []*base.Field{base.RecordIDField()}}
	createCollection(t, a, extra)
	cb, err := store.LoadCollections(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(cb); !slices.Equal(got, []string{"users", "posts"}) {
		t.Errorf("org_b collections = %v", got)
	}
	pa, pb := find(t, a, "posts"), find(t, b, "posts")
	if pa.ID == pb.ID {
		t.Errorf("posts ids equal across orgs: %q", pa.ID)
	}
	if base.OrgFromCollectionID(find(t, b, "users").ID) != "org_b" {
		t.Errorf("users id of org_b does not embed the org")
	}
}

func testCreateAndLoad(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	v0 := schemaVersion(t, db)
	c := posts("acme")
	c.Indexes = []string{"CREATE UNIQUE INDEX `idx_posts_slug` ON `posts` (`slug`)"}
	createCollection(t, db, c)
	if v := schemaVersion(t, db); v != v0+1 {
		t.Errorf("schema_version = %d, want %d", v, v0+1)
	}
	got := find(t, db, "POSTS")
	if got.ID != c.ID || len(got.Fields) != len(c.Fields) || got.ListRule == nil || *got.ListRule != "" {
		t.Fatalf("loaded %+v", got)
	}
	if tags := got.Field("tags"); tags == nil || tags.MaxSelect != 5 || !slices.Equal(tags.Values, []string{"a", "b", "c"}) {
		t.Errorf("tags field not preserved: %+v", tags)
	}
	if byID := find(t, db, c.ID); byID.Name != "posts" {
		t.Errorf("find by id = %q", byID.Name)
	}
	if _, err := store.FindCollection(ctx, db, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindCollection(nope) = %v, want ErrNotFound", err)
	}
	// Column defaults follow the storage conventions.
	mustInsert(t, db, "posts", map[string]any{"id": "p1"})
	d := db.Dialect()
	for col, want := range map[string]any{"title": "", "views": int64(0), "tags": "[]", "author": "", "meta": nil, "loc": `{"lon":0,"lat":0}`} {
		if got := get(t, db, d, "posts", "p1", col); got != want {
			t.Errorf("default %s = %#v, want %#v", col, got, want)
		}
	}
	var pub bool
	if err := db.QueryRowContext(ctx, `SELECT "published" FROM "posts"`).Scan(&pub); err != nil || pub {
		t.Errorf("default published = %v, %v", pub, err)
	}
}

func testUpdateMigratesData(t *testing.T, s store.Store) {
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	old := posts("acme")
	createCollection(t, db, old)
	rows := []map[string]any{
		{"id": "p1", "title": "Hello", "views": 42, "published": true, "tags": `["b","c"]`, "author": "u1", "meta": `{"k":1}`, "loc": `{"lon":1.5,"lat":2}`},
		{"id": "p2", "title": "", "views": 0, "published": false, "tags": `[]`, "author": "", "meta": nil},
		{"id": "p3", "title": "12.5", "views": 7.25, "tags": `["a"]`, "author": "u3", "meta": `"str"`},
	}
	for _, r := range rows {
		mustInsert(t, db, "posts", r)
	}
	v0 := schemaVersion(t, db)

	c := old.Clone()
	c.Field("title").Name = "headline"         // rename keeps data
	c.Field("author").MaxSelect = 3            // single -> multiple
	c.Field("tags").MaxSelect = 1              // multiple -> single
	c.Field("views").Type = base.FieldText     // number -> text
	c.Field("published").Type = base.FieldText // bool -> text
	c.Field("meta").Type = base.FieldText      // json -> text
	c.Field("loc").Type = base.FieldJSON       // geoPoint -> json
	c.Fields = slices.DeleteFunc(c.Fields, func(f *base.Field) bool { return f.Name == "slug" })
	c.Fields = append(c.Fields, field(base.FieldNumber, "score"))
	updateCollection(t, db, old, c)

	if v := schemaVersion(t, db); v != v0+1 {
		t.Errorf("schema_version = %d, want %d", v, v0+1)
	}
	if n := count(t, db, d, "posts"); n != 3 {
		t.Fatalf("rows after migration = %d, want 3", n)
	}
	want := map[string]map[string]any{
		"p1": {"headline": "Hello", "author": `["u1"]`, "tags": "b", "views": "42", "published": "true", "meta": `{"k":1}`, "loc": `{"lon":1.5,"lat":2}`, "score": int64(0)},
		"p2": {"headline": "", "author": `[]`, "tags": "", "views": "0", "published": "false", "meta": "", "score": int64(0)},
		"p3": {"headline": "12.5", "author": `["u3"]`, "tags": "a", "views": "7.25", "meta": "str"},
	}
	for id, cols := range want {
		for col, w := range cols {
			if got := get(t, db, d, "posts", id, col); got != w {
				t.Errorf("%s.%s = %#v, want %#v", id, col, got, w)
			}
		}
	}
	if err := queryErr(db, `SELECT "slug" FROM "posts"`); err == nil {
		t.Errorf("dropped column slug still selectable")
	}
	loaded := find(t, db, "posts")
	if loaded.Field("headline") == nil || loaded.Field("title") != nil || loaded.Field("score") == nil {
		t.Errorf("catalogue not updated: %v", loaded.Fields)
	}

	// And back: text -> number/bool/json, multiple -> single keeps the
	// first element, single -> multiple wraps.
	c2 := loaded.Clone()
	c2.Field("views").Type = base.FieldNumber
	c2.Field("published").Type = base.FieldBool
	c2.Field("meta").Type = base.FieldJSON
	c2.Field("author").MaxSelect = 1
	c2.Field("tags").MaxSelect = 2
	c2.Field("headline").Type = base.FieldNumber
	updateCollection(t, db, loaded, c2)
	back := map[string]map[string]any{
		"p1": {"views": int64(42), "published": int64(1), "author": "u1", "tags": `["b"]`, "headline": int64(0), "meta": `{"k":1}`},
		"p2": {"views": int64(0), "published": int64(0), "author": "", "tags": `[]`, "headline": int64(0), "meta": nil},
		"p3": {"views": 7.25, "author": "u3", "tags": `["a"]`, "headline": 12.5, "meta": `"str"`},
	}
	for id, cols := range back {
		for col, w := range cols {
			got := get(t, db, d, "posts", id, col)
			if b, ok := got.(bool); ok { // drivers may scan BOOLEAN as bool
				got = map[bool]int64{false: 0, true: 1}[b]
			}
			if got != w {
				t.Errorf("back %s.%s = %#v, want %#v", id, col, got, w)
			}
		}
	}
}

func testRenameCollection(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	old := posts("acme")
	old.Indexes = []string{"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)"}
	createCollection(t, db, old)
	mustInsert(t, db, "posts", map[string]any{"id": "p1", "title": "kept", "slug": "a"})
	c := old.Clone()
	c.Name = "articles"
	c.Indexes = []string{"CREATE UNIQUE INDEX `idx_slug` ON `articles` (`slug`)"}
	updateCollection(t, db, old, c)
	if got := get(t, db, d, "articles", "p1", "title"); got != "kept" {
		t.Errorf("articles.p1.title = %v", got)
	}
	if err := queryErr(db, `SELECT * FROM "posts"`); err == nil {
		t.Errorf("old table posts still exists")
	}
	if _, err := store.FindCollection(ctx, db, "posts"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("catalogue still has posts: %v", err)
	}
	err := tryWrite(db, func(tx store.Tx) error { return insert(tx, d, "articles", map[string]any{"id": "p2", "slug": "a"}) })
	if !d.IsUniqueViolation(err) {
		t.Errorf("unique index lost on rename: %v", err)
	}
	// Case-only rename.
	c2 := c.Clone()
	c2.Name = "Articles"
	updateCollection(t, db, c, c2)
	if got := find(t, db, "articles").Name; got != "Articles" {
		t.Errorf("name after case rename = %q", got)
	}
	if n := count(t, db, d, "Articles"); n != 1 {
		t.Errorf("rows after case rename = %d", n)
	}
}

func testSwapFieldNames(t *testing.T, s store.Store) {
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	old := posts("acme")
	createCollection(t, db, old)
	mustInsert(t, db, "posts", map[string]any{"id": "p1", "title": "T", "slug": "S"})
	c := old.Clone()
	c.Field("title").Name = "tmp"
	c.Field("slug").Name = "title"
	c.Field("tmp").Name = "slug"
	updateCollection(t, db, old, c)
	if got := get(t, db, d, "posts", "p1", "title"); got != "S" {
		t.Errorf("title = %v, want S", got)
	}
	if got := get(t, db, d, "posts", "p1", "slug"); got != "T" {
		t.Errorf("slug = %v, want T", got)
	}
}

func testDeleteCollection(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	c := posts("acme")
	createCollection(t, db, c)
	mustInsert(t, db, "posts", map[string]any{"id": "p1"})
	v0 := schemaVersion(t, db)
	write(t, db, func(tx store.Tx) error { return store.DeleteCollection(ctx, tx, db.Dialect(), c) })
	if v := schemaVersion(t, db); v != v0+1 {
		t.Errorf("schema_version = %d, want %d", v, v0+1)
	}
	if err := queryErr(db, `SELECT * FROM "posts"`); err == nil {
		t.Error("table posts still exists")
	}
	err := tryWrite(db, func(tx store.Tx) error { return store.DeleteCollection(ctx, tx, db.Dialect(), c) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	// The name is free again.
	createCollection(t, db, posts("acme"))
	if n := count(t, db, db.Dialect(), "posts"); n != 0 {
		t.Errorf("recreated posts has %d rows", n)
	}
}

func testDuplicateCollection(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	createCollection(t, db, posts("acme"))
	dup := posts("acme")
	dup.ID = "other"
	dup.Name = "Posts"
	err := tryWrite(db, func(tx store.Tx) error { return store.CreateCollection(ctx, tx, db.Dialect(), dup) })
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	sameID := posts("acme")
	sameID.Name = "other"
	err = tryWrite(db, func(tx store.Tx) error { return store.CreateCollection(ctx, tx, db.Dialect(), sameID) })
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate id: %v, want ErrExists", err)
	}
	for _, bad := range []*base.Collection{
		{ID: "x1", Name: "_collections"},
		{ID: "x2", Name: "bad name"},
		{ID: "x3", Name: "ok", Fields: []*base.Field{field(base.FieldText, "a"), field(base.FieldText, "A")}},
		{ID: "x4", Name: "ok", Fields: []*base.Field{{Name: "a", Type: "nope"}}},
		{ID: "", Name: "noid"},
	} {
		err := tryWrite(db, func(tx store.Tx) error { return store.CreateCollection(ctx, tx, db.Dialect(), bad) })
		if err == nil {
			t.Errorf("CreateCollection(%q) accepted an invalid collection", bad.Name)
		}
	}
}

func testIndexes(t *testing.T, s store.Store) {
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	c := posts("acme")
	c.Indexes = []string{
		"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)",
		"CREATE UNIQUE INDEX idx_title_views ON posts (title, views)",
		"CREATE UNIQUE INDEX `idx_author` ON `posts` (`author`) WHERE `author` != ''",
		"CREATE INDEX `idx_lower_title` ON `posts` (lower(`title`) DESC)",
	}
	createCollection(t, db, c)
	mustInsert(t, db, "posts", map[string]any{"id": "p1", "slug": "a", "title": "t", "views": 1})
	mustInsert(t, db, "posts", map[string]any{"id": "p2", "slug": "b", "title": "t", "views": 2})
	// Partial unique index: many empty authors are fine.
	mustInsert(t, db, "posts", map[string]any{"id": "p3", "slug": "c", "views": 3})
	mustInsert(t, db, "posts", map[string]any{"id": "p4", "slug": "d", "views": 4, "author": "u1"})
	tests := []struct {
		row  map[string]any
		cols []string
	}{
		{map[string]any{"id": "x1", "slug": "a"}, []string{"slug"}},
		{map[string]any{"id": "x2", "slug": "z", "title": "t", "views": 1}, []string{"title", "views"}},
		{map[string]any{"id": "x3", "slug": "y", "views": 5, "author": "u1"}, []string{"author"}},
		{map[string]any{"id": "p1", "slug": "w"}, []string{"id"}},
	}
	for _, tc := range tests {
		err := tryWrite(db, func(tx store.Tx) error { return insert(tx, d, "posts", tc.row) })
		if err == nil {
			t.Errorf("insert %v: no error", tc.row)
			continue
		}
		if !d.IsUniqueViolation(err) {
			t.Errorf("insert %v: IsUniqueViolation false for %v", tc.row, err)
		}
		if got := d.UniqueColumns(err); !slices.Equal(got, tc.cols) {
			t.Errorf("insert %v: UniqueColumns = %v, want %v (%v)", tc.row, got, tc.cols, err)
		}
	}
	if d.IsUniqueViolation(errors.New("no such table: x")) || d.IsUniqueViolation(nil) {
		t.Error("IsUniqueViolation true for other errors")
	}
	if n := count(t, db, d, "posts"); n != 4 {
		t.Errorf("rows = %d, want 4", n)
	}
	// Invalid index definitions are rejected and roll back.
	bad := posts("acme")
	bad.ID, bad.Name = "bad", "bad"
	bad.Indexes = []string{"CREATE INDEX oops"}
	err := tryWrite(db, func(tx store.Tx) error { return store.CreateCollection(t.Context(), tx, d, bad) })
	if err == nil {
		t.Error("bad index accepted")
	}
}

func testIndexesFollowUpdates(t *testing.T, s store.Store) {
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	old := posts("acme")
	old.Indexes = []string{
		"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)",
		"CREATE UNIQUE INDEX `idx_title` ON `posts` (`title`)",
	}
	createCollection(t, db, old)
	mustInsert(t, db, "posts", map[string]any{"id": "p1", "slug": "a", "title": "t"})

	// Drop idx_title, keep idx_slug, add a unique index on views.
	c := old.Clone()
	c.Indexes = []string{
		"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)",
		"CREATE UNIQUE INDEX `idx_views` ON `posts` (`views`)",
	}
	updateCollection(t, db, old, c)
	mustInsert(t, db, "posts", map[string]any{"id": "p2", "slug": "b", "title": "t", "views": 2})
	err := tryWrite(db, func(tx store.Tx) error {
		return insert(tx, d, "posts", map[string]any{"id": "p3", "slug": "c", "views": 2})
	})
	if got := d.UniqueColumns(err); !slices.Equal(got, []string{"views"}) {
		t.Errorf("idx_views: %v cols %v", err, got)
	}

	// Rename the indexed field: the index follows the new definition.
	c2 := c.Clone()
	c2.Field("slug").Name = "handle"
	c2.Indexes = []string{"CREATE UNIQUE INDEX `idx_handle` ON `posts` (`handle`)"}
	updateCollection(t, db, c, c2)
	err = tryWrite(db, func(tx store.Tx) error { return insert(tx, d, "posts", map[string]any{"id": "p4", "handle": "a"}) })
	if got := d.UniqueColumns(err); !slices.Equal(got, []string{"handle"}) {
		t.Errorf("idx_handle: %v cols %v", err, got)
	}
	mustInsert(t, db, "posts", map[string]any{"id": "p5", "handle": "z", "views": 2}) // idx_views dropped

	// Adding a unique index that existing data violates fails and rolls back.
	c3 := c2.Clone()
	c3.Indexes = append(c3.Indexes, "CREATE UNIQUE INDEX `idx_title2` ON `posts` (`title`)")
	err = tryWrite(db, func(tx store.Tx) error { return store.UpdateCollection(t.Context(), tx, d, c2, c3) })
	if err == nil {
		t.Error("unique index over duplicate data accepted")
	}
	if got := find(t, db, "posts").Indexes; !slices.Equal(got, c2.Indexes) {
		t.Errorf("indexes after failed update = %v", got)
	}
}

func testTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	createCollection(t, db, posts("acme"))

	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(tx, d, "posts", map[string]any{"id": "r1"}); err != nil {
		t.Fatal(err)
	}
	// The transaction sees its own write.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "posts"`).Scan(&n); err != nil || n != 1 {
		t.Errorf("in-tx count = %d, %v", n, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, d, "posts"); n != 0 {
		t.Errorf("rolled back insert visible: %d rows", n)
	}

	tx, err = db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(tx, d, "posts", map[string]any{"id": "c1", "title": "committed"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err == nil {
		t.Error("Rollback after Commit returned nil")
	}
	if got := get(t, db, d, "posts", "c1", "title"); got != "committed" {
		t.Errorf("committed row title = %v", got)
	}
	// A second Begin works after both paths: the writer was released.
	write(t, db, func(tx store.Tx) error { return insert(tx, d, "posts", map[string]any{"id": "c2"}) })
	// DB.ExecContext writes outside an explicit transaction.
	if _, err := db.ExecContext(ctx, `UPDATE "posts" SET "title" = ? WHERE "id" = ?`, "direct", "c2"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, d, "posts", "c2", "title"); got != "direct" {
		t.Errorf("ExecContext write = %v", got)
	}
}

func testSchemaChangeRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	v0 := schemaVersion(t, db)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateCollection(ctx, tx, db.Dialect(), posts("acme")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if v := schemaVersion(t, db); v != v0 {
		t.Errorf("schema_version = %d after rollback, want %d", v, v0)
	}
	if _, err := store.FindCollection(ctx, db, "posts"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled back collection found: %v", err)
	}
	createCollection(t, db, posts("acme")) // the table was rolled back too
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const workers, each = 8, 40
	db := acquire(t, s, "acme")
	defer db.Release()
	createCollection(t, db, posts("acme"))
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker acquires its own handle, as requests do.
			mine, err := s.Acquire(context.Background(), "acme")
			if err != nil {
				errs <- err
				return
			}
			defer mine.Release()
			for i := range each {
				id := fmt.Sprintf("w%02di%03d", w, i)
				err := tryWrite(mine, func(tx store.Tx) error {
					var n int
					if err := tx.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM "posts"`).Scan(&n); err != nil {
						return err
					}
					return insert(tx, mine.Dialect(), "posts", map[string]any{"id": id, "views": n})
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, db, db.Dialect(), "posts"); n != workers*each {
		t.Errorf("rows = %d, want %d", n, workers*each)
	}
	// Serialized writers saw every earlier commit: views are 0..N-1.
	var distinct int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(DISTINCT "views") FROM "posts"`).Scan(&distinct); err != nil || distinct != workers*each {
		t.Errorf("distinct counts = %d (%v), want %d: writers were not serialized", distinct, err, workers*each)
	}
}

func testBeginHonoursContext(t *testing.T, s store.Store) {
	db := acquire(t, s, "acme")
	defer db.Release()
	tx, err := db.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(t.Context(), 50_000_000) // 50ms
	defer cancel()
	tx2, err := db.Begin(ctx)
	if err == nil {
		tx2.Rollback()
		t.Fatal("second Begin succeeded while the writer was held")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Begin = %v, want deadline exceeded", err)
	}
}

func testReadDuringWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	createCollection(t, db, posts("acme"))
	mustInsert(t, db, "posts", map[string]any{"id": "p1"})
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := insert(tx, db.Dialect(), "posts", map[string]any{"id": "p2"}); err != nil {
		t.Fatal(err)
	}
	// Readers neither block on nor see the open write.
	if n := count(t, db, db.Dialect(), "posts"); n != 1 {
		t.Errorf("reader sees %d rows during write, want 1", n)
	}
}

func testManyOrgs(t *testing.T, s store.Store) {
	const orgs = 300
	org := func(i int) string { return fmt.Sprintf("org%03d", i) }
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, orgs)
	for i := range orgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			db, err := s.Acquire(context.Background(), org(i))
			if err != nil {
				errs <- err
				return
			}
			defer db.Release()
			err = tryWrite(db, func(tx store.Tx) error {
				return insert(tx, db.Dialect(), "users", map[string]any{"id": "u", "sub": "s", "name": org(i)})
			})
			if err != nil {
				errs <- fmt.Errorf("%s: %w", org(i), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every org still has exactly its own data after evictions.
	for i := range orgs {
		db := acquire(t, s, org(i))
		var name string
		err := db.QueryRowContext(t.Context(), `SELECT "name" FROM "users" WHERE "id" = ?`, "u").Scan(&name)
		n := count(t, db, db.Dialect(), "users")
		db.Release()
		if err != nil || name != org(i) || n != 1 {
			t.Fatalf("%s: name %q rows %d err %v", org(i), name, n, err)
		}
	}
	// A handle held across heavy churn stays usable.
	held := acquire(t, s, org(0))
	defer held.Release()
	for i := 1; i < orgs; i++ {
		acquire(t, s, org(i)).Release()
	}
	if n := count(t, held, held.Dialect(), "users"); n != 1 {
		t.Errorf("held handle: %d rows", n)
	}
	write(t, held, func(tx store.Tx) error {
		return insert(tx, held.Dialect(), "users", map[string]any{"id": "u2", "sub": "other"})
	})
}

func testViews(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	d := db.Dialect()
	createCollection(t, db, posts("acme"))
	mustInsert(t, db, "posts", map[string]any{"id": "p1", "title": "a", "views": 3, "tags": `["a"]`, "author": "u1"})
	mustInsert(t, db, "posts", map[string]any{"id": "p2", "title": "b", "views": 4, "author": "u1"})

	query := `SELECT p.id, p.title AS headline, p.tags, p.author, COUNT(*) AS n, 'x' AS lit, p.views * 2 AS doubled, p.meta
		FROM posts p LEFT JOIN users u ON u.id = p.author GROUP BY p.id`
	fields, err := store.ViewFields(ctx, db, d, query)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id:text", "headline:text", "tags:select", "author:relation", "n:number", "lit:text", "doubled:json", "meta:json"}
	var got []string
	for _, f := range fields {
		got = append(got, f.Name+":"+string(f.Type))
	}
	if !slices.Equal(got, want) {
		t.Errorf("ViewFields = %v, want %v", got, want)
	}
	for _, f := range fields {
		if f.Name == "tags" && f.MaxSelect != 5 {
			t.Errorf("tags maxSelect = %d, want 5 (copied from posts)", f.MaxSelect)
		}
		if f.Name == "author" && f.CollectionID == "" {
			t.Error("author lost its collectionId")
		}
	}
	if _, err := store.ViewFields(ctx, db, d, `SELECT title FROM posts`); err == nil {
		t.Error("view without id accepted")
	}
	if _, err := store.ViewFields(ctx, db, d, `SELECT id FROM nope`); err == nil {
		t.Error("view over a missing table accepted")
	}
	if _, err := store.ViewFields(ctx, db, d, `SELECT id FROM posts; DROP TABLE posts`); err == nil {
		t.Error("multi-statement view accepted")
	}
	star, err := store.ViewFields(ctx, db, d, `SELECT * FROM posts`)
	if err != nil {
		t.Fatal(err)
	}
	pc0 := find(t, db, "posts")
	if len(star) != len(pc0.Fields) {
		t.Fatalf("SELECT * fields = %d, want %d", len(star), len(pc0.Fields))
	}
	for i, f := range star {
		if f.Name != pc0.Fields[i].Name || f.Type != pc0.Fields[i].Type {
			t.Errorf("SELECT * field %d = %s:%s, want %s:%s", i, f.Name, f.Type, pc0.Fields[i].Name, pc0.Fields[i].Type)
		}
	}
	rows, err := store.DryRunView(ctx, db, d, "SELECT id, title FROM posts ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0]["id"] != "p1" || rows[1]["title"] != "b" {
		t.Errorf("DryRunView = %v", rows)
	}

	view := &base.Collection{ID: "pbc_view", Name: "post_stats", Type: base.TypeView,
		ViewQuery: `SELECT p.id, p.title, p.views FROM posts p WHERE p.views > 3`}
	createCollection(t, db, view)
	if len(view.Fields) != 3 || view.Fields[2].Type != base.FieldNumber {
		t.Errorf("inferred view fields = %v", view.Fields)
	}
	if n := count(t, db, d, "post_stats"); n != 1 {
		t.Errorf("view rows = %d, want 1", n)
	}
	if got := find(t, db, "post_stats"); got.ViewQuery != view.ViewQuery || len(got.Fields) != 3 {
		t.Errorf("stored view = %+v", got)
	}
	// Columns the view does not use can still change under it.
	pOld := find(t, db, "posts")
	pNew := pOld.Clone()
	pNew.Fields = slices.DeleteFunc(pNew.Fields, func(f *base.Field) bool { return f.Name == "slug" })
	pNew.Field("meta").Type = base.FieldText
	pNew.Field("tags").Name = "labels"
	updateCollection(t, db, pOld, pNew)
	if n := count(t, db, d, "post_stats"); n != 1 {
		t.Errorf("view rows after table update = %d, want 1", n)
	}
	// Deleting a table a view depends on is refused.
	pc := find(t, db, "posts")
	err = tryWrite(db, func(tx store.Tx) error { return store.DeleteCollection(ctx, tx, d, pc) })
	if err == nil {
		t.Error("deleting posts under a view succeeded")
	}
	// Updating the query and name recreates the view.
	v2 := find(t, db, "post_stats").Clone()
	v2.Name = "all_posts"
	v2.ViewQuery = `SELECT id, title FROM posts`
	updateCollection(t, db, find(t, db, "post_stats"), v2)
	if got := len(find(t, db, "all_posts").Fields); got != 2 {
		t.Errorf("fields after query change = %d, want 2 (re-inferred)", got)
	}
	if n := count(t, db, d, "all_posts"); n != 2 {
		t.Errorf("updated view rows = %d, want 2", n)
	}
	if err := queryErr(db, `SELECT * FROM "post_stats"`); err == nil {
		t.Error("old view still exists")
	}
	write(t, db, func(tx store.Tx) error { return store.DeleteCollection(ctx, tx, d, v2) })
	write(t, db, func(tx store.Tx) error { return store.DeleteCollection(ctx, tx, d, pc) })
	err = tryWrite(db, func(tx store.Tx) error { return store.TruncateCollection(ctx, tx, d, v2) })
	if err == nil {
		t.Error("truncating a view succeeded")
	}
}

func testTruncate(t *testing.T, s store.Store) {
	ctx := t.Context()
	db := acquire(t, s, "acme")
	defer db.Release()
	c := posts("acme")
	createCollection(t, db, c)
	for i := range 5 {
		mustInsert(t, db, "posts", map[string]any{"id": fmt.Sprint("p", i)})
	}
	write(t, db, func(tx store.Tx) error { return store.TruncateCollection(ctx, tx, db.Dialect(), c) })
	if n := count(t, db, db.Dialect(), "posts"); n != 0 {
		t.Errorf("rows after truncate = %d", n)
	}
	if _, err := store.FindCollection(ctx, db, "posts"); err != nil {
		t.Errorf("truncate removed the collection: %v", err)
	}
}

// queryErr runs query and returns its error, wherever the driver reports
// it (at QueryContext or while reading rows).
func queryErr(q store.Querier, query string) error {
	rows, err := q.QueryContext(context.Background(), query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// testExists checks that Exists reports created orgs, creates nothing
// itself, and rejects invalid names.
func testExists(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ok, err := s.Exists(ctx, "never-seen"); err != nil || ok {
		t.Fatalf("Exists(never-seen) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.Exists(ctx, "never-seen"); err != nil || ok {
		t.Fatalf("Exists created the org: second call = %v, %v", ok, err)
	}
	acquire(t, s, "seen").Release()
	if ok, err := s.Exists(ctx, "seen"); err != nil || !ok {
		t.Fatalf("Exists(seen) = %v, %v; want true, nil", ok, err)
	}
	if _, err := s.Exists(ctx, "../escape"); err == nil {
		t.Fatal("Exists accepted an invalid org name")
	}
}

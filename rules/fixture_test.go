package rules

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base"

	_ "modernc.org/sqlite"
)

// testSchema is a Schema over a fixed set of collections.
type testSchema []*base.Collection

func (s testSchema) Collection(nameOrID string) *base.Collection {
	for _, c := range s {
		if c.Name == nameOrID || c.ID == nameOrID {
			return c
		}
	}
	return nil
}

func fld(t base.FieldType, name string) *base.Field {
	return &base.Field{ID: base.DefaultFieldID(t, name), Name: name, Type: t}
}

func rel(name, collID string, max int) *base.Field {
	f := fld(base.FieldRelation, name)
	f.CollectionID = collID
	f.MaxSelect = max
	return f
}

func hidden(f *base.Field) *base.Field { f.Hidden = true; return f }

// newSchema builds the test collections: users (auth), teams, secrets
// (locked), posts (single and multiple relations, multi select, json,
// geoPoint, a hidden field) and comments (back-relations to posts).
func newSchema() testSchema {
	users := &base.Collection{
		ID: "pbc_users", Name: "users", Type: base.TypeAuth,
		ListRule: base.StringPtr("id = @request.auth.id"),
		Fields: []*base.Field{
			base.RecordIDField(), hidden(fld(base.FieldText, "sub")), fld(base.FieldEmail, "email"),
			fld(base.FieldBool, "emailVisibility"), fld(base.FieldBool, "verified"),
			fld(base.FieldText, "name"), rel("team", "pbc_teams", 1),
		},
	}
	teams := &base.Collection{
		ID: "pbc_teams", Name: "teams", Type: base.TypeBase,
		ListRule: base.StringPtr(`name = "Red"`),
		Fields:   []*base.Field{base.RecordIDField(), fld(base.FieldText, "name")},
	}
	secrets := &base.Collection{
		ID: "pbc_secrets", Name: "secrets", Type: base.TypeBase,
		Fields: []*base.Field{base.RecordIDField(), fld(base.FieldText, "code")},
	}
	tags := fld(base.FieldSelect, "tags")
	tags.MaxSelect = 5
	tags.Values = []string{"a", "b", "c"}
	category := fld(base.FieldSelect, "category")
	category.MaxSelect = 1
	posts := &base.Collection{
		ID: "pbc_posts", Name: "posts", Type: base.TypeBase,
		ListRule: base.StringPtr(""),
		Fields: []*base.Field{
			base.RecordIDField(), fld(base.FieldText, "title"), fld(base.FieldNumber, "views"),
			fld(base.FieldBool, "published"), rel("author", "pbc_users", 1), rel("editors", "pbc_users", 5),
			tags, category, fld(base.FieldJSON, "data"), fld(base.FieldGeoPoint, "location"),
			hidden(fld(base.FieldText, "secret")), rel("vault", "pbc_secrets", 1),
			fld(base.FieldDate, "created"),
		},
	}
	comments := &base.Collection{
		ID: "pbc_comments", Name: "comments", Type: base.TypeBase,
		ListRule: base.StringPtr(`@request.auth.id != ""`),
		Fields: []*base.Field{
			base.RecordIDField(), rel("post", "pbc_posts", 1), rel("user", "pbc_users", 1),
			fld(base.FieldText, "text"),
		},
	}
	profiles := &base.Collection{
		ID: "pbc_profiles", Name: "profiles", Type: base.TypeBase,
		ListRule: base.StringPtr(""),
		Fields: []*base.Field{
			base.RecordIDField(), rel("user", "pbc_users", 1), fld(base.FieldText, "bio"),
		},
		Indexes: []string{"CREATE UNIQUE INDEX `idx_profiles_user` ON `profiles` (`user`)"},
	}
	return testSchema{users, teams, secrets, posts, comments, profiles}
}

// columnDDL is the storage convention's column definition of f.
func columnDDL(f *base.Field) string {
	q := `"` + f.Name + `" `
	if f.Name == "id" {
		return q + "TEXT PRIMARY KEY NOT NULL"
	}
	switch f.Type {
	case base.FieldNumber:
		return q + "NUMERIC NOT NULL DEFAULT 0"
	case base.FieldBool:
		return q + "BOOLEAN NOT NULL DEFAULT FALSE"
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		if f.Multiple() {
			return q + "JSON NOT NULL DEFAULT '[]'"
		}
		return q + "TEXT NOT NULL DEFAULT ''"
	case base.FieldJSON:
		return q + "JSON DEFAULT NULL"
	case base.FieldGeoPoint:
		return q + `JSON NOT NULL DEFAULT '{"lon":0,"lat":0}'`
	}
	return q + "TEXT NOT NULL DEFAULT ''"
}

var fixtures = map[string][]map[string]any{
	"teams": {
		{"id": "t1", "name": "Red"},
		{"id": "t2", "name": "Blue"},
	},
	"users": {
		{"id": "u1", "sub": "s1", "email": "a@x.com", "emailVisibility": 1, "verified": 1, "name": "Alice", "team": "t1"},
		{"id": "u2", "sub": "s2", "email": "b@x.com", "emailVisibility": 0, "verified": 0, "name": "Bob", "team": "t2"},
		{"id": "u3", "sub": "s3", "email": "c@x.com", "emailVisibility": 1, "verified": 0, "name": "Carol"},
	},
	"secrets": {{"id": "s1", "code": "x"}},
	"posts": {
		{"id": "p1", "title": "Hello World", "views": 10, "published": 1, "author": "u1", "editors": `["u1","u2"]`,
			"tags": `["a","b"]`, "category": "news", "data": `{"a":{"b":[1,2]},"k":"v"}`,
			"location": `{"lon":23.32,"lat":42.69}`, "secret": "s", "vault": "s1", "created": "2024-01-01 10:00:00.000Z"},
		{"id": "p2", "title": "100% sure_thing", "views": 5, "published": 0, "author": "u2", "editors": `["u2"]`,
			"tags": `["b"]`, "category": "blog", "data": `{"k":"w"}`, "created": "2024-06-01 00:00:00.000Z"},
		{"id": "p3", "created": "2025-01-01 00:00:00.000Z"},
		{"id": "p4", "title": `back\slash`, "views": 20, "author": "u3", "editors": `["u3","u1"]`,
			"tags": `["a"]`, "category": "news", "data": `{"k":null}`, "location": `{"lon":23.3,"lat":42.7}`,
			"created": "2023-03-03 00:00:00.000Z"},
	},
	"comments": {
		{"id": "c1", "post": "p1", "user": "u1", "text": "nice"},
		{"id": "c2", "post": "p1", "user": "u2", "text": "meh"},
		{"id": "c3", "post": "p2", "user": "u2", "text": "nice"},
	},
	"profiles": {
		{"id": "f1", "user": "u1", "bio": "hi"},
		{"id": "f2", "user": "u2", "bio": "yo"},
	},
}

// openDB creates an in-memory SQLite database with the schema's tables and
// the fixtures.
func openDB(tb testing.TB, schema testSchema) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	for _, c := range schema {
		cols := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			cols[i] = columnDDL(f)
		}
		if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE %q (%s)`, c.Name, strings.Join(cols, ", "))); err != nil {
			tb.Fatalf("create %s: %v", c.Name, err)
		}
		for _, row := range fixtures[c.Name] {
			var names, marks []string
			var args []any
			for _, f := range c.Fields {
				if v, ok := row[f.Name]; ok {
					names = append(names, `"`+f.Name+`"`)
					marks = append(marks, "?")
					args = append(args, v)
				}
			}
			q := fmt.Sprintf(`INSERT INTO %q (%s) VALUES (%s)`, c.Name, strings.Join(names, ", "), strings.Join(marks, ", "))
			if _, err := db.Exec(q, args...); err != nil {
				tb.Fatalf("insert %s: %v", c.Name, err)
			}
		}
	}
	return db
}

var fixedNow = time.Date(2024, 7, 15, 12, 30, 45, 0, time.UTC)

func newCompiler(schema testSchema) *Compiler {
	return &Compiler{Dialect: SQLite, Schema: schema, Now: func() time.Time { return fixedNow }}
}

// queryIDs runs SELECT id FROM coll AS "t" WHERE where ORDER BY order.
func queryIDs(tb testing.TB, db *sql.DB, coll, where, order string, args []any) []string {
	tb.Helper()
	if order == "" {
		order = `"t"."id"`
	}
	q := fmt.Sprintf(`SELECT "t"."id" FROM %q AS "t" WHERE %s ORDER BY %s`, coll, where, order)
	rows, err := db.Query(q, args...)
	if err != nil {
		tb.Fatalf("query: %v\n%s\nargs %v", err, q, args)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

package handler

// Tests of the first statement of an authenticated request: the schema
// version and the caller's users mirror record read together
// (records.LoadMirror) while the org's schema is cached, the general path
// (reload the schema, EnsureUser) when it changed.

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store/postgres"
)

// TestUsersMirrorWithCachedSchema: with the org's schema cached, a first
// request still creates the caller's mirror record, changed claims still
// refresh it, and a change of the users collection made through another
// instance is honoured on the next request (a column added shows up; a
// column dropped, which makes the cached statement fail, too).
func TestUsersMirrorWithCachedSchema(t *testing.T) {
	for _, mode := range []string{"second sqlite.Open on the same dir", "second handler.New on the same store"} {
		t.Run(mode, func(t *testing.T) {
			a := newAPI(t)
			other := a.sibling(t)
			if mode == "second handler.New on the same store" {
				cfg := a.cfg
				cfg.Store = a.store
				h, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				other.h = h
			}
			checkMirrorAcrossSchemaChanges(t, a, other)
		})
	}
}

// checkMirrorAcrossSchemaChanges runs the steps of
// TestUsersMirrorWithCachedSchema: a serves the users, other changes the
// users collection.
func checkMirrorAcrossSchemaChanges(t *testing.T, a, other *apiHarness) {
	t.Helper()
	users := "/v1/collections/users/records/"
	h := time.Hour
	token := func(sub, name string) string {
		return a.mint(t, map[string]any{"sub": sub, "owner": "default", "email": sub + "@example.com", "name": name}, h)
	}
	self := func(tok, sub string, want map[string]any, wantAbsent ...string) {
		t.Helper()
		got := a.must(t, 200, apiRequest{method: "GET", path: users + userID(sub), token: tok})
		for k, w := range want {
			if v, ok := lookup(got, k); !ok || v != w {
				t.Errorf("%s: %s = %v (present %v), want %v", sub, k, v, ok, w)
			}
		}
		for _, k := range wantAbsent {
			if v, ok := lookup(got, k); ok {
				t.Errorf("%s: %s = %v, want absent", sub, k, v)
			}
		}
	}
	mirrors := func(sub string) float64 {
		t.Helper()
		list := a.must(t, 200, apiRequest{method: "GET", path: users[:len(users)-1] + "?filter=" + url.QueryEscape(fmt.Sprintf("sub = %q", sub)), token: a.tok.admin})
		n, _ := lookup(list, "totalItems")
		f, _ := n.(float64)
		return f
	}
	usersFields := func(edit func([]any) []any) {
		t.Helper()
		c := other.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users", token: a.tok.admin})
		fields, _ := lookup(c, "fields")
		fs, _ := fields.([]any)
		other.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/users", token: a.tok.admin,
			body: map[string]any{"fields": edit(slices.Clone(fs))}})
	}

	// The first request of the org loads its schema; from then on it is
	// cached.
	self(a.tok.alice, "alice", map[string]any{"name": "Alice"}, "nick")
	self(a.tok.alice, "alice", map[string]any{"name": "Alice"}, "nick")

	erin := token("erin", "Erin")
	self(erin, "erin", map[string]any{"id": userID("erin"), "name": "Erin", "email": "erin@example.com"}, "nick")
	if n := mirrors("erin"); n != 1 {
		t.Errorf("mirror records of erin: %v, want 1", n)
	}
	erin2 := token("erin", "Erin Two")
	self(erin2, "erin", map[string]any{"name": "Erin Two"})
	self(erin2, "erin", map[string]any{"name": "Erin Two"})

	// A column added through the other instance: the next request sees it.
	usersFields(func(fs []any) []any { return append(fs, field("nick", "text")) })
	self(erin2, "erin", map[string]any{"name": "Erin Two", "nick": ""})
	self(token("fred", "Fred"), "fred", map[string]any{"name": "Fred", "nick": ""})

	// The column dropped again: the statement built from the cached schema
	// names a column that is gone, and the request still succeeds, with
	// the refreshed claims stored.
	usersFields(func(fs []any) []any {
		return slices.DeleteFunc(fs, func(f any) bool { n, _ := lookup(f, "name"); return n == "nick" })
	})
	self(token("erin", "Erin Three"), "erin", map[string]any{"name": "Erin Three"}, "nick")
	self(token("gus", "Gus"), "gus", map[string]any{"name": "Gus"}, "nick")
	for _, sub := range []string{"alice", "erin", "fred", "gus"} {
		if n := mirrors(sub); n != 1 {
			t.Errorf("mirror records of %s: %v, want 1", sub, n)
		}
	}
}

var pgPrefixes atomic.Int64

// pgModes are the store's two ways of pointing statements at an org.
var pgModes = []struct {
	name string
	mode postgres.SearchPathMode
}{
	{"local", postgres.SearchPathLocal},
	{"session", postgres.SearchPathSession},
}

// pgHarness is a harness with its handler over a PostgreSQL store reached through
// a counting proxy, and a second instance (its own store on the same
// schemas).
func pgHarness(t *testing.T, mode postgres.SearchPathMode) (a, other *apiHarness, proxy *testsrv.CountingProxy) {
	t.Helper()
	u, err := url.Parse(testsrv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy = testsrv.StartCountingProxy(t, u.Host)
	u.Host = proxy.Addr()
	prefix := fmt.Sprintf("h%d_%d_", os.Getpid(), pgPrefixes.Add(1))
	open := func(h *apiHarness, conns int) {
		st, err := postgres.Open(postgres.Config{URL: u.String(), SchemaPrefix: prefix, SearchPath: mode, MaxConns: conns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg := h.cfg
		cfg.Store = st
		if h.h, err = New(cfg); err != nil {
			t.Fatal(err)
		}
	}
	a = newAPI(t)
	b := *a
	other = &b
	open(a, 1) // one connection: its statements are the proxy's writes in order
	open(other, 0)
	return a, other, proxy
}

// TestUsersMirrorPostgres runs the mirror steps on PostgreSQL, where the
// cached statement is a prepared one per org on direct connections.
func TestUsersMirrorPostgres(t *testing.T) {
	for _, mode := range pgModes {
		t.Run(mode.name, func(t *testing.T) {
			a, other, _ := pgHarness(t, mode.mode)
			checkMirrorAcrossSchemaChanges(t, a, other)
		})
	}
}

// TestAuthenticatedViewRoundTripsPostgres counts the statements of a
// view by id on PostgreSQL: the schema version, the caller's users mirror
// and the record are one statement (records.Prefetch) when the view rule
// is decided in memory; a rule the store must decide adds one.
func TestAuthenticatedViewRoundTripsPostgres(t *testing.T) {
	for _, mode := range pgModes {
		t.Run(mode.name, func(t *testing.T) {
			a, _, proxy := pgHarness(t, mode.mode)
			coll := a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "notes", "fields": []any{field("title", "text")}}, ruleSet("", "", "", "", "")))
			rec := a.createRecord(t, a.tok.alice, "notes", map[string]any{"title": "t"})
			path := "/v1/collections/notes/records/" + str(t, rec, "id")
			for _, tt := range []struct {
				who, token, rule string
				want             int64 // statements per view
			}{
				{"alice", a.tok.alice, "", 1},
				{"admin", a.tok.admin, `@collection.notes.title ?= "t"`, 1},
				{"alice", a.tok.alice, `title = "t" && @request.auth.id != ""`, 1},
				{"alice", a.tok.alice, `@collection.notes.title ?= "t"`, 2},
				{"guest", "", "", 1},
			} {
				a.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/" + str(t, coll, "id"), token: a.tok.admin,
					body: map[string]any{"viewRule": tt.rule}})
				for range 3 { // warm: mirror, schema cache, prepared statements
					a.must(t, 200, apiRequest{method: "GET", path: path, token: tt.token})
				}
				const n = 20
				before := proxy.Writes()
				for range n {
					a.must(t, 200, apiRequest{method: "GET", path: path, token: tt.token})
				}
				got := proxy.Writes() - before
				t.Logf("%s, rule %q: %d views, %d client writes", tt.who, tt.rule, n, got)
				if got > tt.want*n+1 {
					t.Errorf("%s, rule %q: %d views took %d client writes, want %d each", tt.who, tt.rule, n, got, tt.want)
				}
			}
		})
	}
}

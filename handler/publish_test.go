package handler

// Every write path publishes its events after the commit, and nothing for a
// write that rolled back. The recording publisher checks, while Publish
// runs, that each event's change is already visible to another request
// (created and updated records readable, deleted ones gone): an event
// published before the commit would fail that check.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/files/local"
)

// recorder is a Publisher that keeps the events and checks each one against
// the store when it is published.
type recorder struct {
	tb     testing.TB
	a      *apiHarness
	tokens map[string]string // org → superuser token used to check visibility

	mu     sync.Mutex
	events []base.Event
	inside bool // a check's own request is running
}

// Publish implements Publisher.
func (r *recorder) Publish(ctx context.Context, events []base.Event) {
	r.mu.Lock()
	nested := r.inside
	r.inside = true
	r.mu.Unlock()
	if !nested && r.a != nil {
		for _, ev := range events {
			r.checkCommitted(ev)
		}
	}
	r.mu.Lock()
	if !nested {
		r.inside = false
	}
	r.events = append(r.events, events...)
	r.mu.Unlock()
}

// checkCommitted reads the event's record through the handler as the
// org's superuser: present after a create or update, absent after a delete.
func (r *recorder) checkCommitted(ev base.Event) {
	tok, ok := r.tokens[ev.Org]
	if !ok {
		r.tb.Errorf("event for unexpected org %q: %+v", ev.Org, ev)
		return
	}
	id, _ := ev.Record["id"].(string)
	res := r.a.do(r.tb, apiRequest{method: "GET", path: "/v1/collections/" + ev.CollectionID + "/records/" + id, token: tok})
	want := 200
	if ev.Action == base.ActionDelete {
		want = 404
	}
	if res.Code != want {
		r.tb.Errorf("%s event of %s/%s published while a GET answers %d (want %d): published before the commit?",
			ev.Action, ev.CollectionName, id, res.Code, want)
	}
}

// take returns the events recorded so far as "action coll/title-or-id"
// strings, sorted, and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	evs := r.events
	r.events = nil
	r.mu.Unlock()
	out := make([]string, len(evs))
	for i, ev := range evs {
		label, _ := ev.Record["title"].(string)
		if label == "" {
			label, _ = ev.Record["id"].(string)
		}
		out[i] = fmt.Sprintf("%s %s/%s", ev.Action, ev.CollectionName, label)
	}
	sort.Strings(out)
	return out
}

// raw returns the recorded events and forgets them.
func (r *recorder) raw() []base.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	return evs
}

// newPublishAPI is a harness whose handler publishes to a recorder.
func newPublishAPI(t *testing.T, opts ...func(*Config)) (*apiHarness, *recorder) {
	t.Helper()
	rec := &recorder{tb: t}
	a := newAPI(t, append([]func(*Config){func(c *Config) { c.Publisher = rec }}, opts...)...)
	rec.a = a
	rec.tokens = map[string]string{"default": a.tok.admin, "acme": a.tok.acmeAdmin}
	// Warm up the mirrors of the identities the tests use, so their
	// creation events do not mix into the scenarios.
	for _, tok := range []string{a.tok.admin, a.tok.alice, a.tok.bob, a.tok.acmeAdmin} {
		a.must(t, 200, apiRequest{method: "POST", path: "/v1/collections/users/auth-refresh", token: tok})
	}
	rec.take()
	return a, rec
}

func wantEvents(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	got := rec.take()
	if want == nil {
		want = []string{}
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestPublishRecordWrites: create, update and delete publish one event
// each after the commit; writes refused by validation, rules or a missing
// record publish nothing.
func TestPublishRecordWrites(t *testing.T) {
	a, rec := newPublishAPI(t)
	a.createCollection(t, a.tok.admin, merge(map[string]any{
		"name": "notes", "type": "base",
		"fields": []any{field("title", "text", "required", true), field("owner", "text"), field("secret", "text", "hidden", true)},
	}, ruleSet("", "", `@request.auth.id != ""`, `owner = @request.auth.id`, `owner = @request.auth.id`)))
	rec.take()
	aliceID := base.UserRecordID("alice")

	n := a.createRecord(t, a.tok.alice, "notes", map[string]any{"title": "one", "owner": aliceID})
	id := n["id"].(string)
	wantEvents(t, rec, "create notes/one")

	fails := []struct {
		name string
		r    apiRequest
		code int
	}{
		{"create failing validation", apiRequest{method: "POST", path: "/v1/collections/notes/records", token: a.tok.alice, body: map[string]any{"owner": aliceID}}, 400},
		{"create failing the create rule", apiRequest{method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"title": "guest"}}, 400},
		{"update failing the update rule", apiRequest{method: "PATCH", path: "/v1/collections/notes/records/" + id, token: a.tok.bob, body: map[string]any{"title": "bob"}}, 404},
		{"update failing validation", apiRequest{method: "PATCH", path: "/v1/collections/notes/records/" + id, token: a.tok.alice, body: map[string]any{"title": ""}}, 400},
		{"update of a missing record", apiRequest{method: "PATCH", path: "/v1/collections/notes/records/nosuchrecord000", token: a.tok.alice, body: map[string]any{"title": "x"}}, 404},
		{"delete failing the delete rule", apiRequest{method: "DELETE", path: "/v1/collections/notes/records/" + id, token: a.tok.bob}, 404},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			a.must(t, f.code, f.r)
			wantEvents(t, rec)
		})
	}

	a.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/notes/records/" + id, token: a.tok.alice, body: map[string]any{"title": "two"}})
	wantEvents(t, rec, "update notes/two")
	// Events carry the full record, hidden fields included: the hub strips
	// them per subscriber.
	a.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/notes/records/" + id, token: a.tok.admin, body: map[string]any{"secret": "s"}})
	if evs := rec.raw(); len(evs) != 1 || evs[0].Record["secret"] != "s" || evs[0].Org != "default" {
		t.Fatalf("superuser update events %+v: want one with the hidden field, org default", evs)
	}
	a.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/notes/records/" + id, token: a.tok.alice})
	wantEvents(t, rec, "delete notes/two")
}

// TestPublishBatch: a committed batch publishes every sub-request's events
// after the commit; a batch failing at any request publishes nothing.
func TestPublishBatch(t *testing.T) {
	a, rec := newPublishAPI(t)
	a.createCollection(t, a.tok.admin, merge(map[string]any{
		"name": "notes", "type": "base",
		"fields": []any{field("title", "text", "required", true)},
	}, ruleSet("", "", "", "", "")))
	old := a.createRecord(t, a.tok.alice, "notes", map[string]any{"title": "old"})
	gone := a.createRecord(t, a.tok.alice, "notes", map[string]any{"title": "gone"})
	rec.take()
	batch := func(reqs ...map[string]any) apiRequest {
		return apiRequest{method: "POST", path: "/v1/batch", token: a.tok.alice, body: map[string]any{"requests": reqs}}
	}
	create := func(title any) map[string]any {
		return map[string]any{"method": "POST", "url": "/api/collections/notes/records", "body": map[string]any{"title": title}}
	}
	a.must(t, 200, batch(
		create("b1"),
		map[string]any{"method": "PATCH", "url": "/api/collections/notes/records/" + old["id"].(string), "body": map[string]any{"title": "old2"}},
		map[string]any{"method": "DELETE", "url": "/api/collections/notes/records/" + gone["id"].(string)},
		map[string]any{"method": "PUT", "url": "/api/collections/notes/records", "body": map[string]any{"title": "upserted"}},
	))
	wantEvents(t, rec, "create notes/b1", "update notes/old2", "delete notes/gone", "create notes/upserted")

	for name, r := range map[string]apiRequest{
		"last request invalid":  batch(create("r1"), create("r2"), create("")),
		"first request invalid": batch(create(""), create("r3")),
		"unknown record":        batch(create("r4"), map[string]any{"method": "DELETE", "url": "/api/collections/notes/records/nosuchrecord000"}),
	} {
		t.Run(name, func(t *testing.T) {
			a.must(t, 400, r)
			wantEvents(t, rec)
		})
	}
}

// TestPublishCascades: deleting a record publishes a delete event for every
// record its deletion cascades to (transitively) and an update event for
// every record it is unlinked from; a delete refused by a required
// reference publishes nothing.
func TestPublishCascades(t *testing.T) {
	a, rec := newPublishAPI(t)
	rules := ruleSet("", "", "", "", "")
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "posts", "type": "base", "fields": []any{field("title", "text")}}, rules))
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "comments", "type": "base", "fields": []any{
		field("title", "text"), field("post", "relation", "collectionId", "posts", "maxSelect", 1, "cascadeDelete", true),
	}}, rules))
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "likes", "type": "base", "fields": []any{
		field("title", "text"), field("comment", "relation", "collectionId", "comments", "maxSelect", 1, "cascadeDelete", true),
	}}, rules))
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "links", "type": "base", "fields": []any{
		field("title", "text"), field("posts", "relation", "collectionId", "posts", "maxSelect", 5),
	}}, rules))
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "pins", "type": "base", "fields": []any{
		field("title", "text"), field("post", "relation", "collectionId", "posts", "maxSelect", 1, "required", true),
	}}, rules))

	p1 := a.createRecord(t, a.tok.alice, "posts", map[string]any{"title": "p1"})["id"].(string)
	p2 := a.createRecord(t, a.tok.alice, "posts", map[string]any{"title": "p2"})["id"].(string)
	c1 := a.createRecord(t, a.tok.alice, "comments", map[string]any{"title": "c1", "post": p1})["id"].(string)
	a.createRecord(t, a.tok.alice, "comments", map[string]any{"title": "c2", "post": p1})
	a.createRecord(t, a.tok.alice, "comments", map[string]any{"title": "c3", "post": p2})
	a.createRecord(t, a.tok.alice, "likes", map[string]any{"title": "l1", "comment": c1})
	a.createRecord(t, a.tok.alice, "links", map[string]any{"title": "k1", "posts": []string{p1, p2}})
	a.createRecord(t, a.tok.alice, "pins", map[string]any{"title": "pin", "post": p2})
	rec.take()

	a.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/posts/records/" + p1, token: a.tok.alice})
	wantEvents(t, rec, "delete posts/p1", "delete comments/c1", "delete comments/c2", "delete likes/l1", "update links/k1")

	// p2 is required by a pin: the whole delete rolls back, cascades
	// included, and publishes nothing.
	a.must(t, 400, apiRequest{method: "DELETE", path: "/v1/collections/posts/records/" + p2, token: a.tok.alice})
	wantEvents(t, rec)
}

// TestPublishFileFields: an upload, a replacement and a removal of a file
// each publish an update whose record names the files as stored.
func TestPublishFileFields(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, rec := newPublishAPI(t, func(c *Config) { c.Files = st })
	fe := &fileEnv{apiHarness: a, st: st}
	fe.filesCollection(t)
	rec.take()

	doc := fe.multipartOK(t, "POST", "/v1/collections/docs/records", a.tok.alice, formPart{name: "title", value: "d"}, formPart{name: "doc", file: "a.txt", value: "hello"})
	evs := rec.raw()
	if len(evs) != 1 || evs[0].Action != base.ActionCreate || evs[0].Record["doc"] != doc["doc"] || doc["doc"] == "" {
		t.Fatalf("upload events %+v, want a create naming %v", evs, doc["doc"])
	}
	id := doc["id"].(string)
	up := fe.multipartOK(t, "PATCH", "/v1/collections/docs/records/"+id, a.tok.alice, formPart{name: "doc", file: "b.txt", value: "again"})
	evs = rec.raw()
	if len(evs) != 1 || evs[0].Action != base.ActionUpdate || evs[0].Record["doc"] != up["doc"] || up["doc"] == doc["doc"] {
		t.Fatalf("replacement events %+v, want an update naming %v", evs, up["doc"])
	}
	a.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/docs/records/" + id, token: a.tok.alice, body: map[string]any{"doc": nil}})
	evs = rec.raw()
	if len(evs) != 1 || evs[0].Action != base.ActionUpdate || evs[0].Record["doc"] != "" {
		t.Fatalf("removal events %+v, want an update with no file", evs)
	}
	// A rejected upload (too large) publishes nothing.
	res := fe.multipart(t, "PATCH", "/v1/collections/docs/records/"+id, a.tok.alice, formPart{name: "doc", file: "big.txt", value: string(make([]byte, 2000))})
	if res.Code != 400 {
		t.Fatalf("oversized upload: %d %s", res.Code, res.Raw)
	}
	wantEvents(t, rec)
}

// TestPublishUsersMirror: an identity's first request creates its users
// mirror record and publishes its create; changed claims publish an update;
// an unchanged identity publishes nothing.
func TestPublishUsersMirror(t *testing.T) {
	a, rec := newPublishAPI(t)
	zed := a.mint(t, map[string]any{"sub": "zed", "owner": "default", "email": "zed@example.com", "name": "Zed"}, time.Hour)
	a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records", token: zed})
	evs := rec.raw()
	if len(evs) != 1 || evs[0].Action != base.ActionCreate || evs[0].CollectionName != base.UsersCollection ||
		evs[0].Record["id"] != base.UserRecordID("zed") || evs[0].Record["name"] != "Zed" || evs[0].Org != "default" {
		t.Fatalf("first request events %+v, want the mirror's create", evs)
	}
	a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records", token: zed})
	wantEvents(t, rec)
	zed2 := a.mint(t, map[string]any{"sub": "zed", "owner": "default", "email": "zed@example.com", "name": "Zed Two"}, time.Hour)
	a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records", token: zed2})
	evs = rec.raw()
	if len(evs) != 1 || evs[0].Action != base.ActionUpdate || evs[0].Record["name"] != "Zed Two" {
		t.Fatalf("changed claims events %+v, want the mirror's update", evs)
	}
}

// TestPublishCollectionTruncateAndDelete: truncating a collection publishes
// a delete event per record (PocketBase deletes record by record, each
// firing its realtime delete), cascades included; deleting a collection
// publishes no record events (PocketBase drops the table without record
// hooks).
func TestPublishCollectionTruncateAndDelete(t *testing.T) {
	a, rec := newPublishAPI(t)
	rules := ruleSet("", "", "", "", "")
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "solo", "type": "base", "fields": []any{field("title", "text")}}, rules))
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "posts", "type": "base", "fields": []any{field("title", "text")}}, rules))
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "comments", "type": "base", "fields": []any{
		field("title", "text"), field("post", "relation", "collectionId", "posts", "maxSelect", 1, "cascadeDelete", true),
	}}, rules))
	for _, s := range []string{"s1", "s2", "s3"} {
		a.createRecord(t, a.tok.alice, "solo", map[string]any{"title": s})
	}
	p := a.createRecord(t, a.tok.alice, "posts", map[string]any{"title": "p1"})["id"].(string)
	a.createRecord(t, a.tok.alice, "posts", map[string]any{"title": "p2"})
	a.createRecord(t, a.tok.alice, "comments", map[string]any{"title": "c1", "post": p})
	rec.take()

	t.Run("truncate without references", func(t *testing.T) {
		a.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/solo/truncate", token: a.tok.admin})
		wantEvents(t, rec, "delete solo/s1", "delete solo/s2", "delete solo/s3")
	})
	t.Run("truncate with cascades", func(t *testing.T) {
		a.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/posts/truncate", token: a.tok.admin})
		wantEvents(t, rec, "delete posts/p1", "delete posts/p2", "delete comments/c1")
	})
	t.Run("truncate refused", func(t *testing.T) {
		a.must(t, 403, apiRequest{method: "DELETE", path: "/v1/collections/solo/truncate", token: a.tok.alice})
		wantEvents(t, rec)
	})
	t.Run("collection delete", func(t *testing.T) {
		a.createRecord(t, a.tok.alice, "solo", map[string]any{"title": "s4"})
		rec.take()
		a.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/comments", token: a.tok.admin})
		a.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/solo", token: a.tok.admin})
		wantEvents(t, rec)
	})
}

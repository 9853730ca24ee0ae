package handler

import (
	"net/url"
	"strings"
	"testing"
)

// TestCollectionsAccess checks that every collections route answers 401 to
// guests and 403 to non-superusers, before doing anything.
func TestCollectionsAccess(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/collections", nil},
		{"POST", "/v1/collections", map[string]any{"name": "x", "fields": []any{field("t", "text")}}},
		{"PUT", "/v1/collections/import", map[string]any{"collections": []any{map[string]any{"name": "x"}}}},
		{"GET", "/v1/collections/meta/scaffolds", nil},
		{"GET", "/v1/collections/meta/oauth2-providers", nil},
		{"POST", "/v1/collections/meta/dry-run-view", map[string]any{"query": "SELECT id FROM notes"}},
		{"GET", "/v1/collections/notes", nil},
		{"PATCH", "/v1/collections/notes", map[string]any{"listRule": nil}},
		{"DELETE", "/v1/collections/notes", nil},
		{"DELETE", "/v1/collections/notes/truncate", nil},
		{"GET", "/api/collections", nil},
		{"DELETE", "/api/collections/notes/truncate", nil},
	}
	var scs []scenario
	for _, r := range routes {
		scs = append(scs,
			scenario{name: "guest " + r.method + " " + r.path, method: r.method, path: r.path, body: r.body,
				status: 401, want: map[string]any{"message": "The request requires valid record authorization token."}},
			scenario{name: "user " + r.method + " " + r.path, method: r.method, path: r.path, body: r.body, token: a.tok.alice,
				status: 403, want: map[string]any{"message": "The authorized record is not allowed to perform this action."}},
			scenario{name: "expired token " + r.method + " " + r.path, method: r.method, path: r.path, body: r.body, token: a.tok.expired,
				status: 401},
			scenario{name: "other org's admin " + r.method + " " + r.path, method: r.method, path: r.path, body: r.body, token: a.tok.acmeAdmin,
				headers: map[string]string{"X-Org-Id": "default"}, status: 403},
		)
	}
	runScenarios(t, a.h, scs)
	// Nothing changed.
	a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/notes", token: a.tok.admin})
	res := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/notes/records"})
	if n, _ := lookup(res, "totalItems"); n != float64(1) {
		t.Errorf("notes truncated by a non-superuser: totalItems %v", n)
	}
	a.must(t, 404, apiRequest{method: "GET", path: "/v1/collections/x", token: a.tok.admin})
}

func TestListCollections(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	q := url.QueryEscape
	names := func(want ...string) func(tb testing.TB, res *apiResponse) {
		return func(tb testing.TB, res *apiResponse) {
			tb.Helper()
			items, _ := lookup(res.JSON, "items")
			var got []string
			for _, it := range items.([]any) {
				got = append(got, it.(map[string]any)["name"].(string))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				tb.Errorf("names %v, want %v", got, want)
			}
		}
	}
	const all = 6 // users, posts, notes, vault, comments, likes
	scs := []scenario{
		{name: "all", method: "GET", path: "/v1/collections?sort=name", token: a.tok.admin,
			status: 200, check: names("comments", "likes", "notes", "posts", "users", "vault"),
			want: map[string]any{"page": 1, "perPage": 30, "totalItems": all, "totalPages": 1}},
		{name: "filter by name", method: "GET", path: "/v1/collections?filter=" + q(`name = "posts"`), token: a.tok.admin,
			status: 200, check: names("posts"), want: map[string]any{"items.0.id": b.postsID, "items.0.type": "base"}},
		{name: "filter by type", method: "GET", path: "/v1/collections?filter=" + q(`type = "auth"`), token: a.tok.admin,
			status: 200, check: names("users")},
		{name: "filter by system", method: "GET", path: "/v1/collections?sort=name&filter=" + q(`system = false`), token: a.tok.admin,
			status: 200, check: names("comments", "likes", "notes", "posts", "vault")},
		{name: "filter with like", method: "GET", path: "/v1/collections?sort=name&filter=" + q(`name ~ "o"`), token: a.tok.admin,
			status: 200, check: names("comments", "notes", "posts")},
		{name: "sort descending", method: "GET", path: "/v1/collections?sort=-name", token: a.tok.admin,
			status: 200, check: names("vault", "users", "posts", "notes", "likes", "comments")},
		{name: "paging", method: "GET", path: "/v1/collections?sort=name&page=2&perPage=2", token: a.tok.admin,
			status: 200, check: names("notes", "posts"), want: map[string]any{"page": 2, "perPage": 2, "totalItems": all, "totalPages": 3}},
		{name: "skipTotal", method: "GET", path: "/v1/collections?skipTotal=1&perPage=1", token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": -1, "totalPages": -1, "items": hasLen(1)}},
		{name: "perPage clamped", method: "GET", path: "/v1/collections?perPage=5000", token: a.tok.admin,
			status: 200, want: map[string]any{"perPage": 1000}},
		{name: "page=abc", method: "GET", path: "/v1/collections?page=abc", token: a.tok.admin,
			status: 400},
		{name: "bad filter", method: "GET", path: "/v1/collections?filter=" + q(`name =`), token: a.tok.admin,
			status: 400, want: map[string]any{"data": map[string]any{}}},
		{name: "filter on an unknown field", method: "GET", path: "/v1/collections?filter=" + q(`listRule = ""`), token: a.tok.admin,
			status: 400},
		{name: "sort on an unknown field", method: "GET", path: "/v1/collections?sort=fields", token: a.tok.admin,
			status: 400},
		{name: "fields picker", method: "GET", path: "/v1/collections?sort=name&perPage=1&fields=" + q("id,name"), token: a.tok.admin,
			status: 200, want: map[string]any{"items.0": map[string]any{"id": b.commentsID, "name": "comments"}, "totalItems": all}},
		{name: "platform superuser", method: "GET", path: "/v1/collections", token: a.tok.root,
			status: 200, want: map[string]any{"totalItems": all}},
		{name: "model keys", method: "GET", path: "/v1/collections?filter=" + q(`name = "posts"`), token: a.tok.admin,
			status: 200, want: map[string]any{
				"items.0.listRule": ruleVisible, "items.0.createRule": ruleCreate, "items.0.fields.0.name": "id",
				"items.0.indexes": hasLen(1), "items.0.created": nonEmptyString, "items.0.updated": nonEmptyString,
				"items.0.viewQuery": absent, "items.0.authRule": absent,
			}},
		{name: "auth model keys", method: "GET", path: "/v1/collections?filter=" + q(`name = "users"`), token: a.tok.admin,
			status: 200, want: map[string]any{"items.0.authRule": present, "items.0.manageRule": nil, "items.0.passwordAuth.enabled": false, "items.0.oauth2": present}},
	}
	runScenarios(t, a.h, scs)
}

func TestViewCollection(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{name: "by name", method: "GET", path: "/v1/collections/posts", token: a.tok.admin,
			status: 200, want: map[string]any{"id": b.postsID, "name": "posts", "type": "base", "system": false,
				"listRule": ruleVisible, "viewRule": ruleVisible, "createRule": ruleCreate, "updateRule": ruleOwner, "deleteRule": ruleOwner,
				"fields.1.name": "title", "fields.1.required": true}},
		{name: "by id", method: "GET", path: "/v1/collections/" + b.postsID, token: a.tok.admin,
			status: 200, want: map[string]any{"name": "posts"}},
		{name: "null rules render as null", method: "GET", path: "/v1/collections/vault", token: a.tok.admin,
			status: 200, want: map[string]any{"listRule": nil, "createRule": nil}},
		{name: "empty rules render as empty", method: "GET", path: "/v1/collections/notes", token: a.tok.admin,
			status: 200, want: map[string]any{"listRule": "", "deleteRule": ""}},
		{name: "fields param", method: "GET", path: "/v1/collections/notes?fields=name", token: a.tok.admin,
			status: 200, want: map[string]any{"": map[string]any{"name": "notes"}}},
		{name: "unknown", method: "GET", path: "/v1/collections/nope", token: a.tok.admin,
			status: 404},
		{name: "/api alias", method: "GET", path: "/api/collections/users", token: a.tok.admin,
			status: 200, want: map[string]any{"type": "auth", "system": true}},
	})
}

func TestCreateCollection(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	const fail = "Failed to create collection."
	scs := []scenario{
		{name: "base collection", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "tasks", "listRule": "", "fields": []any{field("title", "text", "required", true, "max", 50), field("done", "bool")}},
			status: 200, want: map[string]any{
				"id": nonEmptyString, "name": "tasks", "type": "base", "system": false, "listRule": "", "viewRule": nil,
				"fields.0.name": "id", "fields.0.primaryKey": true, "fields.1.name": "title", "fields.1.id": nonEmptyString,
				"fields.1.max": 50, "fields.2.type": "bool", "created": nonEmptyString,
			}},
		{name: "auth collection gets the system fields", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "members", "type": "auth"},
			status: 200, want: map[string]any{"type": "auth", "fields.1.name": "email", "fields.2.name": "emailVisibility", "fields.3.name": "verified", "indexes": hasLen(1)}},
		{name: "view collection infers fields", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "published", "type": "view", "listRule": "", "viewRule": "", "viewQuery": "SELECT id, title, views FROM posts WHERE published = 1"},
			status: 200, want: map[string]any{"type": "view", "viewQuery": present, "fields": hasLen(3), "fields.1.name": "title"}},
		{name: "blank field name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad1", "fields": []any{field("ok", "text"), field("", "text")}},
			status: 400, want: map[string]any{"message": fail, "data.fields.2.name.code": "validation_required", "data.fields.2.name.message": "Cannot be blank."}},
		{name: "invalid field name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad2", "fields": []any{field("has space", "text")}},
			status: 400, want: map[string]any{"data.fields.1.name.code": present}},
		{name: "reserved field name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad3", "fields": []any{field("expand", "text")}},
			status: 400, want: map[string]any{"data.fields.1.name.code": present}},
		{name: "duplicated field name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad4", "fields": []any{field("a", "text"), field("A", "number")}},
			status: 400, want: map[string]any{"data.fields.2.name.code": "validation_duplicated_field_name"}},
		{name: "unknown field type", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad5", "fields": []any{field("a", "wat")}},
			status: 400, want: map[string]any{"data.fields.1.type.code": present}},
		{name: "relation to a missing collection", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad6", "fields": []any{field("r", "relation", "collectionId", "ghosts")}},
			status: 400, want: map[string]any{"data.fields.1.collectionId.code": present}},
		{name: "duplicate collection name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "Posts"},
			status: 400, want: map[string]any{"message": fail, "data.name.code": present}},
		{name: "missing name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"fields": []any{}},
			status: 400, want: map[string]any{"data.name.code": "validation_required"}},
		{name: "invalid rule", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad7", "listRule": "nope = 1"},
			status: 400, want: map[string]any{"data.listRule.code": "validation_invalid_rule"}},
		{name: "rule syntax error", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad8", "createRule": "title ="},
			status: 400, want: map[string]any{"data.createRule.code": "validation_invalid_rule"}},
		{name: "invalid view query", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad9", "type": "view", "viewQuery": "SELECT nope FROM nowhere"},
			status: 400, want: map[string]any{"data.viewQuery.code": present}},
		{name: "view query that writes", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad10", "type": "view", "viewQuery": "DELETE FROM posts"},
			status: 400},
		{name: "invalid index", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "bad11", "fields": []any{field("a", "text")}, "indexes": []string{"CREATE INDEX oops"}},
			status: 400, want: map[string]any{"data.indexes": present}},
		{name: "wrong option type", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   `{"name":"bad12","fields":[{"name":"a","type":"text","min":"five"}]}`,
			status: 400},
		{name: "malformed JSON", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   `{"name":`,
			status: 400, want: map[string]any{"message": "Failed to load the submitted data due to invalid formatting."}},
		{name: "invalid collection name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "no-dashes"},
			status: 400, want: map[string]any{"data.name.code": present}},
		{name: "reserved sqlite_ name", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "sqlite_master"},
			status: 400, want: map[string]any{"data.name.code": present}},
	}
	runScenarios(t, a.h, scs)

	t.Run("failed creates left nothing behind", func(t *testing.T) {
		res := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections?filter=" + url.QueryEscape(`name ~ "bad"`), token: a.tok.admin})
		if n, _ := lookup(res, "totalItems"); n != float64(0) {
			t.Errorf("invalid collections were stored: %v", jsonText(res))
		}
	})
	t.Run("records of a new collection", func(t *testing.T) {
		r := a.createRecord(t, a.tok.admin, "tasks", map[string]any{"title": "first", "done": true})
		a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/tasks/records/" + r["id"].(string), token: a.tok.admin})
		a.must(t, 403, apiRequest{method: "GET", path: "/v1/collections/tasks/records/" + r["id"].(string)})
		a.must(t, 400, apiRequest{method: "POST", path: "/v1/collections/tasks/records", token: a.tok.admin, body: map[string]any{"title": strings.Repeat("x", 51)}})
		res := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/published/records?sort=title"})
		if n, _ := lookup(res, "totalItems"); n != float64(2) {
			t.Errorf("view collection rows: %v, want 2 published posts", n)
		}
	})
}

func TestUpdateCollection(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	const fail = "Failed to update collection."
	coll := func(tb testing.TB, name string) map[string]any {
		tb.Helper()
		return a.must(tb, 200, apiRequest{method: "GET", path: "/v1/collections/" + name, token: a.tok.admin}).(map[string]any)
	}
	posts := coll(t, "posts")
	fields := posts["fields"].([]any)
	// Rename "title" (index 1) to "headline", keeping its id.
	renamed := make([]any, len(fields))
	for i, f := range fields {
		m := map[string]any{}
		for k, v := range f.(map[string]any) {
			m[k] = v
		}
		if m["name"] == "title" {
			m["name"] = "headline"
		}
		renamed[i] = m
	}
	typeChanged := make([]any, len(fields))
	for i, f := range fields {
		m := map[string]any{}
		for k, v := range f.(map[string]any) {
			m[k] = v
		}
		if m["name"] == "views" {
			m["type"] = "text"
		}
		typeChanged[i] = m
	}
	scs := []scenario{
		{name: "change a rule", method: "PATCH", path: "/v1/collections/notes", token: a.tok.admin, body: map[string]any{"listRule": nil},
			status: 200, want: map[string]any{"listRule": nil, "viewRule": "", "name": "notes"}},
		{name: "the changed rule applies at once", method: "GET", path: "/v1/collections/notes/records",
			status: 403},
		{name: "rename a field", method: "PATCH", path: "/v1/collections/posts", token: a.tok.admin, body: map[string]any{"fields": renamed},
			status: 200, want: map[string]any{"fields.1.name": "headline", "fields.1.id": fields[1].(map[string]any)["id"]}},
		{name: "renamed field keeps its data", method: "GET", path: "/v1/collections/posts/records/" + b.a1,
			status: 200, want: map[string]any{"headline": "A1", "title": absent}},
		{name: "the old name no longer filters", method: "GET", path: "/v1/collections/posts/records?filter=" + url.QueryEscape(`title = "A1"`),
			status: 400},
		{name: "the new name filters", method: "GET", path: "/v1/collections/posts/records?filter=" + url.QueryEscape(`headline = "A1"`),
			status: 200, check: itemIDs(b.a1)},
		{name: "field type change refused", method: "PATCH", path: "/v1/collections/posts", token: a.tok.admin, body: map[string]any{"fields": typeChanged},
			status: 400, want: map[string]any{"message": fail, "data.fields": present}},
		{name: "rename the collection", method: "PATCH", path: "/v1/collections/vault", token: a.tok.admin, body: map[string]any{"name": "safe"},
			status: 200, want: map[string]any{"name": "safe"}},
		{name: "records follow the rename", method: "GET", path: "/v1/collections/safe/records/" + b.vaultRec, token: a.tok.admin,
			status: 200, want: map[string]any{"title": "gold", "collectionName": "safe"}},
		{name: "the old name is gone", method: "GET", path: "/v1/collections/vault/records", token: a.tok.admin,
			status: 404},
		{name: "rename onto an existing name", method: "PATCH", path: "/v1/collections/safe", token: a.tok.admin, body: map[string]any{"name": "notes"},
			status: 400, want: map[string]any{"message": fail, "data.name.code": present}},
		{name: "invalid rule", method: "PATCH", path: "/v1/collections/safe", token: a.tok.admin, body: map[string]any{"viewRule": "missing_field = 1"},
			status: 400, want: map[string]any{"data.viewRule.code": "validation_invalid_rule"}},
		{name: "add a field", method: "PATCH", path: "/v1/collections/safe", token: a.tok.admin,
			body:   map[string]any{"fields": []any{map[string]any{"name": "id", "type": "text", "id": "text3208210256", "primaryKey": true, "required": true, "system": true, "min": 15, "max": 15, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}"}, field("title", "text", "id", "text724990059"), field("weight", "number")}},
			status: 200, want: map[string]any{"fields": hasLen(3)}},
		{name: "the new field has its zero value", method: "GET", path: "/v1/collections/safe/records/" + b.vaultRec, token: a.tok.admin,
			status: 200, want: map[string]any{"weight": 0, "title": "gold"}},
		{name: "unique index over duplicate data", method: "PATCH", path: "/v1/collections/posts", token: a.tok.admin,
			body:   map[string]any{"indexes": []string{"CREATE UNIQUE INDEX `idx_posts_pub` ON `posts` (`published`)"}},
			status: 400, want: map[string]any{"message": fail}},
		{name: "system collection rename refused", method: "PATCH", path: "/v1/collections/users", token: a.tok.admin, body: map[string]any{"name": "people"},
			status: 400},
		{name: "unknown collection", method: "PATCH", path: "/v1/collections/nope", token: a.tok.admin, body: map[string]any{"name": "x"},
			status: 404},
		{name: "malformed JSON", method: "PATCH", path: "/v1/collections/notes", token: a.tok.admin, body: `{"name": 1`,
			status: 400},
		{name: "empty body changes nothing", method: "PATCH", path: "/v1/collections/notes", token: a.tok.admin, body: "",
			status: 200, want: map[string]any{"name": "notes", "listRule": nil}},
	}
	runScenarios(t, a.h, scs)
	if got := coll(t, "posts")["indexes"]; len(got.([]any)) != 1 {
		t.Errorf("failed index change was kept: %v", got)
	}
}

func TestDeleteCollection(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{name: "referenced by other collections", method: "DELETE", path: "/v1/collections/posts", token: a.tok.admin,
			status: 400, want: map[string]any{"message": containsText("existing reference in")}},
		{name: "referenced message names the referrers", method: "DELETE", path: "/v1/collections/posts", token: a.tok.admin,
			status: 400, want: map[string]any{"message": containsText("comments")}},
		{name: "system collection", method: "DELETE", path: "/v1/collections/users", token: a.tok.admin,
			status: 400},
		{name: "unknown", method: "DELETE", path: "/v1/collections/nope", token: a.tok.admin,
			status: 404},
		{name: "delete a leaf", method: "DELETE", path: "/v1/collections/likes", token: a.tok.admin,
			status: 204},
		{name: "deleted collection is gone", method: "GET", path: "/v1/collections/likes", token: a.tok.admin,
			status: 404},
		{name: "its records are gone", method: "GET", path: "/v1/collections/likes/records",
			status: 404, want: map[string]any{"message": "Missing collection context."}},
		{name: "delete the other referrer", method: "DELETE", path: "/v1/collections/comments", token: a.tok.admin,
			status: 204},
		{name: "now the referenced collection can go", method: "DELETE", path: "/v1/collections/posts", token: a.tok.admin,
			status: 204},
		{name: "by id, SDK content type without body", method: "DELETE", path: "/v1/collections/notes", token: a.tok.admin, body: "",
			status: 204},
	})
	t.Run("a deleted name can be reused", func(t *testing.T) {
		a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "likes", "fields": []any{field("n", "number")}}, ruleSet("", "", "", "", "")))
		res := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/likes/records"})
		if n, _ := lookup(res, "totalItems"); n != float64(0) {
			t.Errorf("a recreated collection has old records: %v", n)
		}
	})
}

func TestTruncateCollection(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	a.createCollection(t, a.tok.admin, map[string]any{"name": "feed", "type": "view", "viewQuery": "SELECT id FROM notes"})
	count := func(tb testing.TB, coll string) float64 {
		tb.Helper()
		res := a.must(tb, 200, apiRequest{method: "GET", path: "/v1/collections/" + coll + "/records", token: a.tok.admin})
		n, _ := lookup(res, "totalItems")
		return n.(float64)
	}
	runScenarios(t, a.h, []scenario{
		{name: "plain collection", method: "DELETE", path: "/v1/collections/notes/truncate", token: a.tok.admin,
			status: 204, check: func(tb testing.TB, _ *apiResponse) {
				if n := count(tb, "notes"); n != 0 {
					tb.Errorf("notes after truncate: %v", n)
				}
			}},
		{name: "view collection", method: "DELETE", path: "/v1/collections/feed/truncate", token: a.tok.admin,
			status: 400},
		{name: "unknown", method: "DELETE", path: "/v1/collections/nope/truncate", token: a.tok.admin,
			status: 404},
		{name: "required references block it", method: "DELETE", path: "/v1/collections/posts/truncate", token: a.tok.admin,
			status: 400, check: func(tb testing.TB, _ *apiResponse) {
				if n := count(tb, "posts"); n != 4 {
					tb.Errorf("a failed truncate deleted posts: %v left, want 4", n)
				}
				if n := count(tb, "likes"); n != 1 {
					tb.Errorf("a failed truncate cascaded to likes: %v left, want 1", n)
				}
			}},
		{name: "referencing collection", method: "DELETE", path: "/v1/collections/comments/truncate", token: a.tok.admin,
			status: 204},
		{name: "now posts truncate, cascading to likes", method: "DELETE", path: "/v1/collections/posts/truncate", token: a.tok.admin,
			status: 204, check: func(tb testing.TB, _ *apiResponse) {
				if n := count(tb, "posts"); n != 0 {
					tb.Errorf("posts left: %v", n)
				}
				if n := count(tb, "likes"); n != 0 {
					tb.Errorf("likes of truncated posts left: %v", n)
				}
			}},
		{name: "the collection itself remains", method: "GET", path: "/v1/collections/posts", token: a.tok.admin,
			status: 200},
		{name: "posts can be created again", method: "POST", path: "/v1/collections/posts/records", token: a.tok.alice,
			body: map[string]any{"title": "again", "author": b.alice, "slug": "a-one"}, status: 200},
	})
}

func TestImportCollections(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	const fail = "Failed to import collections."
	names := func(tb testing.TB) string {
		tb.Helper()
		res := a.must(tb, 200, apiRequest{method: "GET", path: "/v1/collections?sort=name", token: a.tok.admin})
		var got []string
		for _, it := range res.(map[string]any)["items"].([]any) {
			got = append(got, it.(map[string]any)["name"].(string))
		}
		return strings.Join(got, ",")
	}
	runScenarios(t, a.h, []scenario{
		{name: "update an existing collection by name", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body: map[string]any{"collections": []any{
				map[string]any{"name": "notes", "listRule": nil, "fields": []any{field("title", "text"), field("pinned", "bool")}},
			}},
			status: 204},
		{name: "existing collection updated", method: "GET", path: "/v1/collections/notes", token: a.tok.admin,
			status: 200, want: map[string]any{"listRule": nil, "fields": hasLen(3)}},
		{name: "existing records kept", method: "GET", path: "/v1/collections/notes/records", token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": 1, "items.0.title": "hello", "items.0.pinned": false}},
		{name: "no collections", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body:   map[string]any{"collections": []any{}},
			status: 400, want: map[string]any{"message": fail, "data.collections.code": "validation_collections_import_failure"}},
		{name: "nested validation error", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body: map[string]any{"collections": []any{
				map[string]any{"name": "notes", "listRule": ""},
				map[string]any{"name": "vault", "fields": []any{field("", "text")}},
			}},
			status: 400, want: map[string]any{"message": fail, "data.collections.1.fields.1.name.code": "validation_required"}},
		{name: "nothing of a failed import is applied", method: "GET", path: "/v1/collections/notes", token: a.tok.admin,
			status: 200, want: map[string]any{"listRule": nil}},
		{name: "malformed JSON", method: "PUT", path: "/v1/collections/import", token: a.tok.admin, body: `{"collections": [`,
			status: 400},
		{name: "deleteMissing removes the others", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body:   map[string]any{"deleteMissing": true, "collections": []any{map[string]any{"name": "notes"}}},
			status: 204, check: func(tb testing.TB, _ *apiResponse) {
				if got := names(tb); got != "notes,users" {
					tb.Errorf("collections after deleteMissing: %v, want notes,users (system kept)", got)
				}
			}},
	})
}

func TestCollectionsMeta(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{name: "scaffolds", method: "GET", path: "/v1/collections/meta/scaffolds", token: a.tok.admin,
			status: 200, want: map[string]any{
				"base.id": "", "base.name": "", "base.type": "base", "base.fields.0.name": "id",
				"auth.id": "", "auth.type": "auth", "auth.fields.1.name": "email", "auth.authRule": "",
				"view.id": "", "view.type": "view", "view.viewQuery": "", "view.fields": hasLen(0),
			}},
		{name: "scaffolds via /api", method: "GET", path: "/api/collections/meta/scaffolds", token: a.tok.root,
			status: 200, want: map[string]any{"base.type": "base"}},
		{name: "oauth2 providers", method: "GET", path: "/v1/collections/meta/oauth2-providers", token: a.tok.admin,
			status: 200, want: map[string]any{"0.name": "iam", "0.displayName": present, "0.logo": present}},
		{name: "dry-run view", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "SELECT id, title FROM posts ORDER BY title"},
			status: 200, want: map[string]any{"": hasLen(4), "0.title": "A1", "3.title": "B4"}},
		{name: "dry-run view caps rows at 10", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 50) SELECT x AS id FROM n"},
			status: 200, want: map[string]any{"": hasLen(10)}},
		{name: "dry-run view with no rows", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "SELECT id FROM posts WHERE 0"},
			status: 200, want: map[string]any{"": hasLen(0)}},
		{name: "dry-run invalid query", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "SELECT nope FROM nowhere"},
			status: 400, want: map[string]any{"message": containsText("Invalid view query")}},
		{name: "dry-run refuses writes", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "DELETE FROM posts"},
			status: 400},
		{name: "dry-run refuses a second statement", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "SELECT 1 AS id; DELETE FROM posts"},
			status: 400},
		{name: "dry-run refuses a CTE that writes", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "WITH x AS (SELECT 1) DELETE FROM posts"},
			status: 400},
		{name: "dry-run refuses ATTACH", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "ATTACH DATABASE '/tmp/x.db' AS x"},
			status: 400},
		{name: "dry-run refuses PRAGMA", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "PRAGMA writable_schema = 1"},
			status: 400},
		{name: "dry-run cannot read another org's file", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": "SELECT * FROM pragma_database_list"},
			status: 200, check: func(tb testing.TB, res *apiResponse) {
				tb.Helper()
				if strings.Contains(string(res.Raw), "acme") {
					tb.Errorf("another org's database is attached: %s", res.Raw)
				}
			}},
		{name: "dry-run empty query", method: "POST", path: "/v1/collections/meta/dry-run-view", token: a.tok.admin,
			body:   map[string]any{"query": ""},
			status: 400},
		{name: "posts survived the dry runs", method: "GET", path: "/v1/collections/posts/records", token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": 4}},
	})
}

func TestViewCollectionRecords(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	a.createCollection(t, a.tok.admin, map[string]any{"name": "feed", "type": "view", "listRule": "", "viewRule": "views >= 0",
		"viewQuery": "SELECT id, title, views, author FROM posts WHERE published = 1"})
	a.createCollection(t, a.tok.admin, map[string]any{"name": "stats", "type": "view", "listRule": nil, "viewRule": nil,
		"viewQuery": "SELECT author AS id, COUNT(*) AS total FROM posts GROUP BY author"})
	feed := "/v1/collections/feed/records"
	runScenarios(t, a.h, []scenario{
		{name: "list", method: "GET", path: feed + "?sort=title",
			status: 200, check: itemIDs(b.a1, b.b3), want: map[string]any{"items.0.title": "A1", "items.0.collectionName": "feed", "items.0.views": 0}},
		{name: "filter", method: "GET", path: feed + "?filter=" + url.QueryEscape(`title = "B3"`),
			status: 200, check: itemIDs(b.b3)},
		{name: "view", method: "GET", path: feed + "/" + b.b3,
			status: 200, want: map[string]any{"title": "B3"}},
		{name: "row outside the view", method: "GET", path: feed + "/" + b.a2,
			status: 404},
		{name: "expand a relation of the view", method: "GET", path: feed + "/" + b.a1 + "?expand=author", token: a.tok.alice,
			status: 200, want: map[string]any{"expand.author.id": b.alice}},
		{name: "create refused", method: "POST", path: feed, token: a.tok.admin, body: map[string]any{"title": "x"},
			status: 400, want: map[string]any{"message": "Unsupported collection type."}},
		{name: "update refused", method: "PATCH", path: feed + "/" + b.a1, token: a.tok.admin, body: map[string]any{"title": "x"},
			status: 400, want: map[string]any{"message": "Unsupported collection type."}},
		{name: "delete refused", method: "DELETE", path: feed + "/" + b.a1, token: a.tok.admin,
			status: 400, want: map[string]any{"message": "Unsupported collection type."}},
		{name: "locked view", method: "GET", path: "/v1/collections/stats/records", token: a.tok.alice,
			status: 403},
		{name: "locked view for a superuser", method: "GET", path: "/v1/collections/stats/records?sort=id", token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": 2, "items.0.total": 2}},
		{name: "view follows the data", method: "PATCH", path: "/v1/collections/posts/records/" + b.a2, token: a.tok.alice, body: map[string]any{"published": true},
			status: 200, check: func(tb testing.TB, _ *apiResponse) {
				a.must(tb, 200, apiRequest{method: "GET", path: feed + "/" + b.a2})
			}},
	})
}

// TestSchemaChangeAcrossInstances changes collections through one
// instance and checks that another instance of the same deployment honours
// the change on its very next request: a second handler on its own store
// handle of the same directory (another process), and a second handler
// sharing the store.
func TestSchemaChangeAcrossInstances(t *testing.T) {
	for _, mode := range []string{"second sqlite.Open on the same dir", "second handler.New on the same store"} {
		t.Run(mode, func(t *testing.T) {
			a := newAPI(t)
			b := seedBlog(t, a)
			other := a.sibling(t)
			if mode == "second handler.New on the same store" {
				cfg := a.cfg
				cfg.Store = a.store
				h, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				other.store, other.h = a.store, h
			}
			notes := "/v1/collections/notes/records"
			// Warm the other instance's schema cache.
			other.must(t, 200, apiRequest{method: "GET", path: notes})
			other.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/likes/records"})

			steps := []struct {
				name   string
				change apiRequest // sent to a, as the admin
				check  scenario   // sent to other
			}{
				{"rule locked",
					apiRequest{method: "PATCH", path: "/v1/collections/notes", body: map[string]any{"listRule": nil}},
					scenario{method: "GET", path: notes, status: 403}},
				{"rule tightened to an expression",
					apiRequest{method: "PATCH", path: "/v1/collections/notes", body: map[string]any{"listRule": `title = "visible"`, "viewRule": `title = "visible"`}},
					scenario{method: "GET", path: notes, status: 200, check: itemIDs()}},
				{"view rule enforced too",
					apiRequest{method: "GET", path: "/v1/health"},
					scenario{method: "GET", path: notes + "/" + b.note, status: 404}},
				{"rule opened again",
					apiRequest{method: "PATCH", path: "/v1/collections/notes", body: map[string]any{"listRule": "", "viewRule": ""}},
					scenario{method: "GET", path: notes + "/" + b.note, status: 200}},
				{"field added",
					apiRequest{method: "PATCH", path: "/v1/collections/notes", body: map[string]any{"fields": []any{
						field("title", "text", "id", "text724990059"), field("color", "text")}}},
					scenario{method: "POST", path: notes, body: map[string]any{"title": "c", "color": "red"}, status: 200, want: map[string]any{"color": "red"}}},
				{"collection deleted",
					apiRequest{method: "DELETE", path: "/v1/collections/likes"},
					scenario{method: "GET", path: "/v1/collections/likes/records", status: 404}},
				{"collection created",
					apiRequest{method: "POST", path: "/v1/collections", body: merge(map[string]any{"name": "fresh", "fields": []any{field("n", "number")}}, ruleSet("", "", "", "", ""))},
					scenario{method: "POST", path: "/v1/collections/fresh/records", body: map[string]any{"n": 7}, status: 200, want: map[string]any{"n": 7}}},
				{"create rule tightened",
					apiRequest{method: "PATCH", path: "/v1/collections/fresh", body: map[string]any{"createRule": "n > 10"}},
					scenario{method: "POST", path: "/v1/collections/fresh/records", body: map[string]any{"n": 7}, status: 400}},
			}
			for _, st := range steps {
				st.change.token = a.tok.admin
				res := a.do(t, st.change)
				if res.Code >= 300 {
					t.Fatalf("%s: change %s %s: %d %s", st.name, st.change.method, st.change.path, res.Code, res.Raw)
				}
				st.check.name = st.name
				runScenarios(t, other.h, []scenario{st.check})
			}
			// And the other way round.
			other.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/fresh", token: a.tok.admin, body: map[string]any{"listRule": nil}})
			a.must(t, 403, apiRequest{method: "GET", path: "/v1/collections/fresh/records"})
		})
	}
}

// Regression tests for import bugs this suite found (new collections were
// refused as "existing id"; a partial import dropped fields and nulled rules).

// TestImportKeepsUnsubmittedKeys imports a partial definition of an
// existing collection: PocketBase loads only the submitted keys onto the
// stored collection, so rules and fields not in the import are kept (and
// no column, no data, is dropped).
func TestImportKeepsUnsubmittedKeys(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{name: "update an existing collection by id", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body:   map[string]any{"collections": []any{map[string]any{"id": b.commentsID, "name": "remarks"}}},
			status: 204, check: func(tb testing.TB, _ *apiResponse) {
				a.must(tb, 200, apiRequest{method: "GET", path: "/v1/collections/remarks/records/" + b.comment, token: a.tok.admin})
			}},
		// PocketBase loads only the submitted keys onto the existing
		// collection: keys not in the import (rules, fields) are kept.
		{name: "keys not in the import are kept", method: "GET", path: "/v1/collections/remarks", token: a.tok.admin,
			status: 200, want: map[string]any{"listRule": "", "viewRule": "", "fields": hasLen(3), "fields.2.name": "post"}},
		{name: "records of the renamed collection still readable by guests", method: "GET", path: "/v1/collections/remarks/records/" + b.comment,
			status: 200, want: map[string]any{"text": "nice", "post": b.b3}},
	})
}

// TestImportNewCollections imports collections that do not exist yet, with
// and without ids (PocketBase's import creates them).
func TestImportNewCollections(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{name: "new collection without id", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body: map[string]any{"collections": []any{
				merge(map[string]any{"name": "tags", "fields": []any{field("label", "text")}}, ruleSet("", "", nil, nil, nil)),
			}},
			status: 204},
		{name: "imported collection exists", method: "GET", path: "/v1/collections/tags", token: a.tok.admin,
			status: 200, want: map[string]any{"listRule": "", "createRule": nil}},
		{name: "new collection with an id, next to an existing one", method: "PUT", path: "/v1/collections/import", token: a.tok.admin,
			body: map[string]any{"collections": []any{
				map[string]any{"id": "pbc_custom_labels", "name": "labels", "fields": []any{field("label", "text")}},
				map[string]any{"name": "notes", "listRule": nil},
			}},
			status: 204},
		{name: "imported collection with its id", method: "GET", path: "/v1/collections/pbc_custom_labels", token: a.tok.admin,
			status: 200, want: map[string]any{"name": "labels"}},
	})
}

// bugMarker: the test below fails on a handler bug listed in the test
// report; it is kept failing (not skipped) until the handler is fixed.

// TestIndexErrors changes collections so that an index can no longer be
// created. PocketBase recreates the indexes after migrating the table and
// reports each failing one as data.indexes.<i> with code
// validation_invalid_index_expression (core/collection_record_table_sync.go,
// createCollectionIndexes); nothing of the change is applied.
func TestIndexErrors(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	posts := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/posts", token: a.tok.admin}).(map[string]any)
	var renamed, dropped []any
	for _, f := range posts["fields"].([]any) {
		m := map[string]any{}
		for k, v := range f.(map[string]any) {
			m[k] = v
		}
		if m["name"] == "slug" {
			m["name"] = "handle"
		} else {
			dropped = append(dropped, f)
		}
		renamed = append(renamed, m)
	}
	const code = "validation_invalid_index_expression"
	runScenarios(t, a.h, []scenario{
		{name: "rename an indexed field", method: "PATCH", path: "/v1/collections/posts", token: a.tok.admin, body: map[string]any{"fields": renamed},
			status: 400, want: map[string]any{"message": "Failed to update collection.", "data.indexes.0.code": code}},
		{name: "drop an indexed field", method: "PATCH", path: "/v1/collections/posts", token: a.tok.admin, body: map[string]any{"fields": dropped},
			status: 400, want: map[string]any{"data.indexes.0.code": code}},
		{name: "unique index over duplicate values", method: "PATCH", path: "/v1/collections/posts", token: a.tok.admin,
			body:   map[string]any{"indexes": []string{"CREATE INDEX `idx_ok` ON `posts` (`title`)", "CREATE UNIQUE INDEX `idx_posts_pub` ON `posts` (`published`)"}},
			status: 400, want: map[string]any{"data.indexes.1.code": code, "data.indexes.0": absent}},
		{name: "the slug is still unique", method: "PATCH", path: "/v1/collections/posts/records/" + b.a2, token: a.tok.admin, body: map[string]any{"slug": "b-three"},
			status: 400, want: map[string]any{"data.slug.code": "validation_not_unique"}},
	})
}

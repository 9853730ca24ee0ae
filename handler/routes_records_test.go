package handler

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const msgOnlySuper = "Only superusers can perform this action."

func TestListRecords(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	const posts = "/v1/collections/posts/records"
	q := func(s string) string { return url.QueryEscape(s) }
	scs := []scenario{
		// Rule states.
		{name: "expression rule excludes rows for guests", method: "GET", path: posts + "?sort=title",
			status: 200, check: itemIDs(b.a1, b.b3),
			want: map[string]any{"page": 1, "perPage": 30, "totalItems": 2, "totalPages": 1}},
		{name: "expression rule includes own drafts", method: "GET", path: posts + "?sort=title", token: a.tok.alice,
			status: 200, check: itemIDs(b.a1, b.a2, b.b3), want: map[string]any{"totalItems": 3}},
		{name: "superuser bypasses the rule", method: "GET", path: posts + "?sort=title", token: a.tok.admin,
			status: 200, check: itemIDs(b.a1, b.a2, b.b3, b.b4), want: map[string]any{"totalItems": 4}},
		{name: "platform superuser bypasses the rule", method: "GET", path: posts + "?sort=title", token: a.tok.root,
			status: 200, check: itemIDs(b.a1, b.a2, b.b3, b.b4)},
		{name: "null rule is 403 for guests", method: "GET", path: "/v1/collections/vault/records",
			status: 403, want: map[string]any{"message": msgOnlySuper, "data": map[string]any{}}},
		{name: "null rule is 403 for users", method: "GET", path: "/v1/collections/vault/records", token: a.tok.alice,
			status: 403, want: map[string]any{"message": msgOnlySuper}},
		{name: "null rule is open to superusers", method: "GET", path: "/v1/collections/vault/records", token: a.tok.admin,
			status: 200, check: itemIDs(b.vaultRec)},
		{name: "empty rule is open to guests", method: "GET", path: "/v1/collections/notes/records",
			status: 200, check: itemIDs(b.note)},
		{name: "/api alias", method: "GET", path: "/api/collections/notes/records",
			status: 200, check: itemIDs(b.note)},
		{name: "collection by id", method: "GET", path: "/v1/collections/" + b.postsID + "/records?sort=title",
			status: 200, check: itemIDs(b.a1, b.b3)},
		{name: "unknown collection", method: "GET", path: "/v1/collections/nope/records",
			status: 404, want: map[string]any{"message": "Missing collection context."}},
		{name: "expression rule never 403s", method: "GET", path: posts + "?filter=" + q(`title = "B4"`), token: a.tok.alice,
			status: 200, check: itemIDs(), want: map[string]any{"items": hasLen(0), "totalItems": 0, "totalPages": 0}},

		// Filter and sort.
		{name: "filter AND-ed with the rule", method: "GET", path: posts + "?filter=" + q(`title ~ "A"`), token: a.tok.bob,
			status: 200, check: itemIDs(b.a1)},
		{name: "filter by relation", method: "GET", path: posts + "?sort=-title&filter=" + q(`author = "`+b.bob+`"`), token: a.tok.admin,
			status: 200, check: itemIDs(b.b4, b.b3)},
		{name: "filter syntax error", method: "GET", path: posts + "?filter=" + q(`title = `),
			status: 400, want: map[string]any{"data": map[string]any{}}},
		{name: "filter on unknown field", method: "GET", path: posts + "?filter=" + q(`nope = 1`),
			status: 400, want: map[string]any{"data": map[string]any{}}},
		{name: "sort on unknown field", method: "GET", path: posts + "?sort=nope",
			status: 400},
		{name: "random sort", method: "GET", path: posts + "?sort=@random",
			status: 200, want: map[string]any{"items": hasLen(2)}},
		{name: "multi-key sort", method: "GET", path: posts + "?sort=" + q("-published,+title"), token: a.tok.admin,
			status: 200, check: itemIDs(b.a1, b.b3, b.a2, b.b4)},
		{name: "filter too long", method: "GET", path: posts + "?filter=" + q(`title != "`+strings.Repeat("x", 3600)+`"`),
			status: 400},
		{name: "@request. in a user's filter", method: "GET", path: posts + "?filter=" + q(`author = @request.auth.id`), token: a.tok.alice,
			status: 403, want: map[string]any{"message": "Only superusers can filter by @request."}},
		{name: "@request. in a guest's filter", method: "GET", path: posts + "?filter=" + q(`@request.method = "GET"`),
			status: 403},
		{name: "@collection. in a user's filter", method: "GET", path: posts + "?filter=" + q(`@collection.notes.title = "hello"`), token: a.tok.alice,
			status: 403, want: map[string]any{"message": "Only superusers can filter by @collection."}},
		{name: "@request. in a user's sort", method: "GET", path: posts + "?sort=" + q(`@request.auth.id`), token: a.tok.alice,
			status: 403},
		{name: "@request. allowed to superusers", method: "GET", path: posts + "?filter=" + q(`author != @request.auth.id`) + "&sort=title", token: a.tok.admin,
			status: 200, check: itemIDs(b.a1, b.a2, b.b3, b.b4)},
		{name: "@collection. allowed to superusers", method: "GET", path: posts + "?sort=title&filter=" + q(`@collection.notes.title ?= "hello"`), token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": 4}},
		{name: "hidden field not filterable by users", method: "GET", path: posts + "?filter=" + q(`secret = "s3cr3t"`), token: a.tok.alice,
			status: 400},
		{name: "hidden field not sortable by users", method: "GET", path: posts + "?sort=secret", token: a.tok.alice,
			status: 400},
		{name: "hidden field filterable by superusers", method: "GET", path: posts + "?filter=" + q(`secret = "s3cr3t"`), token: a.tok.admin,
			status: 200, check: itemIDs(b.a1)},

		// Paging.
		{name: "perPage clamped to 1000 and echoed", method: "GET", path: posts + "?perPage=5000",
			status: 200, want: map[string]any{"perPage": 1000, "page": 1}},
		{name: "perPage 0 is the default", method: "GET", path: posts + "?perPage=0",
			status: 200, want: map[string]any{"perPage": 30}},
		{name: "negative perPage is the default", method: "GET", path: posts + "?perPage=-5",
			status: 200, want: map[string]any{"perPage": 30}},
		{name: "page 0 is page 1", method: "GET", path: posts + "?page=0",
			status: 200, want: map[string]any{"page": 1, "items": hasLen(2)}},
		{name: "negative page is page 1", method: "GET", path: posts + "?page=-2",
			status: 200, want: map[string]any{"page": 1}},
		{name: "page=abc", method: "GET", path: posts + "?page=abc",
			status: 400, want: map[string]any{"data": map[string]any{}}},
		{name: "perPage=abc", method: "GET", path: posts + "?perPage=abc",
			status: 400},
		{name: "page=1.5", method: "GET", path: posts + "?page=1.5",
			status: 400},
		{name: "second page", method: "GET", path: posts + "?sort=title&page=2&perPage=1", token: a.tok.admin,
			status: 200, check: itemIDs(b.a2), want: map[string]any{"page": 2, "perPage": 1, "totalItems": 4, "totalPages": 4}},
		{name: "page past the end", method: "GET", path: posts + "?page=9&perPage=2", token: a.tok.admin,
			status: 200, check: itemIDs(), want: map[string]any{"page": 9, "totalItems": 4, "totalPages": 2}},
		{name: "perPage not a divisor", method: "GET", path: posts + "?perPage=3", token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": 4, "totalPages": 2, "items": hasLen(3)}},
		{name: "skipTotal=1", method: "GET", path: posts + "?skipTotal=1",
			status: 200, want: map[string]any{"totalItems": -1, "totalPages": -1, "items": hasLen(2)}},
		{name: "skipTotal=true", method: "GET", path: posts + "?skipTotal=true",
			status: 200, want: map[string]any{"totalItems": -1, "totalPages": -1}},
		{name: "skipTotal=0 counts", method: "GET", path: posts + "?skipTotal=0",
			status: 200, want: map[string]any{"totalItems": 2}},
		{name: "getFirstListItem shape", method: "GET", path: posts + "?page=1&perPage=1&skipTotal=1&filter=" + q(`title = "B3"`),
			status: 200, check: itemIDs(b.b3), want: map[string]any{"perPage": 1, "totalItems": -1}},
		{name: "unknown params ignored", method: "GET", path: posts + "?autoRefresh=true&requestKey=x",
			status: 200, want: map[string]any{"items": hasLen(2)}},

		// Record shape, hidden fields, fields picker, expand.
		{name: "record shape", method: "GET", path: posts + "?filter=" + q(`title = "A1"`),
			status: 200, want: map[string]any{
				"items.0.id": b.a1, "items.0.collectionId": b.postsID, "items.0.collectionName": "posts",
				"items.0.title": "A1", "items.0.published": true, "items.0.views": 0, "items.0.tags": []string{"a"},
				"items.0.author": b.alice, "items.0.slug": "a-one", "items.0.meta": nil,
				"items.0.created": nonEmptyString, "items.0.updated": nonEmptyString,
				"items.0.secret": absent, "items.0.expand": absent,
			}},
		{name: "hidden field visible to superusers", method: "GET", path: posts + "?filter=" + q(`title = "A1"`), token: a.tok.admin,
			status: 200, want: map[string]any{"items.0.secret": "s3cr3t"}},
		{name: "fields picks keys of items only", method: "GET", path: posts + "?sort=title&fields=" + q("id,title"),
			status: 200, want: map[string]any{
				"items.0": map[string]any{"id": b.a1, "title": "A1"}, "page": 1, "perPage": 30, "totalItems": 2, "totalPages": 1}},
		{name: "fields excerpt modifier", method: "GET", path: posts + "?sort=title&fields=" + q("id,body:excerpt(11,true)"),
			status: 200, want: map[string]any{"items.0": map[string]any{"id": b.a1, "body": "Hello world..."}}},
		{name: "fields with an unknown key", method: "GET", path: posts + "?sort=title&fields=" + q("nope"),
			status: 200, want: map[string]any{"items.0": map[string]any{}}},
		{name: "expand a visible relation", method: "GET", path: posts + "?sort=title&expand=author", token: a.tok.alice,
			status: 200, want: map[string]any{
				"items.0.expand.author.id": b.alice, "items.0.expand.author.email": "alice@example.com",
				"items.0.expand.author.collectionName": "users", "items.0.expand.author.sub": absent,
				// b3's author is Bob, whose users record Alice may not view.
				"items.2.id": b.b3, "items.2.expand": map[string]any{},
			}},
		{name: "expand for superusers shows hidden fields", method: "GET", path: posts + "?sort=title&expand=author", token: a.tok.admin,
			status: 200, want: map[string]any{"items.2.expand.author.id": b.bob, "items.2.expand.author.sub": "bob"}},
		{name: "unknown expand is ignored", method: "GET", path: posts + "?expand=nope,title",
			status: 200, want: map[string]any{"items.0.expand": map[string]any{}}},
		{name: "back-relation expand", method: "GET", path: posts + "?sort=title&expand=" + q("comments_via_post"),
			status: 200, want: map[string]any{"items.1.id": b.b3, "items.1.expand.comments_via_post.0.id": b.comment, "items.0.expand": map[string]any{}}},
		{name: "expand with fields", method: "GET", path: posts + "?sort=title&expand=author&fields=" + q("id,expand.author.name"), token: a.tok.alice,
			status: 200, want: map[string]any{"items.0": map[string]any{"id": b.a1, "expand": map[string]any{"author": map[string]any{"name": "Alice"}}}}},
		{name: "filter through a relation", method: "GET", path: posts + "?filter=" + q(`author.name = "Alice"`), token: a.tok.alice,
			status: 200, check: itemIDs(b.a1, b.a2)},
	}
	runScenarios(t, a.h, scs)
}

func TestViewRecord(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	rec := func(c, id string) string { return "/v1/collections/" + c + "/records/" + id }
	scs := []scenario{
		{name: "published post to a guest", method: "GET", path: rec("posts", b.a1),
			status: 200, want: map[string]any{"id": b.a1, "title": "A1", "collectionName": "posts", "secret": absent, "expand": absent}},
		{name: "draft hidden by rule is 404", method: "GET", path: rec("posts", b.a2),
			status: 404, want: map[string]any{"message": "The requested resource wasn't found."}},
		{name: "draft to another user is 404", method: "GET", path: rec("posts", b.a2), token: a.tok.bob,
			status: 404},
		{name: "draft to its author", method: "GET", path: rec("posts", b.a2), token: a.tok.alice,
			status: 200, want: map[string]any{"id": b.a2}},
		{name: "draft to a superuser with hidden fields", method: "GET", path: rec("posts", b.a1), token: a.tok.admin,
			status: 200, want: map[string]any{"secret": "s3cr3t"}},
		{name: "missing record", method: "GET", path: rec("posts", "aaaaaaaaaaaaaaa"), token: a.tok.admin,
			status: 404},
		{name: "null view rule to a user", method: "GET", path: rec("vault", b.vaultRec), token: a.tok.alice,
			status: 403, want: map[string]any{"message": msgOnlySuper}},
		{name: "null view rule to a guest", method: "GET", path: rec("vault", b.vaultRec),
			status: 403},
		{name: "null view rule to a superuser", method: "GET", path: rec("vault", b.vaultRec), token: a.tok.admin,
			status: 200, want: map[string]any{"title": "gold"}},
		{name: "open rule", method: "GET", path: rec("notes", b.note),
			status: 200, want: map[string]any{"title": "hello"}},
		{name: "unknown collection", method: "GET", path: rec("nope", b.note),
			status: 404, want: map[string]any{"message": "Missing collection context."}},
		{name: "expand and fields", method: "GET", path: rec("posts", b.a1) + "?expand=author&fields=" + url.QueryEscape("id,expand.author.id"), token: a.tok.alice,
			status: 200, want: map[string]any{"": map[string]any{"id": b.a1, "expand": map[string]any{"author": map[string]any{"id": b.alice}}}}},
		{name: "expand nested through back-relation", method: "GET", path: rec("posts", b.b3) + "?expand=" + url.QueryEscape("comments_via_post.post"),
			status: 200, want: map[string]any{"expand.comments_via_post.0.expand.post.id": b.b3}},
		{name: "/api alias", method: "GET", path: "/api/collections/notes/records/" + b.note,
			status: 200, want: map[string]any{"id": b.note}},
		{name: "SDK sends Content-Type json with no body", method: "GET", path: rec("notes", b.note), body: "",
			status: 200},
	}
	runScenarios(t, a.h, scs)
}

func TestCreateRecord(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	a.createCollection(t, a.tok.admin, map[string]any{"name": "feed", "type": "view", "listRule": "", "viewRule": "",
		"viewQuery": "SELECT id, title FROM posts WHERE published = 1"})
	const posts = "/v1/collections/posts/records"
	scs := []scenario{
		{name: "create rule false for guests is 400", method: "POST", path: posts, body: map[string]any{"title": "x", "author": b.alice},
			status: 400, want: map[string]any{"message": "Failed to create record.", "data": map[string]any{}}},
		{name: "create rule false for another author is 400", method: "POST", path: posts, token: a.tok.alice, body: map[string]any{"title": "x", "author": b.bob},
			status: 400, want: map[string]any{"message": "Failed to create record.", "data": map[string]any{}}},
		{name: "create rule true", method: "POST", path: posts, token: a.tok.alice,
			body:   map[string]any{"title": "new", "author": b.alice, "tags": []string{"a", "b"}, "views": 3, "meta": map[string]any{"k": []int{1}}},
			status: 200, want: map[string]any{
				"id": nonEmptyString, "collectionId": b.postsID, "collectionName": "posts", "title": "new", "author": b.alice,
				"tags": []string{"a", "b"}, "views": 3, "meta": map[string]any{"k": []int{1}}, "published": false,
				"created": nonEmptyString, "secret": absent,
			}},
		{name: "null create rule for a user", method: "POST", path: "/v1/collections/vault/records", token: a.tok.alice, body: map[string]any{"title": "x"},
			status: 403, want: map[string]any{"message": msgOnlySuper}},
		{name: "null create rule for a guest", method: "POST", path: "/v1/collections/vault/records", body: map[string]any{"title": "x"},
			status: 403},
		{name: "null create rule for a superuser", method: "POST", path: "/v1/collections/vault/records", token: a.tok.admin, body: map[string]any{"title": "x"},
			status: 200, want: map[string]any{"title": "x"}},
		{name: "open create rule for a guest", method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"title": "guest note"},
			status: 200, want: map[string]any{"title": "guest note"}},
		{name: "empty JSON body is no body", method: "POST", path: "/v1/collections/notes/records", body: "",
			status: 200, want: map[string]any{"title": ""}},
		{name: "client id", method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"id": "abcdefghijklmno", "title": "mine"},
			status: 200, want: map[string]any{"id": "abcdefghijklmno"}},
		{name: "existing id", method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"id": b.note},
			status: 400, want: map[string]any{"data.id.code": "validation_invalid_or_existing_id"}},
		{name: "invalid id", method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"id": "BAD"},
			status: 400, want: map[string]any{"data.id.code": present}},
		{name: "required field missing", method: "POST", path: posts, token: a.tok.alice, body: map[string]any{"author": b.alice},
			status: 400, want: map[string]any{"message": "Failed to create record.", "data.title.code": "validation_required", "data.title.message": "Cannot be blank."}},
		{name: "unique violation", method: "POST", path: posts, token: a.tok.alice, body: map[string]any{"title": "dup", "author": b.alice, "slug": "a-one"},
			status: 400, want: map[string]any{"message": "Failed to create record.", "data.slug.code": "validation_not_unique"}},
		{name: "invalid select value", method: "POST", path: posts, token: a.tok.alice, body: map[string]any{"title": "t", "author": b.alice, "tags": []string{"zzz"}},
			status: 400, want: map[string]any{"data.tags.code": present}},
		{name: "missing relation record", method: "POST", path: "/v1/collections/comments/records", body: map[string]any{"post": "zzzzzzzzzzzzzzz"},
			status: 400, want: map[string]any{"data.post.code": "validation_missing_rel_records"}},
		{name: "required relation missing", method: "POST", path: "/v1/collections/comments/records", body: map[string]any{"text": "x"},
			status: 400, want: map[string]any{"data.post.code": "validation_required"}},
		{name: "malformed JSON", method: "POST", path: "/v1/collections/notes/records", body: `{"title": `,
			status: 400, want: map[string]any{"message": "Failed to load the submitted data due to invalid formatting."}},
		{name: "JSON array body", method: "POST", path: "/v1/collections/notes/records", body: `[1,2]`,
			status: 400},
		{name: "JSON null body", method: "POST", path: "/v1/collections/notes/records", body: `null`,
			status: 400},
		{name: "unknown keys ignored", method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"title": "k", "nope": 1, "collectionName": "x"},
			status: 200, want: map[string]any{"title": "k", "nope": absent, "collectionName": "notes"}},
		{name: "hidden field from a user ignored", method: "POST", path: posts, token: a.tok.alice, body: map[string]any{"title": "h", "author": b.alice, "secret": "mine"},
			status: 200, check: func(tb testing.TB, res *apiResponse) {
				id := str(tb, res.JSON, "id")
				v := a.must(tb, 200, apiRequest{method: "GET", path: posts + "/" + id, token: a.tok.admin})
				if s := str(tb, v, "secret"); s != "" {
					tb.Errorf("hidden field set by a user: secret = %q", s)
				}
			}},
		{name: "hidden field from a superuser kept", method: "POST", path: posts, token: a.tok.admin, body: map[string]any{"title": "h2", "secret": "root"},
			status: 200, want: map[string]any{"secret": "root"}},
		{name: "autodate from the client ignored", method: "POST", path: posts, token: a.tok.alice, body: map[string]any{"title": "d", "author": b.alice, "created": "2001-01-01 00:00:00.000Z"},
			status: 200, want: map[string]any{"created": matcher(func(v any, ok bool) string {
				if s, _ := v.(string); s == "" || strings.HasPrefix(s, "2001") {
					return "is " + jsonText(v) + ", want the server's time"
				}
				return ""
			})}},
		{name: "expand on the response", method: "POST", path: posts + "?expand=author", token: a.tok.alice, body: map[string]any{"title": "e", "author": b.alice},
			status: 200, want: map[string]any{"expand.author.id": b.alice}},
		{name: "fields on the response", method: "POST", path: "/v1/collections/notes/records?fields=title", body: map[string]any{"title": "f"},
			status: 200, want: map[string]any{"": map[string]any{"title": "f"}}},
		{name: "modifier on create", method: "POST", path: posts, token: a.tok.admin, body: map[string]any{"title": "m", "tags+": []string{"b", "c"}, "views+": 2},
			status: 200, want: map[string]any{"tags": []string{"b", "c"}, "views": 2}},
		{name: "view collection", method: "POST", path: "/v1/collections/feed/records", token: a.tok.admin, body: map[string]any{"title": "x"},
			status: 400, want: map[string]any{"message": "Unsupported collection type."}},
		{name: "users mirror cannot be created", method: "POST", path: "/v1/collections/users/records", token: a.tok.admin, body: map[string]any{"name": "x"},
			status: 403},
		{name: "unknown collection", method: "POST", path: "/v1/collections/nope/records", body: map[string]any{},
			status: 404},
		{name: "unsupported content type", method: "POST", path: "/v1/collections/notes/records", headers: map[string]string{"Content-Type": "text/plain"}, body: "hi",
			status: 400},
		{name: "url-encoded form", method: "POST", path: "/v1/collections/notes/records", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "title=form",
			status: 200, want: map[string]any{"title": "form"}},
	}
	runScenarios(t, a.h, scs)

	t.Run("create rule sees the submitted values", func(t *testing.T) {
		// A guest creating a post with a forged author is refused and nothing is stored.
		before := a.must(t, 200, apiRequest{method: "GET", path: posts + "?skipTotal=0", token: a.tok.admin})
		a.must(t, 400, apiRequest{method: "POST", path: posts, body: map[string]any{"title": "forged", "author": b.alice}})
		after := a.must(t, 200, apiRequest{method: "GET", path: posts + "?skipTotal=0", token: a.tok.admin})
		if before.(map[string]any)["totalItems"] != after.(map[string]any)["totalItems"] {
			t.Errorf("refused create stored a record: %v → %v", before.(map[string]any)["totalItems"], after.(map[string]any)["totalItems"])
		}
	})
}

func TestMultipartCreate(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	body, ct := formData(t,
		formPart{name: "title", value: "multi"},
		formPart{name: "author", value: b.alice},
		formPart{name: "views", value: "12"},
		formPart{name: "published", value: "true"},
		formPart{name: "@jsonPayload", value: `{"tags":["b","c"],"meta":{"x":1}}`},
	)
	runScenarios(t, a.h, []scenario{
		{name: "multipart with @jsonPayload", method: "POST", path: "/v1/collections/posts/records", token: a.tok.alice,
			headers: map[string]string{"Content-Type": ct}, body: body,
			status: 200, want: map[string]any{"title": "multi", "views": 12, "published": true, "tags": []string{"b", "c"}, "meta": map[string]any{"x": 1}}},
	})
}

func TestBodyTooLarge(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.MaxBodySize = 1024 })
	seedBlog(t, a)
	big := map[string]any{"title": strings.Repeat("x", 4096)}
	runScenarios(t, a.h, []scenario{
		{name: "record create", method: "POST", path: "/v1/collections/notes/records", body: big,
			status: 413, want: map[string]any{"message": "Request entity too large."}},
		{name: "record update", method: "PATCH", path: "/v1/collections/notes/records/aaaaaaaaaaaaaaa", body: big,
			status: 413},
		{name: "collection create", method: "POST", path: "/v1/collections", token: a.tok.admin,
			body:   map[string]any{"name": "big", "fields": []any{field("t", "text", "help", strings.Repeat("h", 4096))}},
			status: 413},
		{name: "just under the limit", method: "POST", path: "/v1/collections/notes/records", body: map[string]any{"title": strings.Repeat("x", 900)},
			status: 200},
	})
}

func TestUpdateRecord(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	rec := func(c, id string) string { return "/v1/collections/" + c + "/records/" + id }
	scs := []scenario{
		{name: "author updates", method: "PATCH", path: rec("posts", b.a1), token: a.tok.alice, body: map[string]any{"title": "A1 edited"},
			status: 200, want: map[string]any{"id": b.a1, "title": "A1 edited", "slug": "a-one", "published": true, "author": b.alice, "secret": absent}},
		{name: "another user is 404", method: "PATCH", path: rec("posts", b.a1), token: a.tok.bob, body: map[string]any{"title": "stolen"},
			status: 404},
		{name: "guest is 404", method: "PATCH", path: rec("posts", b.a1), body: map[string]any{"title": "stolen"},
			status: 404},
		{name: "missing record", method: "PATCH", path: rec("posts", "aaaaaaaaaaaaaaa"), token: a.tok.alice, body: map[string]any{"title": "x"},
			status: 404},
		{name: "null update rule for a user", method: "PATCH", path: rec("vault", b.vaultRec), token: a.tok.alice, body: map[string]any{"title": "x"},
			status: 403, want: map[string]any{"message": msgOnlySuper}},
		{name: "null update rule for a superuser", method: "PATCH", path: rec("vault", b.vaultRec), token: a.tok.admin, body: map[string]any{"title": "silver"},
			status: 200, want: map[string]any{"title": "silver"}},
		{name: "open update rule for a guest", method: "PATCH", path: rec("notes", b.note), body: map[string]any{"title": "edited"},
			status: 200, want: map[string]any{"title": "edited"}},
		{name: "modifiers", method: "PATCH", path: rec("posts", b.b3), token: a.tok.bob,
			body:   map[string]any{"tags+": "b", "+tags": "c", "views+": 5},
			status: 200, want: map[string]any{"tags": []string{"c", "a", "b"}, "views": 5}},
		{name: "remove modifiers", method: "PATCH", path: rec("posts", b.b3), token: a.tok.bob,
			body:   map[string]any{"tags-": []string{"a", "c"}, "views-": 2},
			status: 200, want: map[string]any{"tags": []string{"b"}, "views": 3}},
		{name: "clear a multi field", method: "PATCH", path: rec("posts", b.b4), token: a.tok.bob, body: map[string]any{"tags": nil},
			status: 200, want: map[string]any{"tags": []string{}}},
		{name: "validation failure", method: "PATCH", path: rec("posts", b.a2), token: a.tok.alice, body: map[string]any{"title": ""},
			status: 400, want: map[string]any{"message": "Failed to update record.", "data.title.code": "validation_required"}},
		{name: "unique violation", method: "PATCH", path: rec("posts", b.a2), token: a.tok.alice, body: map[string]any{"slug": "b-three"},
			status: 400, want: map[string]any{"message": "Failed to update record.", "data.slug.code": "validation_not_unique"}},
		{name: "id cannot change", method: "PATCH", path: rec("notes", b.note), body: map[string]any{"id": "zzzzzzzzzzzzzzz"},
			status: 200, want: map[string]any{"id": b.note}},
		{name: "malformed JSON", method: "PATCH", path: rec("notes", b.note), body: `{"title"`,
			status: 400},
		{name: "expand and fields", method: "PATCH", path: rec("posts", b.a2) + "?expand=author&fields=" + url.QueryEscape("id,expand.author.id"), token: a.tok.alice, body: map[string]any{"views": 1},
			status: 200, want: map[string]any{"": map[string]any{"id": b.a2, "expand": map[string]any{"author": map[string]any{"id": b.alice}}}}},
		{name: "users mirror update is locked", method: "PATCH", path: rec("users", b.alice), token: a.tok.alice, body: map[string]any{"name": "x"},
			status: 403},
	}
	runScenarios(t, a.h, scs)

	t.Run("update rule sees stored fields, not the body", func(t *testing.T) {
		// Alice may not hand her post to Bob... but the rule checks the
		// stored author, so the transfer is allowed; Bob then owns it.
		a.must(t, 200, apiRequest{method: "PATCH", path: rec("posts", b.a2), token: a.tok.alice, body: map[string]any{"author": b.bob}})
		a.must(t, 404, apiRequest{method: "PATCH", path: rec("posts", b.a2), token: a.tok.alice, body: map[string]any{"title": "back"}})
		a.must(t, 200, apiRequest{method: "PATCH", path: rec("posts", b.a2), token: a.tok.bob, body: map[string]any{"title": "mine now"}})
	})
	t.Run("updated autodate changes, created does not", func(t *testing.T) {
		before := a.must(t, 200, apiRequest{method: "GET", path: rec("notes", b.note), token: a.tok.admin})
		_ = before
		p := a.must(t, 200, apiRequest{method: "GET", path: rec("posts", b.b3), token: a.tok.admin})
		u := a.must(t, 200, apiRequest{method: "PATCH", path: rec("posts", b.b3), token: a.tok.bob, body: map[string]any{"title": "B3 again"}})
		if str(t, u, "created") != str(t, p, "created") {
			t.Errorf("created changed on update: %v → %v", str(t, p, "created"), str(t, u, "created"))
		}
		if str(t, u, "updated") < str(t, p, "updated") {
			t.Errorf("updated went backwards: %v → %v", str(t, p, "updated"), str(t, u, "updated"))
		}
	})
}

func TestDeleteRecord(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	rec := func(c, id string) string { return "/v1/collections/" + c + "/records/" + id }
	scs := []scenario{
		{name: "another user is 404", method: "DELETE", path: rec("posts", b.a1), token: a.tok.bob,
			status: 404},
		{name: "guest is 404", method: "DELETE", path: rec("posts", b.a1),
			status: 404},
		{name: "null delete rule for a user", method: "DELETE", path: rec("vault", b.vaultRec), token: a.tok.alice,
			status: 403, want: map[string]any{"message": msgOnlySuper}},
		{name: "required reference blocks the delete", method: "DELETE", path: rec("posts", b.b3), token: a.tok.bob,
			status: 400, want: map[string]any{"message": "Failed to delete record. Make sure that the record is not part of a required relation reference."}},
		{name: "author deletes; cascade removes likes", method: "DELETE", path: rec("posts", b.a1), token: a.tok.alice,
			status: 204, check: func(tb testing.TB, res *apiResponse) {
				if len(res.Raw) != 0 {
					tb.Errorf("204 with a body: %q", res.Raw)
				}
				a.must(tb, 404, apiRequest{method: "GET", path: rec("posts", b.a1), token: a.tok.admin})
				a.must(tb, 404, apiRequest{method: "GET", path: rec("likes", b.like)})
			}},
		{name: "already deleted", method: "DELETE", path: rec("posts", b.a1), token: a.tok.alice,
			status: 404},
		{name: "superuser deletes a locked record", method: "DELETE", path: rec("vault", b.vaultRec), token: a.tok.admin,
			status: 204},
		{name: "open rule, guest, SDK content type and no body", method: "DELETE", path: rec("notes", b.note), body: "",
			status: 204},
		{name: "users mirror delete is locked", method: "DELETE", path: rec("users", b.alice), token: a.tok.alice,
			status: 403},
		{name: "unknown collection", method: "DELETE", path: rec("nope", b.note),
			status: 404},
	}
	runScenarios(t, a.h, scs)

	t.Run("failed delete changed nothing", func(t *testing.T) {
		a.must(t, 200, apiRequest{method: "GET", path: rec("posts", b.b3)})
		a.must(t, 200, apiRequest{method: "GET", path: rec("comments", b.comment)})
	})
}

func TestUsersMirror(t *testing.T) {
	a := newAPI(t)
	users := "/v1/collections/users/records/"
	alice := userID("alice")
	if len(alice) != 15 {
		t.Fatalf("user id %q is not 15 characters", alice)
	}
	scs := []scenario{
		{name: "first request creates the mirror record", method: "GET", path: users + alice, token: a.tok.alice,
			status: 200, want: map[string]any{
				"id": alice, "collectionName": "users", "email": "alice@example.com", "name": "Alice",
				"verified": false, "sub": absent, "created": nonEmptyString,
			}},
		{name: "another user cannot see it", method: "GET", path: users + alice, token: a.tok.bob,
			status: 404},
		{name: "guests cannot see it", method: "GET", path: users + alice,
			status: 404},
		{name: "superuser sees hidden sub and email", method: "GET", path: users + alice, token: a.tok.admin,
			status: 200, want: map[string]any{"sub": "alice", "email": "alice@example.com"}},
		{name: "list shows only yourself", method: "GET", path: "/v1/collections/users/records", token: a.tok.bob,
			status: 200, check: itemIDs(userID("bob"))},
	}
	runScenarios(t, a.h, scs)

	t.Run("claims refreshed", func(t *testing.T) {
		tok := a.mint(t, map[string]any{"sub": "alice", "owner": "default", "email": "alice@new.example", "name": "Alice B", "email_verified": true, "picture": "https://img.example/a.png"}, 3600e9)
		got := a.must(t, 200, apiRequest{method: "GET", path: users + alice, token: tok})
		for k, want := range map[string]any{"id": alice, "email": "alice@new.example", "name": "Alice B", "verified": true, "avatar": "https://img.example/a.png"} {
			if v, _ := lookup(got, k); v != want {
				t.Errorf("%s = %v, want %v", k, v, want)
			}
		}
		list := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records?filter=" + url.QueryEscape(`sub = "alice"`), token: a.tok.admin})
		if n, _ := lookup(list, "totalItems"); n != float64(1) {
			t.Errorf("mirror records of alice: %v, want 1", n)
		}
	})
	t.Run("same id on another instance", func(t *testing.T) {
		s := a.sibling(t)
		tok := a.mint(t, map[string]any{"sub": "dave", "owner": "default", "name": "Dave"}, 3600e9)
		first := s.must(t, 200, apiRequest{method: "GET", path: users + userID("dave"), token: tok})
		second := a.must(t, 200, apiRequest{method: "GET", path: users + userID("dave"), token: tok})
		if str(t, first, "created") != str(t, second, "created") {
			t.Errorf("the second instance recreated the mirror record: %v vs %v", first, second)
		}
	})
	t.Run("relations and rules use the mirror id", func(t *testing.T) {
		a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "todos", "fields": []any{
			field("owner", "relation", "collectionId", "users", "maxSelect", 1),
			field("title", "text"),
		}}, ruleSet("owner = @request.auth.id", "owner = @request.auth.id", "owner = @request.auth.id", "owner = @request.auth.id", "owner = @request.auth.id")))
		r := a.createRecord(t, a.tok.bob, "todos", map[string]any{"owner": userID("bob"), "title": "t"})
		a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/todos/records/" + r["id"].(string) + "?expand=owner", token: a.tok.bob})
		a.must(t, 404, apiRequest{method: "GET", path: "/v1/collections/todos/records/" + r["id"].(string), token: a.tok.alice})
	})
}

// TestRecordFieldValues creates records with every field type through the
// API and checks the wire values (normalization) and validation errors.
func TestRecordFieldValues(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "kinds", "fields": []any{
		field("text", "text", "max", 10),
		field("code", "text", "autogeneratePattern", "[a-z]{5}"),
		field("editor", "editor"),
		field("num", "number", "min", 0, "max", 100, "onlyInt", true),
		field("flag", "bool"),
		field("mail", "email"),
		field("link", "url"),
		field("when", "date"),
		field("one", "select", "values", []string{"x", "y", "z"}, "maxSelect", 1),
		field("many", "select", "values", []string{"x", "y", "z"}, "maxSelect", 3),
		field("rel", "relation", "collectionId", "notes", "maxSelect", 1),
		field("rels", "relation", "collectionId", "notes", "maxSelect", 5),
		field("data", "json"),
		field("where", "geoPoint"),
	}}, ruleSet("", "", "", "", "")))
	kinds := "/v1/collections/kinds/records"
	runScenarios(t, a.h, []scenario{
		{name: "zero values", method: "POST", path: kinds, body: map[string]any{},
			status: 200, want: map[string]any{
				"text": "", "editor": "", "num": 0, "flag": false, "mail": "", "link": "", "when": "",
				"one": "", "many": []any{}, "rel": "", "rels": []any{}, "data": nil,
				"where": map[string]any{"lon": 0, "lat": 0},
				"code": matcher(func(v any, _ bool) string {
					if s, _ := v.(string); len(s) != 5 {
						return "is " + jsonText(v) + ", want 5 autogenerated letters"
					}
					return ""
				}),
			}},
		{name: "normalized values", method: "POST", path: kinds,
			body: map[string]any{
				"text": 42, "editor": "<p>x</p>", "num": "12", "flag": "true", "mail": "a@b.example", "link": "https://x.example/p",
				"when": "2024-01-02T03:04:05Z", "one": []string{"x", "y"}, "many": "z", "rel": b.note, "rels": b.note,
				"data": map[string]any{"k": []any{1, "two", nil}}, "where": map[string]any{"lon": 23.32, "lat": 42.69},
			},
			status: 200, want: map[string]any{
				"text": "42", "editor": "<p>x</p>", "num": 12, "flag": true, "mail": "a@b.example", "link": "https://x.example/p",
				"when": "2024-01-02 03:04:05.000Z", "one": "y", "many": []string{"z"}, "rel": b.note, "rels": []string{b.note},
				"data": map[string]any{"k": []any{1, "two", nil}}, "where": map[string]any{"lon": 23.32, "lat": 42.69},
			}},
		{name: "autogenerate modifier", method: "POST", path: kinds, body: map[string]any{"code:autogenerate": "p-"},
			status: 200, want: map[string]any{"code": matcher(func(v any, _ bool) string {
				if s, _ := v.(string); len(s) != 7 || !strings.HasPrefix(s, "p-") {
					return "is " + jsonText(v) + ", want p- and 5 letters"
				}
				return ""
			})}},
		{name: "json scalar", method: "POST", path: kinds, body: map[string]any{"data": "just text"},
			status: 200, want: map[string]any{"data": "just text"}},
		{name: "text too long", method: "POST", path: kinds, body: map[string]any{"text": strings.Repeat("x", 11)},
			status: 400, want: map[string]any{"data.text.code": present}},
		{name: "number over max", method: "POST", path: kinds, body: map[string]any{"num": 101},
			status: 400, want: map[string]any{"data.num.code": present}},
		{name: "number not an integer", method: "POST", path: kinds, body: map[string]any{"num": 1.5},
			status: 400, want: map[string]any{"data.num.code": present}},
		{name: "invalid email", method: "POST", path: kinds, body: map[string]any{"mail": "nope"},
			status: 400, want: map[string]any{"data.mail.code": "validation_is_email"}},
		{name: "invalid url", method: "POST", path: kinds, body: map[string]any{"link": "not a url"},
			status: 400, want: map[string]any{"data.link.code": present}},
		{name: "unparsable date is cleared, as PocketBase does", method: "POST", path: kinds, body: map[string]any{"when": "yesterday-ish"},
			status: 200, want: map[string]any{"when": ""}},
		{name: "invalid select", method: "POST", path: kinds, body: map[string]any{"many": []string{"x", "q"}},
			status: 400, want: map[string]any{"data.many.code": present}},
		{name: "too many relations", method: "POST", path: kinds, body: map[string]any{"rels": []string{b.note, "aaaaaaaaaaaaaaa"}},
			status: 400, want: map[string]any{"data.rels.code": "validation_missing_rel_records"}},
		{name: "several errors at once", method: "POST", path: kinds, body: map[string]any{"mail": "nope", "num": -1},
			status: 400, want: map[string]any{"data": hasLen(2), "data.mail.code": "validation_is_email", "data.num.code": present}},
		{name: "filter on a json path", method: "GET", path: kinds + "?filter=" + url.QueryEscape(`data.k.1 = "two"`),
			status: 200, want: map[string]any{"totalItems": 1}},
		{name: "filter with :each and :length", method: "GET", path: kinds + "?filter=" + url.QueryEscape(`many:each ?= "z" && rels:length = 1`),
			status: 200, want: map[string]any{"totalItems": 1}},
		{name: "filter on a datetime", method: "GET", path: kinds + "?filter=" + url.QueryEscape(`when > "2024-01-01 00:00:00.000Z" && when < @now`),
			status: 200, want: map[string]any{"totalItems": 1}},
		{name: "filter with geoDistance", method: "GET", path: kinds + "?filter=" + url.QueryEscape(`geoDistance(where.lon, where.lat, 23.32, 42.7) < 5`),
			status: 200, want: map[string]any{"totalItems": 1}},
	})
}

// TestRuleContext covers what rules see: @request.body on create and
// update, @request.headers and @request.query, claims under
// @request.auth, expansion into a locked collection and filtering through
// a relation into one, and auth-collection email visibility.
func TestRuleContext(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "profiles", "fields": []any{
		field("name", "text"), field("role", "text"), field("owner", "relation", "collectionId", "users", "maxSelect", 1),
		field("v", "relation", "collectionId", "vault", "maxSelect", 1),
	}}, ruleSet(
		`@request.headers.x_team = "blue" || @request.query.team = "blue" || @request.auth.email ~ "example.com"`,
		"",
		`@request.body.role:isset = false || @request.body.role = "member"`,
		`owner = @request.auth.id && (@request.body.role:isset = false || @request.auth.isAdmin = true)`,
		`@request.auth.id != ""`,
	)))
	p := a.createRecord(t, a.tok.alice, "profiles", map[string]any{"name": "alice", "owner": b.alice, "v": b.vaultRec})["id"].(string)
	profiles := "/v1/collections/profiles/records"
	runScenarios(t, a.h, []scenario{
		{name: "create rule on @request.body (isset)", method: "POST", path: profiles, body: map[string]any{"name": "x", "role": "admin"},
			status: 400, want: map[string]any{"message": "Failed to create record."}},
		{name: "create rule on @request.body (value)", method: "POST", path: profiles, body: map[string]any{"name": "x", "role": "member"},
			status: 200},
		{name: "update rule on @request.body", method: "PATCH", path: profiles + "/" + p, token: a.tok.alice, body: map[string]any{"role": "admin"},
			status: 404},
		{name: "update rule without the guarded key", method: "PATCH", path: profiles + "/" + p, token: a.tok.alice, body: map[string]any{"name": "Alice"},
			status: 200},
		{name: "list rule on a header", method: "GET", path: profiles, headers: map[string]string{"X-Team": "blue"},
			status: 200, want: map[string]any{"totalItems": 2}},
		{name: "list rule on the query", method: "GET", path: profiles + "?team=blue",
			status: 200, want: map[string]any{"totalItems": 2}},
		{name: "list rule on a claim", method: "GET", path: profiles, token: a.tok.bob,
			status: 200, want: map[string]any{"totalItems": 2}},
		{name: "list rule false", method: "GET", path: profiles + "?team=red",
			status: 200, want: map[string]any{"totalItems": 0}},
		{name: "expand into a locked collection is dropped", method: "GET", path: profiles + "/" + p + "?expand=v",
			status: 200, want: map[string]any{"v": b.vaultRec, "expand": map[string]any{}}},
		{name: "expand into a locked collection for a superuser", method: "GET", path: profiles + "/" + p + "?expand=v", token: a.tok.admin,
			status: 200, want: map[string]any{"expand.v.title": "gold"}},
		{name: "filter through a relation into a locked collection", method: "GET", path: profiles + "?team=blue&filter=" + url.QueryEscape(`v.title = "gold"`),
			status: 400},
		{name: "same filter for a superuser", method: "GET", path: profiles + "?filter=" + url.QueryEscape(`v.title = "gold"`), token: a.tok.admin,
			status: 200, want: map[string]any{"totalItems": 1}},
		{name: "delete rule for a guest", method: "DELETE", path: profiles + "/" + p,
			status: 404},
	})

	t.Run("auth collection email visibility", func(t *testing.T) {
		a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "members", "type": "auth"}, ruleSet("", "", nil, nil, nil)))
		hidden := a.createRecord(t, a.tok.admin, "members", map[string]any{"email": "hidden@example.com", "emailVisibility": false})["id"].(string)
		shown := a.createRecord(t, a.tok.admin, "members", map[string]any{"email": "shown@example.com", "emailVisibility": true})["id"].(string)
		runScenarios(t, a.h, []scenario{
			{name: "hidden email", method: "GET", path: "/v1/collections/members/records/" + hidden,
				status: 200, want: map[string]any{"email": absent, "emailVisibility": false, "password": absent, "tokenKey": absent}},
			{name: "visible email", method: "GET", path: "/v1/collections/members/records/" + shown,
				status: 200, want: map[string]any{"email": "shown@example.com"}},
			{name: "superuser sees every email", method: "GET", path: "/v1/collections/members/records/" + hidden, token: a.tok.admin,
				status: 200, want: map[string]any{"email": "hidden@example.com"}},
			{name: "duplicate email", method: "POST", path: "/v1/collections/members/records", token: a.tok.admin, body: map[string]any{"email": "shown@example.com"},
				status: 400, want: map[string]any{"data.email.code": "validation_not_unique"}},
			{name: "filtering by a hidden email finds nothing", method: "GET", path: "/v1/collections/members/records?filter=" + url.QueryEscape(`email = "hidden@example.com"`),
				status: 200, want: map[string]any{"totalItems": 0}},
			{name: "filtering by a visible email", method: "GET", path: "/v1/collections/members/records?filter=" + url.QueryEscape(`email = "shown@example.com"`),
				status: 200, want: map[string]any{"totalItems": 1}},
			{name: "superuser filters by any email", method: "GET", path: "/v1/collections/members/records?filter=" + url.QueryEscape(`email = "hidden@example.com"`), token: a.tok.admin,
				status: 200, want: map[string]any{"totalItems": 1}},
		})
	})
	t.Run("claims in rules", func(t *testing.T) {
		a.createCollection(t, a.tok.admin, merge(map[string]any{"name": "staff", "fields": []any{field("t", "text")}},
			ruleSet(`@request.auth.name = "Alice" && @request.auth.collectionName = "users"`, `@request.auth.isAdmin = true`, "", nil, nil)))
		id := a.createRecord(t, "", "staff", map[string]any{"t": "x"})["id"].(string)
		runScenarios(t, a.h, []scenario{
			{name: "name claim matches", method: "GET", path: "/v1/collections/staff/records", token: a.tok.alice, status: 200, want: map[string]any{"totalItems": 1}},
			{name: "name claim differs", method: "GET", path: "/v1/collections/staff/records", token: a.tok.bob, status: 200, want: map[string]any{"totalItems": 0}},
			{name: "guest", method: "GET", path: "/v1/collections/staff/records", status: 200, want: map[string]any{"totalItems": 0}},
			{name: "isAdmin claim false", method: "GET", path: "/v1/collections/staff/records/" + id, token: a.tok.alice, status: 404},
			{name: "member without isAdmin", method: "GET", path: "/v1/collections/staff/records/" + id, token: a.tok.multi, status: 404},
		})
	})
}

// TestErrorsIgnoreFields checks that the fields picker never touches an
// error envelope.
func TestErrorsIgnoreFields(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{method: "GET", path: "/v1/collections/vault/records?fields=id", status: 403, want: map[string]any{"message": msgOnlySuper}},
		{method: "POST", path: "/v1/collections/posts/records?fields=id", body: map[string]any{}, status: 400, want: map[string]any{"message": "Failed to create record."}},
		{method: "GET", path: "/v1/nope?fields=id", status: 404},
	})
}

// --- benchmarks ----------------------------------------------------------------

// benchSeeded is the number of records seeded for the benchmarks.
const benchSeeded = 10_000

// seedItems creates an open collection "items" (title, n, flag) and
// inserts n records straight into its table in one transaction (setup, not
// what is measured), returning their ids.
func seedItems(tb testing.TB, a *apiHarness, n int) []string {
	tb.Helper()
	a.createCollection(tb, a.tok.admin, merge(map[string]any{"name": "items", "fields": []any{
		field("title", "text"), field("n", "number"), field("flag", "bool"),
	}}, ruleSet("", "", "", "", "")))
	ctx := tb.Context()
	db, err := a.store.Acquire(ctx, "default")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Release()
	tx, err := db.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("item%011d", i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO "items" ("id", "title", "n", "flag") VALUES (?, ?, ?, ?)`,
			ids[i], fmt.Sprintf("item number %d", i), i, i%2 == 0); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// benchServe serves r b.N times and fails on any other status than want.
func benchServe(b *testing.B, h http.Handler, want int, next func(i int) *http.Request) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, next(i))
		if rec.Code != want {
			b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body.Bytes())
		}
	}
}

func benchRequest(method, target, token string, body []byte) *http.Request {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, target, bytes.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", token)
	}
	return r
}

func BenchmarkListRecords(b *testing.B) {
	a := newAPI(b)
	seedItems(b, a, benchSeeded)
	cases := []struct{ name, query, token string }{
		{"guest page", "?page=7&perPage=30", ""},
		{"user page", "?page=7&perPage=30", a.tok.alice},
		{"skipTotal", "?page=7&perPage=30&skipTotal=1", ""},
		{"filter and sort", "?perPage=30&sort=-n&filter=" + url.QueryEscape(`flag = true && n > 5000 && title ~ "9"`), ""},
		{"perPage 1000", "?perPage=1000&skipTotal=1", ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, a.h, 200, func(int) *http.Request {
				return benchRequest("GET", "/v1/collections/items/records"+c.query, c.token, nil)
			})
		})
	}
}

func BenchmarkViewRecord(b *testing.B) {
	a := newAPI(b)
	ids := seedItems(b, a, benchSeeded)
	for _, c := range []struct{ name, token string }{{"guest", ""}, {"user", a.tok.alice}} {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, a.h, 200, func(i int) *http.Request {
				return benchRequest("GET", "/v1/collections/items/records/"+ids[(i*7919)%len(ids)], c.token, nil)
			})
		})
	}
}

func BenchmarkCreateRecord(b *testing.B) {
	a := newAPI(b)
	seedItems(b, a, benchSeeded)
	body := []byte(`{"title":"benchmark record","n":42,"flag":true}`)
	for _, c := range []struct{ name, token string }{{"guest", ""}, {"user", a.tok.alice}} {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, a.h, 200, func(int) *http.Request {
				return benchRequest("POST", "/v1/collections/items/records", c.token, body)
			})
		})
	}
}

// TestConcurrentInstances hits two instances of one deployment (two store
// handles on one directory) at once: first requests of new users (users
// mirror upserts racing on the same id) and record creates must all
// succeed, with exactly one mirror record per user.
func TestConcurrentInstances(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	other := a.sibling(t)
	const users, perUser = 8, 6
	toks := make([]string, users)
	for i := range toks {
		toks[i] = a.mint(t, map[string]any{"sub": fmt.Sprint("racer-", i), "owner": "default", "name": fmt.Sprint("Racer ", i)}, 3600e9)
	}
	type result struct {
		code int
		body string
	}
	results := make(chan result, users*perUser)
	var wg sync.WaitGroup
	for i := range users {
		for j := range perUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := a.h
				if j%2 == 1 {
					h = other.h
				}
				var r apiRequest
				if j%3 == 0 {
					r = apiRequest{method: "GET", path: "/v1/collections/users/records/" + userID(fmt.Sprint("racer-", i)), token: toks[i]}
				} else {
					r = apiRequest{method: "POST", path: "/v1/collections/notes/records", token: toks[i], body: map[string]any{"title": fmt.Sprint(i, "-", j)}}
				}
				res := serve(t, h, r)
				results <- result{res.Code, string(res.Raw)}
			}()
		}
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.code != 200 {
			t.Errorf("concurrent request: %d %s", r.code, r.body)
		}
	}
	res := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records?perPage=100&filter=" + url.QueryEscape(`sub ~ "racer-"`), token: a.tok.admin})
	if n, _ := lookup(res, "totalItems"); n != float64(users) {
		t.Errorf("mirror records of the racers: %v, want %d", n, users)
	}
	res = a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/notes/records?perPage=1", token: a.tok.admin})
	if n, _ := lookup(res, "totalItems"); n != float64(1+users*(perUser-perUser/3)) {
		t.Errorf("notes: %v, want %d", n, 1+users*(perUser-perUser/3))
	}
}

// Regression test for a bug this suite found: (page-1)*perPage overflowed
// and a far page returned the first page.

// TestPageOverflow asks for a page so far past the end that
// (page-1)*perPage overflows: it must still be an empty page, not the
// first one.
func TestPageOverflow(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	runScenarios(t, a.h, []scenario{
		{name: "records", method: "GET", path: "/v1/collections/posts/records?page=9223372036854775807&perPage=30", token: a.tok.admin,
			status: 200, want: map[string]any{"items": hasLen(0), "totalItems": 4}},
		{name: "records, perPage 7", method: "GET", path: "/v1/collections/posts/records?page=4611686018427387904&perPage=7", token: a.tok.admin,
			status: 200, want: map[string]any{"items": hasLen(0)}},
		{name: "collections", method: "GET", path: "/v1/collections?page=9223372036854775807", token: a.tok.admin,
			status: 200, want: map[string]any{"items": hasLen(0)}},
	})
}

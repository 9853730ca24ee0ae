package handler

import (
	"encoding/json"
	"fmt"
	"testing"
)

// sub is one batch sub-request.
func sub(method, url string, body any) map[string]any {
	m := map[string]any{"method": method, "url": url}
	if body != nil {
		m["body"] = body
	}
	return m
}

func batchBody(reqs ...map[string]any) map[string]any {
	list := make([]any, len(reqs))
	for i, r := range reqs {
		list[i] = r
	}
	return map[string]any{"requests": list}
}

func TestBatch(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	count := func(tb testing.TB, coll string) float64 {
		tb.Helper()
		res := a.must(tb, 200, apiRequest{method: "GET", path: "/v1/collections/" + coll + "/records", token: a.tok.admin})
		n, _ := lookup(res, "totalItems")
		return n.(float64)
	}
	unchanged := func(coll string, want float64) func(tb testing.TB, res *apiResponse) {
		return func(tb testing.TB, res *apiResponse) {
			tb.Helper()
			if n := count(tb, coll); n != want {
				tb.Errorf("%s has %v records after a failed batch, want %v (all-or-nothing)", coll, n, want)
			}
		}
	}
	notes := "/api/collections/notes/records"
	scs := []scenario{
		{name: "create, update, delete, upsert", method: "POST", path: "/v1/batch",
			body: batchBody(
				sub("POST", notes, map[string]any{"id": "batchnote00001a", "title": "one"}),
				sub("PATCH", notes+"/"+b.note, map[string]any{"title": "patched"}),
				sub("PUT", notes, map[string]any{"id": "batchnote00002b", "title": "upsert-new"}),
				sub("PUT", notes, map[string]any{"id": b.note, "title": "upsert-existing"}),
				sub("DELETE", notes+"/batchnote00001a", nil),
			),
			status: 200, want: map[string]any{
				"":         hasLen(5),
				"0.status": 200, "0.body.id": "batchnote00001a", "0.body.title": "one", "0.body.collectionName": "notes",
				"1.status": 200, "1.body.title": "patched",
				"2.status": 200, "2.body.id": "batchnote00002b",
				"3.status": 200, "3.body.id": b.note, "3.body.title": "upsert-existing",
				"4.status": 204, "4.body": nil,
			},
			check: func(tb testing.TB, _ *apiResponse) {
				if n := count(tb, "notes"); n != 2 {
					tb.Errorf("notes after batch: %v, want 2", n)
				}
				a.must(tb, 404, apiRequest{method: "GET", path: notes + "/batchnote00001a"})
			}},
		{name: "all or nothing", method: "POST", path: "/v1/batch",
			body: batchBody(
				sub("POST", notes, map[string]any{"title": "should not stay"}),
				sub("POST", "/api/collections/posts/records", map[string]any{"author": b.alice}),
			),
			status: 400, check: unchanged("notes", 2), want: map[string]any{
				"message":                          "Batch transaction failed.",
				"data.requests.1.code":             "batch_request_failed",
				"data.requests.1.response.status":  400,
				"data.requests.1.response.message": "Failed to create record.",
				"data.requests.0":                  absent,
			}},
		{name: "sub-request validation data nested in response", method: "POST", path: "/v1/batch", token: a.tok.alice,
			body: batchBody(
				sub("POST", "/api/collections/posts/records", map[string]any{"author": b.alice}),
			),
			status: 400, want: map[string]any{"data.requests.0.response.data.title.code": "validation_required"}},
		{name: "rules apply per sub-request", method: "POST", path: "/v1/batch", token: a.tok.bob,
			body: batchBody(
				sub("POST", notes, map[string]any{"title": "bob's"}),
				sub("PATCH", "/api/collections/posts/records/"+b.a1, map[string]any{"title": "stolen"}),
			),
			status: 400, check: unchanged("notes", 2), want: map[string]any{"data.requests.1.response.status": 404}},
		{name: "null rule in a sub-request", method: "POST", path: "/v1/batch",
			body:   batchBody(sub("POST", "/api/collections/vault/records", map[string]any{"title": "x"})),
			status: 400, want: map[string]any{"data.requests.0.response.status": 403}},
		{name: "create rule evaluated with the caller", method: "POST", path: "/v1/batch", token: a.tok.alice,
			body:   batchBody(sub("POST", "/v1/collections/posts/records?expand=author&fields=id,author,expand", map[string]any{"title": "batched", "author": b.alice})),
			status: 200, want: map[string]any{"0.status": 200, "0.body.author": b.alice, "0.body.expand.author.id": b.alice, "0.body.title": absent}},
		{name: "unique violation in a sub-request", method: "POST", path: "/v1/batch", token: a.tok.alice,
			body:   batchBody(sub("POST", "/api/collections/posts/records", map[string]any{"title": "d", "author": b.alice, "slug": "a-one"})),
			status: 400, want: map[string]any{"data.requests.0.response.data.slug.code": "validation_not_unique"}},
		{name: "later sub-requests see earlier ones", method: "POST", path: "/v1/batch",
			body: batchBody(
				sub("POST", notes, map[string]any{"id": "chainchainchain", "title": "x"}),
				sub("PATCH", notes+"/chainchainchain", map[string]any{"title": "y"}),
				sub("POST", "/api/collections/comments/records", map[string]any{"post": b.b3, "text": "c"}),
			),
			status: 200, want: map[string]any{"1.body.title": "y", "2.status": 200}},
		{name: "delete blocked by a reference fails the batch", method: "POST", path: "/v1/batch",
			body: batchBody(
				sub("DELETE", notes+"/chainchainchain", nil),
				sub("DELETE", "/api/collections/posts/records/"+b.b3, nil),
			),
			status: 400, want: map[string]any{"data.requests.1.response.status": 404},
			check: func(tb testing.TB, _ *apiResponse) {
				a.must(tb, 200, apiRequest{method: "GET", path: notes + "/chainchainchain"})
			}},
		{name: "superuser delete blocked by a required reference", method: "POST", path: "/v1/batch", token: a.tok.admin,
			body:   batchBody(sub("DELETE", "/api/collections/posts/records/"+b.b3, nil)),
			status: 400, want: map[string]any{"data.requests.0.response.status": 400, "data.requests.0.response.message": containsText("required relation reference")}},
		{name: "missing record", method: "POST", path: "/v1/batch",
			body:   batchBody(sub("PATCH", notes+"/zzzzzzzzzzzzzzz", map[string]any{"title": "x"})),
			status: 400, want: map[string]any{"data.requests.0.response.status": 404}},
		{name: "unknown collection", method: "POST", path: "/v1/batch",
			body:   batchBody(sub("POST", "/api/collections/nope/records", map[string]any{})),
			status: 400, want: map[string]any{"data.requests.0.response.status": 404}},
		{name: "not a records URL", method: "POST", path: "/v1/batch",
			body:   batchBody(sub("POST", "/api/collections", map[string]any{"name": "x"})),
			status: 400},
		{name: "method not allowed for the URL", method: "POST", path: "/v1/batch",
			body:   batchBody(sub("GET", notes, nil)),
			status: 400},
		{name: "no requests", method: "POST", path: "/v1/batch", body: map[string]any{"requests": []any{}},
			status: 400, want: map[string]any{"data.requests.code": "validation_invalid_value"}},
		{name: "no body", method: "POST", path: "/v1/batch",
			status: 400, want: map[string]any{"data.requests": present}},
		{name: "too many requests", method: "POST", path: "/v1/batch", body: manyNotes(51),
			status: 400, want: map[string]any{"data.requests.code": "validation_invalid_value", "data.requests.message": containsText("50")},
			check: unchanged("notes", 3)},
		{name: "exactly the maximum", method: "POST", path: "/v1/batch", body: manyNotes(50),
			status: 200, want: map[string]any{"": hasLen(50)}},
		{name: "malformed item", method: "POST", path: "/v1/batch", body: map[string]any{"requests": []any{"nope"}},
			status: 400},
		{name: "body must be an object", method: "POST", path: "/v1/batch", body: map[string]any{"requests": []any{map[string]any{"method": "POST", "url": notes, "body": []int{1}}}},
			status: 400},
		{name: "malformed JSON", method: "POST", path: "/v1/batch", body: `{"requests": [`,
			status: 400},
		{name: "/api alias", method: "POST", path: "/api/batch", body: batchBody(sub("POST", notes, map[string]any{"title": "alias"})),
			status: 200, want: map[string]any{"0.status": 200}},
	}
	runScenarios(t, a.h, scs)
}

// manyNotes is a batch creating n notes.
func manyNotes(n int) map[string]any {
	reqs := make([]map[string]any, n)
	for i := range reqs {
		reqs[i] = sub("POST", "/api/collections/notes/records", map[string]any{"title": fmt.Sprint("n", i)})
	}
	return batchBody(reqs...)
}

func TestBatchMultipart(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	payload, _ := json.Marshal(batchBody(
		sub("POST", "/api/collections/notes/records", map[string]any{"title": "from the SDK"}),
		sub("PUT", "/api/collections/notes/records", map[string]any{"id": "sdkupsert000001", "title": "upserted"}),
	))
	body, ct := formData(t, formPart{name: "@jsonPayload", value: string(payload)})
	runScenarios(t, a.h, []scenario{
		{name: "SDK multipart batch", method: "POST", path: "/api/batch", headers: map[string]string{"Content-Type": ct}, body: body,
			status: 200, want: map[string]any{"0.body.title": "from the SDK", "1.body.id": "sdkupsert000001"}},
	})
}

func TestBatchConfig(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		a := newAPI(t, func(c *Config) { c.BatchMax = -1 })
		seedBlog(t, a)
		runScenarios(t, a.h, []scenario{
			{method: "POST", path: "/v1/batch", body: batchBody(sub("POST", "/api/collections/notes/records", map[string]any{})),
				status: 403, want: map[string]any{"message": "Batch requests are not allowed."}},
		})
	})
	t.Run("custom max", func(t *testing.T) {
		a := newAPI(t, func(c *Config) { c.BatchMax = 2 })
		seedBlog(t, a)
		runScenarios(t, a.h, []scenario{
			{name: "over", method: "POST", path: "/v1/batch", body: manyNotes(3), status: 400},
			{name: "at", method: "POST", path: "/v1/batch", body: manyNotes(2), status: 200},
		})
	})
}

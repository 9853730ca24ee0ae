package e2e

// Realtime gate checks that need the store, found wrong in the acceptance
// review of issue #3. Each test compares a subscriber's deliveries with
// what a GET by the same identity (PocketBase's rule) returns.

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/internal/testsrv"
)

// TestRealtimeFilterThroughRelationIsTheSubscribers: a non-superuser's
// `filter` option must be evaluated as a list GET by that identity would
// (hidden fields not filterable, related collections' rules enforced).
// When the filter reaches through a relation (a store check), the hub used
// to run it as a superuser, so a user could probe a related record's hidden
// field, or a collection it may not read, through realtime.
func TestRealtimeFilterThroughRelationIsTheSubscribers(t *testing.T) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin)
	u := srv.URL
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	bob := srv.Token(t, "--sub", "acme/bob", "--org", "acme")
	call(t, 200, u, "POST", "/v1/collections/users/auth-refresh", bob, nil)
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "tags", "type": "base", "fields": []any{
			map[string]any{"name": "name", "type": "text"},
			map[string]any{"name": "note", "type": "text", "hidden": true},
		},
		"listRule": "", "viewRule": "",
	})
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "vault", "type": "base", "fields": []any{map[string]any{"name": "code", "type": "text"}},
		"listRule": nil, "viewRule": nil,
	})
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "items", "type": "base", "fields": []any{
			map[string]any{"name": "title", "type": "text"},
			map[string]any{"name": "tag", "type": "relation", "collectionId": "tags", "maxSelect": 1},
			map[string]any{"name": "vault", "type": "relation", "collectionId": "vault", "maxSelect": 1},
		},
		"listRule": "", "viewRule": "",
	})
	var tag, vault map[string]any
	json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/tags/records", admin, map[string]any{"name": "t", "note": "internal"}), &tag)
	json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/vault/records", admin, map[string]any{"code": "1234"}), &vault)

	filters := []string{`tag.note = "internal"`, `vault.code = "1234"`}
	s := collect(openStream(t, u, ""))
	var topics []string
	for _, f := range filters {
		o, _ := json.Marshal(map[string]any{"query": map[string]string{"filter": f}})
		topics = append(topics, "items/*?options="+url.QueryEscape(string(o)))
	}
	topics = append(topics, "items/*")
	s.subscribe(t, u, bob, 204, topics...)
	var item map[string]any
	json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/items/records", admin, map[string]any{"title": "i", "tag": tag["id"], "vault": vault["id"]}), &item)
	s.waitFor(t, 5*time.Second, "the unfiltered event", func(evs []sseEvent) bool {
		for _, ev := range evs {
			if ev.name == "items/*" {
				return true
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond)
	got := map[string]bool{}
	for _, ev := range s.events() {
		got[ev.name] = true
	}
	for i, f := range filters {
		q := url.Values{"filter": {`(id = "` + item["id"].(string) + `") && (` + f + `)`}}
		code, v := getJSON(t, u, "/v1/collections/items/records?"+q.Encode(), bob, "")
		visible := code == 200 && len(v.(map[string]any)["items"].([]any)) == 1
		if got[topics[i]] != visible {
			t.Errorf("filter %s: delivered %v, but bob's list GET with it answers %d %v", f, got[topics[i]], code, v)
		}
	}

}

// TestRealtimeStoreCheckUsesEventVersion: when the gate rule needs the store
// (here it reaches into the owner relation), the hub must check the rule
// against the event's version of the record — the one it sends — not the
// row as it is now. Two updates of one record in one batch make it
// deterministic: both events reach the hub after the commit, when the row
// already holds the second state. Checking the live row, Alice received the
// first version, which she was never allowed to see (owner bob, private):
// a leak; and when a batch updated then deleted a record, the update she
// may see was dropped because the row was gone.
func TestRealtimeStoreCheckUsesEventVersion(t *testing.T) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin)
	u := srv.URL
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	alice := srv.Token(t, "--sub", "acme/alice", "--org", "acme", "--name", "Alice")
	bob := srv.Token(t, "--sub", "acme/bob", "--org", "acme", "--name", "Bob")
	for _, tok := range []string{alice, bob} {
		call(t, 200, u, "POST", "/v1/collections/users/auth-refresh", tok, nil)
	}
	aliceID, bobID := base.UserRecordID("acme/alice"), base.UserRecordID("acme/bob")
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "items", "type": "base", "fields": []any{
			map[string]any{"name": "title", "type": "text"},
			map[string]any{"name": "owner", "type": "relation", "collectionId": "users", "maxSelect": 1},
		},
		"listRule": `owner.name = "Alice"`,
		"viewRule": `owner.name = "Alice"`,
	})
	var it map[string]any
	json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/items/records", admin, map[string]any{"title": "start", "owner": aliceID}), &it)
	id := it["id"].(string)
	s := collect(openStream(t, u, ""))
	s.subscribe(t, u, alice, 204, "items/*", "items/"+id)
	patch := func(body map[string]any) map[string]any {
		return map[string]any{"method": "PATCH", "url": "/api/collections/items/records/" + id, "body": body}
	}
	call(t, 200, u, "POST", "/v1/batch", admin, map[string]any{"requests": []any{
		patch(map[string]any{"title": "bob's secret", "owner": bobID}),
		patch(map[string]any{"title": "back to alice", "owner": aliceID}),
	}})
	call(t, 200, u, "POST", "/v1/batch", admin, map[string]any{"requests": []any{
		patch(map[string]any{"title": "last update"}),
		map[string]any{"method": "DELETE", "url": "/api/collections/items/records/" + id},
	}})
	time.Sleep(time.Second)
	count := map[string]int{}
	for _, ev := range s.events() {
		var d struct {
			Action string `json:"action"`
		}
		json.Unmarshal([]byte(ev.data), &d)
		count[d.Action+" "+titleOf(ev)]++
	}
	t.Logf("events by title: %v", count)
	if count["update bob's secret"] > 0 {
		t.Errorf("alice received %d events of a version owned by bob, which no GET of hers returns", count["update bob's secret"])
	}
	if count["update back to alice"] != 2 {
		t.Errorf("alice got %d events of the version she owns, want 2 (one per topic)", count["update back to alice"])
	}
	if count["update last update"] != 2 {
		t.Errorf("alice got %d events of the last update she may see, want 2 (one per topic): checked against the already deleted row", count["update last update"])
	}
	if count["delete last update"] != 2 {
		t.Errorf("alice got %d delete events, want 2 (one per topic)", count["delete last update"])
	}
}

// TestRealtimeCascadeDeleteGate: PocketBase evaluates a delete event's
// gate rule before the deletion, "so rules referencing the record still
// work, including cascade-deleted children" (wire §7.3). A comment whose
// list rule reaches into its post (post.public = true) is cascade-deleted
// with the post: a guest who could list it must receive its delete event.
func TestRealtimeCascadeDeleteGate(t *testing.T) { testCascadeDeleteGate(t) }

// TestRealtimeCascadeDeleteGatePostgres: the same, where the restoring
// transaction is PostgreSQL's.
func TestRealtimeCascadeDeleteGatePostgres(t *testing.T) {
	pg := testsrv.Postgres(t)
	testCascadeDeleteGate(t, "BASE_STORE=postgres", "BASE_STORE_URL="+pg.URL)
}

func testCascadeDeleteGate(t *testing.T, env ...string) {
	bin := buildBase(t, t.TempDir())
	srv := startBase(t, bin, env...)
	u := srv.URL
	admin := srv.Token(t, "--sub", "acme/admin", "--org", "acme", "--admin")
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "posts", "type": "base", "fields": []any{map[string]any{"name": "title", "type": "text"}, map[string]any{"name": "public", "type": "bool"}},
		"listRule": "public = true", "viewRule": "public = true",
	})
	call(t, 200, u, "POST", "/v1/collections", admin, map[string]any{
		"name": "comments", "type": "base", "fields": []any{
			map[string]any{"name": "title", "type": "text"},
			map[string]any{"name": "post", "type": "relation", "collectionId": "posts", "maxSelect": 1, "cascadeDelete": true},
		},
		"listRule": "post.public = true", "viewRule": "post.public = true",
	})
	var post, comment map[string]any
	json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/posts/records", admin, map[string]any{"title": "p", "public": true}), &post)
	json.Unmarshal(call(t, 200, u, "POST", "/v1/collections/comments/records", admin, map[string]any{"title": "c", "post": post["id"]}), &comment)
	// The guest may list the comment now.
	if code, v := getJSON(t, u, "/v1/collections/comments/records", "", "acme"); code != 200 || len(v.(map[string]any)["items"].([]any)) != 1 {
		t.Fatalf("guest list of comments: %d %v", code, v)
	}
	g := openStream(t, u, "")
	g.subscribeGuest(t, u, "acme", 204, "comments/*", "comments/"+comment["id"].(string), "posts/*")
	call(t, 204, u, "DELETE", "/v1/collections/posts/records/"+post["id"].(string), admin, nil)
	got := map[string]bool{}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case ev := <-g.events:
			got[ev.name] = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, topic := range []string{"posts/*", "comments/*", "comments/" + comment["id"].(string)} {
		if !got[topic] {
			t.Errorf("no delete event on %s (got %v): the cascade-deleted comment's rule must see its post as before the delete", topic, got)
		}
	}
}

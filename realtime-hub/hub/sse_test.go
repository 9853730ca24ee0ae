package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/realtime-hub/bus"
)

func newMemoryInstance(t *testing.T) (*deployment, *instance, tokens) {
	t.Helper()
	d := newDeployment(t)
	b := bus.NewMemory(bus.MemoryConfig{})
	t.Cleanup(func() { b.Close() })
	in := newInstance(t, d, b)
	return d, in, seed(t, d, in.srv.URL)
}

func TestSSEProtocolAndGating(t *testing.T) {
	_, in, tok := newMemoryInstance(t)
	url := in.srv.URL

	alice := openSSE(t, url, "")
	if len(alice.clientID) != 40 {
		t.Fatalf("client id %q: want 40 chars", alice.clientID)
	}
	bob := openSSE(t, url, "")
	guest := openSSE(t, url, "")
	acme := openSSE(t, url, "")
	admin := openSSE(t, url, "")
	alice.subscribe(t, url, tok.alice, 204, "posts/*")
	bob.subscribe(t, url, tok.bob, 204, "posts/*")
	guest.subscribe(t, url, "", 204, "posts/*")
	acme.subscribe(t, url, tok.acme, 204, "posts/*")
	admin.subscribe(t, url, tok.admin, 204, "posts/*")

	aliceID := mustCall(t, 200, url, "POST", "/v1/collections/users/auth-refresh", tok.alice, nil)["record"].(map[string]any)["id"].(string)
	// Private post of alice: only alice (owner) and the admin see it.
	rec := mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "draft", "owner": aliceID, "secret": "s3"})
	ev := alice.next(t, 5*time.Second)
	if ev.event != "posts/*" || !strings.HasPrefix(ev.id, alice.clientID+":") {
		t.Fatalf("event %+v", ev)
	}
	data := decodeData(t, ev)
	r := data["record"].(map[string]any)
	if data["action"] != "create" || r["id"] != rec["id"] || r["title"] != "draft" || r["collectionName"] != "posts" {
		t.Fatalf("data %v", data)
	}
	if _, ok := r["secret"]; ok {
		t.Fatalf("hidden field delivered to a non-superuser: %v", r)
	}
	adm := decodeData(t, admin.next(t, 5*time.Second))["record"].(map[string]any)
	if _, ok := adm["secret"]; !ok {
		t.Fatalf("superuser record %v: want the hidden field", adm)
	}
	bob.none(t, 300*time.Millisecond)
	guest.none(t, 10*time.Millisecond)
	acme.none(t, 10*time.Millisecond)

	// Publishing it: everyone of the org sees the update, not acme.
	mustCall(t, 200, url, "PATCH", "/v1/collections/posts/records/"+rec["id"].(string), tok.alice, map[string]any{"published": true})
	for _, c := range []*sseClient{alice, bob, guest, admin} {
		if d := decodeData(t, c.next(t, 5*time.Second)); d["action"] != "update" {
			t.Fatalf("got %v, want update", d)
		}
	}
	acme.none(t, 300*time.Millisecond)

	// Unsubscribe (empty set): nothing more.
	bob.subscribe(t, url, tok.bob, 204)
	mustCall(t, 204, url, "DELETE", "/v1/collections/posts/records/"+rec["id"].(string), tok.alice, nil)
	if d := decodeData(t, alice.next(t, 5*time.Second)); d["action"] != "delete" {
		t.Fatalf("got %v, want delete", d)
	}
	bob.none(t, 300*time.Millisecond)
}

func TestSSERecordTopicOptionsAndStoreRules(t *testing.T) {
	_, in, tok := newMemoryInstance(t)
	url := in.srv.URL
	aliceID := mustCall(t, 200, url, "POST", "/v1/collections/users/auth-refresh", tok.alice, nil)["record"].(map[string]any)["id"].(string)
	bobID := mustCall(t, 200, url, "POST", "/v1/collections/users/auth-refresh", tok.bob, nil)["record"].(map[string]any)["id"].(string)
	a := mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "a", "owner": aliceID})
	b := mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.bob, map[string]any{"title": "b", "owner": bobID})

	// The view rule reaches into the relation (owner.name): an SQL check.
	opts := `?options=` + `%7B%22query%22%3A%7B%22expand%22%3A%22owner%22%2C%22fields%22%3A%22id%2Ctitle%2Cexpand.owner.name%22%7D%7D`
	guest := openSSE(t, url, "")
	guest.subscribe(t, url, "", 204, "posts/"+a["id"].(string), "posts/"+b["id"].(string))
	withOpts := openSSE(t, url, "")
	withOpts.subscribe(t, url, tok.alice, 204, "posts/"+a["id"].(string)+opts)
	filtered := openSSE(t, url, "")
	// filter option: only titles starting with "x".
	filtered.subscribe(t, url, tok.alice, 204, `posts/*?options=%7B%22query%22%3A%7B%22filter%22%3A%22title%20~%20%27x%25%27%22%7D%7D`)

	mustCall(t, 200, url, "PATCH", "/v1/collections/posts/records/"+a["id"].(string), tok.alice, map[string]any{"title": "a2"})
	if ev := guest.next(t, 5*time.Second); ev.event != "posts/"+a["id"].(string) {
		t.Fatalf("guest got %+v", ev)
	}
	ev := withOpts.next(t, 5*time.Second)
	if !strings.HasPrefix(ev.event, "posts/"+a["id"].(string)+"?options=") {
		t.Fatalf("event name %q: want the exact subscription string", ev.event)
	}
	r := decodeData(t, ev)["record"].(map[string]any)
	owner, _ := r["expand"].(map[string]any)["owner"].(map[string]any)
	if r["title"] != "a2" || owner["name"] != "Alice" || r["collectionId"] != nil || owner["id"] != nil {
		t.Fatalf("record %v: want fields id,title,expand.owner.name", r)
	}
	// Bob's post fails the view rule for a guest.
	mustCall(t, 200, url, "PATCH", "/v1/collections/posts/records/"+b["id"].(string), tok.bob, map[string]any{"title": "b2"})
	guest.none(t, 300*time.Millisecond)
	filtered.none(t, 10*time.Millisecond)
	mustCall(t, 200, url, "PATCH", "/v1/collections/posts/records/"+a["id"].(string), tok.alice, map[string]any{"title": "xa"})
	if d := decodeData(t, filtered.next(t, 5*time.Second)); d["record"].(map[string]any)["title"] != "xa" {
		t.Fatalf("filtered got %v", d)
	}
	if st := in.hub.Stats(); st.StoreChecks.Load() == 0 || st.MemoryChecks.Load() == 0 {
		t.Fatalf("store checks %d, memory checks %d: want both paths used", st.StoreChecks.Load(), st.MemoryChecks.Load())
	}

	// A rule change is honoured by the next event.
	mustCall(t, 200, url, "PATCH", "/v1/collections/posts", tok.admin, map[string]any{"listRule": nil})
	mustCall(t, 200, url, "PATCH", "/v1/collections/posts/records/"+a["id"].(string), tok.alice, map[string]any{"title": "xb"})
	filtered.none(t, 300*time.Millisecond)
}

func TestSSEAuthBinding(t *testing.T) {
	_, in, tok := newMemoryInstance(t)
	url := in.srv.URL
	c := openSSE(t, url, "")
	c.subscribe(t, url, "", 204, "posts/*")        // guest
	c.subscribe(t, url, tok.alice, 204, "posts/*") // guest → alice
	c.subscribe(t, url, tok.alice, 204, "posts/*")
	c.subscribe(t, url, tok.bob, 403, "posts/*") // alice → bob
	c.subscribe(t, url, "", 403, "posts/*")      // alice → guest
	d := openSSE(t, url, "")
	d.subscribe(t, url, tok.acme, 204, "posts/*")
	d.subscribe(t, url, tok.alice, 403, "posts/*") // another org
	got, out := call(t, url, "POST", "/api/realtime", "", map[string]any{"clientId": "nope", "subscriptions": []string{}})
	if got != 404 || out["message"] != "Missing or invalid client id." {
		t.Fatalf("unknown client = %d %v", got, out)
	}
	got, out = call(t, url, "POST", "/api/realtime", "", map[string]any{"subscriptions": []string{}})
	if got != 400 || out["data"].(map[string]any)["clientId"] == nil {
		t.Fatalf("missing client id = %d %v", got, out)
	}
}

func TestSSEResumeWithLastEventID(t *testing.T) {
	_, in, tok := newMemoryInstance(t)
	url := in.srv.URL
	c := openSSE(t, url, "")
	c.subscribe(t, url, tok.alice, 204, "posts/*")
	mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "one", "published": true})
	first := c.next(t, 5*time.Second)
	c.close()
	time.Sleep(100 * time.Millisecond)
	// Written while disconnected.
	mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "two", "published": true})
	mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "three", "published": true})

	r := openSSE(t, url, first.id)
	if r.clientID != c.clientID {
		t.Fatalf("resumed client id %q, want %q", r.clientID, c.clientID)
	}
	for _, want := range []string{"two", "three"} {
		d := decodeData(t, r.next(t, 5*time.Second))
		if got := d["record"].(map[string]any)["title"]; got != want {
			t.Fatalf("replayed %v, want %q", got, want)
		}
	}
	// Live delivery continues after the replay.
	mustCall(t, 200, url, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "four", "published": true})
	if d := decodeData(t, r.next(t, 5*time.Second)); d["record"].(map[string]any)["title"] != "four" {
		t.Fatalf("live %v", d)
	}

	// A fresh client with only an event id replays at its first POST.
	f := openSSE(t, url, "x:"+strings.SplitN(first.id, ":", 2)[1])
	f.subscribe(t, url, tok.bob, 204, "posts/*")
	for _, want := range []string{"two", "three", "four"} {
		d := decodeData(t, f.next(t, 5*time.Second))
		if got := d["record"].(map[string]any)["title"]; got != want {
			t.Fatalf("replayed %v, want %q", got, want)
		}
	}
}

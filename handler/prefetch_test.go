package handler

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/hanzoai/base"
)

// prefetchRules are view rules (also the list rules) covering the three
// ways a view by id decides access: no rule, a rule decided in memory from
// the prefetched record (records.Prefetch, rules.Evaluator), and a rule
// the store decides (relation paths, @collection, multi-valued fields).
var prefetchRules = []struct {
	rule      any // nil: locked
	needStore bool
}{
	{"", false},
	{nil, false},
	{`owner = @request.auth.id`, false},
	{`@request.auth.id != ""`, false},
	{`title = "a" || n > 2`, false},
	{`title ~ "A" && n >= 1`, false},
	{`owner.name = "Alice"`, true},
	{`@collection.notes.title ?= "c"`, true},
	{`tags ?= "x"`, true},
}

// checkViewMatchesList: for every rule, record and identity, a view by id
// answers what the same rule decides in SQL through a list filtered by
// that id: 200 with the same record when the list has it, 404 when it
// does not, 403 when the rule is locked. Views run twice so the second
// takes the prefetch (the first after a rule change reloads the schema).
func checkViewMatchesList(t *testing.T, a *apiHarness) {
	t.Helper()
	usersID := base.UserRecordID("alice")
	bobID := base.UserRecordID("bob")
	for _, tok := range []string{a.tok.alice, a.tok.bob} { // mirror both users
		a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records?perPage=1", token: tok})
	}
	coll := a.createCollection(t, a.tok.admin, map[string]any{"name": "notes", "fields": []any{
		field("title", "text"), field("n", "number"),
		field("owner", "relation", "collectionId", "users", "maxSelect", 1),
		field("tags", "select", "values", []string{"x", "y"}, "maxSelect", 2),
	}})
	var ids []string
	for _, r := range []map[string]any{
		{"title": "a", "n": 1, "owner": usersID, "tags": []string{"x"}},
		{"title": "b", "n": 3, "owner": bobID, "tags": []string{"y"}},
		{"title": "c", "n": 0, "owner": "", "tags": []string{}},
	} {
		ids = append(ids, str(t, a.createRecord(t, a.tok.admin, "notes", r), "id"))
	}
	ids = append(ids, "missing0000000")
	who := []struct{ name, tok string }{{"admin", a.tok.admin}, {"alice", a.tok.alice}, {"bob", a.tok.bob}, {"guest", ""}}
	for _, pr := range prefetchRules {
		a.must(t, 200, apiRequest{method: "PATCH", path: "/v1/collections/" + str(t, coll, "id"), token: a.tok.admin,
			body: map[string]any{"listRule": pr.rule, "viewRule": pr.rule}})
		for _, w := range who {
			for _, id := range ids {
				name := fmt.Sprintf("rule %v, %s, %s", pr.rule, w.name, id)
				list := a.do(t, apiRequest{method: "GET", token: w.tok,
					path: "/v1/collections/notes/records?filter=" + url.QueryEscape(`id = "`+id+`"`)})
				for round := range 2 {
					view := a.do(t, apiRequest{method: "GET", path: "/v1/collections/notes/records/" + id, token: w.tok})
					switch {
					case list.Code == 403:
						if view.Code != 403 {
							t.Errorf("%s (view %d): status %d, list 403", name, round, view.Code)
						}
					case list.Code != 200:
						t.Fatalf("%s: list %d %s", name, list.Code, list.Raw)
					case len(list.JSON.(map[string]any)["items"].([]any)) == 0:
						if view.Code != 404 {
							t.Errorf("%s (view %d): status %d %s, list found nothing", name, round, view.Code, view.Raw)
						}
					default:
						item, _ := json.Marshal(list.JSON.(map[string]any)["items"].([]any)[0])
						got, _ := json.Marshal(view.JSON)
						if view.Code != 200 || string(got) != string(item) {
							t.Errorf("%s (view %d): %d %s, list has %s", name, round, view.Code, got, item)
						}
					}
				}
			}
		}
	}
}

func TestViewMatchesList(t *testing.T) {
	checkViewMatchesList(t, newAPI(t))
}

func TestViewMatchesListPostgres(t *testing.T) {
	for _, mode := range pgModes {
		t.Run(mode.name, func(t *testing.T) {
			a, _, _ := pgHarness(t, mode.mode)
			checkViewMatchesList(t, a)
		})
	}
}

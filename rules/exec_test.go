package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hanzoai/base/filter"
)

var (
	guest  = &Request{Method: "GET"}
	alice  = &Request{Method: "GET", Auth: &Auth{ID: "u1", CollectionID: "pbc_users", CollectionName: "users"}}
	claims = &Request{Method: "GET", Auth: &Auth{ID: "u1", CollectionID: "pbc_users", CollectionName: "users", Claims: map[string]any{
		"role":    "admin",
		"roles":   []any{"editor", "viewer"},
		"orgs":    []any{map[string]any{"org": "acme", "role": "owner"}, map[string]any{"org": "beta", "role": "member"}},
		"nested":  map[string]any{"a": map[string]any{"b": 1.0}},
		"isAdmin": false,
		"email":   "claim@x.com",
	}}}
	bodyReq = &Request{Method: "PATCH", Context: "default", Auth: alice.Auth,
		Body: map[string]any{
			"title": "Hello World", "views": "10", "tags": []any{"a", "z"},
			"author": "u2", "editors": []string{"u1", "u3"}, "data": map[string]any{"x": map[string]any{"y": "z"}},
		},
		Query:   map[string]string{"q": "x"},
		Headers: map[string]string{"x_token": "t"},
	}
	rule = Options{AllowHidden: true}
	user = Options{EnforceRelatedRules: true}
	su   = Options{Superuser: true, EnforceRelatedRules: true}
)

type execCase struct {
	filter string
	req    *Request
	opt    Options
	want   string // space separated ids
}

func runExec(t *testing.T, coll string, cases []execCase) {
	t.Helper()
	schema := newSchema()
	db := openDB(t, schema)
	c := newCompiler(schema)
	for _, tt := range cases {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := filter.Parse(tt.filter)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			req := tt.req
			if req == nil {
				req = guest
			}
			opt := tt.opt
			if opt == (Options{}) {
				opt = rule
			}
			where, args, err := c.Where(schema.Collection(coll), "t", e, req, opt)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got := strings.Join(queryIDs(t, db, coll, where, "", args), " ")
			if got != tt.want {
				t.Errorf("got [%s], want [%s]\nsql: %s\nargs: %v", got, tt.want, where, args)
			}
		})
	}
}

func TestExecOperators(t *testing.T) {
	runExec(t, "posts", []execCase{
		{filter: `title = "Hello World"`, want: "p1"},
		{filter: `"Hello World" = title`, want: "p1"},
		{filter: `title = ""`, want: "p3"},
		{filter: `title = null`, want: "p3"},
		{filter: `null = title`, want: "p3"},
		{filter: `title != ""`, want: "p1 p2 p4"},
		{filter: `title != null`, want: "p1 p2 p4"},
		{filter: `title != "Hello World"`, want: "p2 p3 p4"},
		{filter: `"" = ""`, want: "p1 p2 p3 p4"},
		{filter: `null != ""`, want: ""},
		{filter: `title = author`, want: "p3"},
		{filter: `views > 5`, want: "p1 p4"},
		{filter: `views >= 5`, want: "p1 p2 p4"},
		{filter: `views < 10`, want: "p2 p3"},
		{filter: `views <= 0`, want: "p3"},
		{filter: `views = 10.0`, want: "p1"},
		{filter: `views ?> 15`, want: "p4"},
		{filter: `published = true`, want: "p1"},
		{filter: `published = false`, want: "p2 p3 p4"},
		{filter: `published != true`, want: "p2 p3 p4"},
		{filter: `created > "2024-01-01 00:00:00.000Z"`, want: "p1 p2 p3"},
		// LIKE: wrapping, raw patterns, escaping, case-insensitivity.
		{filter: `title ~ "world"`, want: "p1"},
		{filter: `title ?~ "WORLD"`, want: "p1"},
		{filter: `title !~ "world"`, want: "p2 p3 p4"},
		{filter: `title ?!~ "world"`, want: "p2 p3 p4"},
		{filter: `title ~ "100%"`, want: "p2"},
		{filter: `title ~ "%World"`, want: "p1"},
		{filter: `title ~ "0\%"`, want: "p2"},
		{filter: `title ~ "0%"`, want: ""},
		{filter: `title ~ "_"`, want: "p2"},
		{filter: `title ~ "k\\s"`, want: "p4"},
		{filter: `title ~ "\\"`, want: "p4"},
		{filter: `title ~ 100`, want: "p2"},
		{filter: `"Hello World, again" ~ title`, want: "p1 p3"},
		{filter: `title:lower = "hello world"`, want: "p1"},
		{filter: `title:lower ~ "hello"`, want: "p1"},
		// Joins and precedence.
		{filter: `id = "p1" || id = "p2" && views > 5`, want: "p1"},
		{filter: `(id = "p1" || id = "p2") && views >= 5`, want: "p1 p2"},
		{filter: `id = "p3" || (id = "p2" && views = 5) || id = "p4"`, want: "p2 p3 p4"},
		// JSON and geoPoint paths.
		{filter: `data.k = "v"`, want: "p1"},
		{filter: `data.a.b.1 = 2`, want: "p1"},
		{filter: `data.a.b.1 > 1`, want: "p1"},
		{filter: `data.k = null`, want: "p3 p4"},
		{filter: `data.k != null`, want: "p1 p2"},
		{filter: `data = null`, want: "p3"},
		{filter: `data.missing = null`, want: "p1 p2 p3 p4"},
		{filter: `data.k:lower = "V"`, want: ""},
		{filter: `data.k:lower = "v"`, want: "p1"},
		{filter: `location.lat > 42`, want: "p1 p4"},
		{filter: `geoDistance(location.lon, location.lat, 23.32, 42.69) < 5`, want: "p1 p4"},
		{filter: `geoDistance(location.lon, location.lat, 23.32, 42.69) < 0.001`, want: "p1"},
		{filter: `geoDistance(location.lon, location.lat, location.lon, location.lat) = 0`, want: "p1 p2 p3 p4"},
		// strftime.
		{filter: `strftime("%Y", created) = "2024"`, want: "p1 p2"},
		{filter: `strftime("%Y-%m", created, "+1 month") = "2024-02"`, want: "p1"},
		{filter: `strftime("%Y", data) = ""`, want: "p1 p2 p3 p4"},
		// Datetime macros (now = 2024-07-15 12:30:45Z).
		{filter: `created > @yearStart`, want: "p1 p2 p3"},
		{filter: `created < @now`, want: "p1 p2 p4"},
		{filter: `created <= @yearEnd && created >= @monthStart`, want: ""},
		{filter: `created >= @yesterday`, want: "p3"},
		{filter: `@year = 2024 && @month = 7 && @day = 15 && @hour = 12 && @minute = 30 && @second = 45 && @weekday = 1`, want: "p1 p2 p3 p4"},
		{filter: `@todayStart = "2024-07-15 00:00:00.000Z" && @todayEnd = "2024-07-15 23:59:59.999Z"`, want: "p1 p2 p3 p4"},
		{filter: `@monthEnd = "2024-07-31 23:59:59.999Z" && @tomorrow = "2024-07-16 12:30:45.000Z"`, want: "p1 p2 p3 p4"},
	})
}

func TestExecRelations(t *testing.T) {
	runExec(t, "posts", []execCase{
		{filter: `author = "u1"`, want: "p1"},
		{filter: `author.id = "u1"`, want: "p1"},
		{filter: `author.name = "Bob"`, want: "p2"},
		{filter: `author.name = ""`, want: "p3"},
		{filter: `author.name != "Bob"`, want: "p1 p3 p4"},
		{filter: `author.team.name = "Red"`, want: "p1"},
		{filter: `author.team.id = "t2"`, want: "p2"},
		{filter: `author.name:lower ~ "CAR"`, want: "p4"},
		// Raw multiple fields compare as JSON text.
		{filter: `editors ~ "u2"`, want: "p1 p2"},
		{filter: `tags = '["b"]'`, want: "p2"},
		{filter: `tags ?= '["b"]'`, want: "p2"},
		{filter: `tags ?= "b"`, want: ""},
		{filter: `tags != "b"`, want: "p1 p2 p3 p4"},
		{filter: `tags ~ "a"`, want: "p1 p4"},
		// Any vs all through multiple relations.
		{filter: `editors.id ?= "u2"`, want: "p1 p2"},
		{filter: `editors.id = "u2"`, want: "p2"},
		{filter: `editors.name ?= "Alice"`, want: "p1 p4"},
		{filter: `editors.name = "Alice"`, want: ""},
		{filter: `editors.name != "Bob"`, want: "p3 p4"},
		{filter: `editors.name ?!= "Bob"`, want: "p1 p3 p4"},
		{filter: `editors.name ?~ "o"`, want: "p1 p2 p4"},
		{filter: `editors.name ~ "o"`, want: "p2"},
		{filter: `editors.team.name ?= "Blue"`, want: "p1 p2"},
		// As in PocketBase, an empty multi-valued path is one NULL row, and
		// NULL equals "" (p3 has no editors and no author).
		{filter: `editors.id ?= author`, want: "p1 p2 p3 p4"},
		{filter: `editors.id = author`, want: "p2 p3"},
		// Same path in two comparisons: one shared join (same editor).
		{filter: `editors.name ?= "Alice" && editors.team.name ?= "Blue"`, want: ""},
		{filter: `editors.name ?= "Bob" && editors.team.name ?= "Blue"`, want: "p1 p2"},
		// Two multi-valued operands: all pairs.
		{filter: `editors.id ?= comments_via_post.user`, want: "p1 p2 p3"},
		{filter: `editors.id = comments_via_post.user`, want: "p2 p3"},
		{filter: `editors.id ?= comments_via_post.user && comments_via_post.id != ""`, want: "p1 p2"},
		// :each / :length.
		{filter: `editors:length = 2`, want: "p1 p4"},
		{filter: `editors:length = 0`, want: "p3"},
		{filter: `tags:length > 1`, want: "p1"},
		{filter: `category:length = 1`, want: "p1 p2 p4"},
		{filter: `tags:each ?= "a"`, want: "p1 p4"},
		{filter: `tags:each = "b"`, want: "p2"},
		{filter: `tags:each != "a"`, want: "p2 p3"},
		{filter: `tags:each ?~ "B"`, want: "p1 p2"},
		{filter: `tags:each ?= category`, want: "p3"},
		{filter: `category:each = "news"`, want: "p1 p4"},
		{filter: `author.team:length = 1`, want: "p1 p2"},
		// Back-relations.
		{filter: `comments_via_post.text ?= "nice"`, want: "p1 p2"},
		{filter: `comments_via_post.text = "nice"`, want: "p2"},
		{filter: `comments_via_post.user.name ?= "Bob"`, want: "p1 p2"},
		{filter: `comments_via_post.user.name = "Bob"`, want: "p2"},
		{filter: `author.profiles_via_user.bio = "hi"`, want: "p1"},
		{filter: `author.profiles_via_user.bio = ""`, want: "p3 p4"},
		// @collection: shared per alias, independent across aliases.
		{filter: `@collection.comments.post ?= id && @collection.comments.user ?= "u1"`, want: "p1"},
		{filter: `@collection.comments.post ?= id && @collection.comments.user ?= "u2"`, want: "p1 p2"},
		{filter: `@collection.comments:a.post ?= id && @collection.comments:b.user ?= "u1"`, want: "p1 p2"},
		{filter: `@collection.comments.post ?= id && @collection.comments.text = "nice"`, want: ""},
		{filter: `@collection.comments.text ?= "meh"`, want: "p1 p2 p3 p4"},
		{filter: `@collection.pbc_comments.post.title ?= title`, want: "p1 p2"},
		{filter: `@collection.users.email ?= "b@x.com"`, want: "p1 p2 p3 p4"},
		// Email visibility of auth collections, rules see everything.
		{filter: `author.email = "b@x.com"`, want: "p2"},
		{filter: `author.email = "b@x.com"`, opt: user, want: ""},
		{filter: `author.email = "a@x.com"`, opt: user, want: ""},
		{filter: `editors.email ?= "b@x.com"`, opt: su, want: "p1 p2"},
		// Related list rules (teams: name = "Red") for user filters.
		{filter: `author.team.name = "Blue"`, want: "p2"},
		{filter: `author.team.name = "Blue"`, opt: su, want: "p2"},
		{filter: `author.team.name = "Red"`, opt: Options{EnforceRelatedRules: true}, want: ""},
		// comments' listRule (@request.auth.id != "") restricts the joined rows.
		{filter: `comments_via_post.text ?= "meh"`, opt: user, want: ""},
		{filter: `comments_via_post.text ?= "meh"`, req: alice, opt: user, want: "p1"},
		{filter: `comments_via_post.text ?= "meh"`, want: "p1"},
	})
}

func TestExecUsersEmail(t *testing.T) {
	runExec(t, "users", []execCase{
		{filter: `email = "b@x.com"`, want: "u2"},
		{filter: `email = "b@x.com"`, opt: user, want: ""},
		{filter: `email ~ "x.com"`, opt: user, want: "u1 u3"},
		{filter: `email ~ "x.com"`, opt: su, want: "u1 u2 u3"},
		{filter: `name != ""`, opt: user, want: "u1 u2 u3"},
		// posts' listRule is "": joining it needs no extra condition.
		{filter: `posts_via_author.title ?= "100% sure_thing"`, opt: user, want: "u2"},
		// comments' listRule needs an authenticated caller.
		{filter: `comments_via_user.text ?= "meh"`, opt: user, want: ""},
		{filter: `comments_via_user.text ?= "meh"`, req: alice, opt: user, want: "u2"},
		// Filtering through users applies users' listRule (id = @request.auth.id).
		{filter: `comments_via_user.user.name ?= "Bob"`, req: alice, opt: user, want: ""},
		{filter: `comments_via_user.user.name ?= "Alice"`, req: alice, opt: user, want: "u1"},
	})
}

func TestExecRequest(t *testing.T) {
	all := "p1 p2 p3 p4"
	runExec(t, "posts", []execCase{
		// Guests see NULL everywhere.
		{filter: `@request.auth.id != ""`, want: ""},
		{filter: `@request.auth.id = ""`, want: all},
		{filter: `@request.auth.name = null`, want: all},
		{filter: `@request.auth.id:isset = false`, want: all},
		{filter: `author = @request.auth.id`, want: "p3"},
		{filter: `editors.id ?= @request.auth.id`, want: "p3"},
		// Authenticated.
		{filter: `@request.auth.id != ""`, req: alice, want: all},
		{filter: `author = @request.auth.id`, req: alice, want: "p1"},
		{filter: `editors.id ?= @request.auth.id`, req: alice, want: "p1 p4"},
		{filter: `editors ~ @request.auth.id`, req: alice, want: "p1 p4"},
		{filter: `@request.auth.collectionName = "users" && @request.auth.collectionId = "pbc_users"`, req: alice, want: all},
		// Fields of the auth record that are not claims.
		{filter: `@request.auth.name = author.name`, req: alice, want: "p1"},
		{filter: `@request.auth.team.name = "Red"`, req: alice, want: all},
		{filter: `@request.auth.sub = "s1"`, req: alice, want: all},
		{filter: `@request.auth.email = "a@x.com"`, req: alice, want: all},
		{filter: `@request.auth.nope = null`, req: alice, want: all},
		{filter: `@request.auth.name:isset = true`, req: alice, want: all},
		// Claims, including arrays (multi-valued) and nested paths.
		{filter: `@request.auth.role = "admin"`, req: claims, want: all},
		{filter: `@request.auth.email = "claim@x.com"`, req: claims, want: all},
		{filter: `@request.auth.isAdmin = false`, req: claims, want: all},
		{filter: `@request.auth.nested.a.b = 1`, req: claims, want: all},
		{filter: `@request.auth.roles ?= "editor"`, req: claims, want: all},
		{filter: `@request.auth.roles ?= "editor" && @request.auth.roles ?= "viewer"`, req: claims, want: all},
		{filter: `@request.auth.roles = "editor"`, req: claims, want: ""},
		{filter: `@request.auth.roles:each ?= "viewer"`, req: claims, want: all},
		{filter: `@request.auth.roles:length = 2`, req: claims, want: all},
		{filter: `@request.auth.roles != "admin"`, req: claims, want: all},
		{filter: `@request.auth.orgs.org ?= "beta"`, req: claims, want: all},
		{filter: `@request.auth.orgs.0.role = "owner"`, req: claims, want: all},
		{filter: `@request.auth.orgs.role ?= "member" && @request.auth.orgs.org ?= "acme"`, req: claims, want: all},
		{filter: `@request.auth.role:isset = true && @request.auth.missing:isset = false`, req: claims, want: all},
		{filter: `category ?= @request.auth.roles`, req: claims, want: ""},
		// Body.
		{filter: `@request.body.title = title`, req: bodyReq, want: "p1"},
		{filter: `@request.body.title:isset = true && @request.body.nope:isset = false`, req: bodyReq, want: all},
		{filter: `@request.body.title:changed = true`, req: bodyReq, want: "p2 p3 p4"},
		{filter: `@request.body.title:changed = false`, req: bodyReq, want: "p1"},
		{filter: `@request.body.views:changed = false`, req: bodyReq, want: "p1"},
		{filter: `@request.body.category:changed = true`, req: bodyReq, want: ""},
		{filter: `@request.body.views = 10`, req: bodyReq, want: all},
		{filter: `@request.body.title:lower = "hello world"`, req: bodyReq, want: all},
		{filter: `@request.body.tags:each ?= "a"`, req: bodyReq, want: all},
		{filter: `@request.body.tags:each != "admin"`, req: bodyReq, want: all},
		{filter: `@request.body.tags:each = "a"`, req: bodyReq, want: ""},
		{filter: `@request.body.tags:length = 2`, req: bodyReq, want: all},
		{filter: `@request.body.tags:each ?= tags:each`, req: bodyReq, want: "p1 p4"},
		{filter: `@request.body.tags = '["a","z"]'`, req: bodyReq, want: all},
		{filter: `@request.body.author.name = "Bob"`, req: bodyReq, want: all},
		{filter: `@request.body.author.nope = null`, req: bodyReq, want: all},
		{filter: `@request.body.editors.name ?= "Carol"`, req: bodyReq, want: all},
		{filter: `@request.body.editors.name = "Carol"`, req: bodyReq, want: ""},
		{filter: `@request.body.editors.id ?= author`, req: bodyReq, want: "p1 p4"},
		{filter: `@request.body.data.x.y = "z"`, req: bodyReq, want: all},
		{filter: `@request.body.title:changed = true`, req: alice, want: ""},
		// Query, headers, method, context.
		{filter: `@request.query.q = "x" && @request.query.nope = null`, req: bodyReq, want: all},
		{filter: `@request.headers.x_token = "t"`, req: bodyReq, want: all},
		{filter: `@request.headers.x_token:isset = true`, req: guest, want: ""},
		{filter: `@request.method = "PATCH" && @request.context = "default"`, req: bodyReq, want: all},
		{filter: `@request.method = "GET"`, req: bodyReq, want: ""},
		{filter: `@request.context = "realtime"`, req: &Request{Context: "realtime"}, want: all},
	})
}

func TestCompileErrors(t *testing.T) {
	schema := newSchema()
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	tests := []struct {
		filter string
		opt    Options
		want   string
	}{
		{`nope = 1`, rule, "unknown field"},
		{`title.x = 1`, rule, "not a relation"},
		{`author.nope = 1`, rule, "unknown field"},
		{`secret = "s"`, user, "not filterable"},
		{`author.sub = "s"`, user, "not filterable"},
		{`vault.code = "x"`, user, "only superusers"},
		{`title:each = 1`, rule, ":each is not supported"},
		{`title:length = 1`, rule, ":length is not supported"},
		{`data.a:each = 1`, rule, "not supported on JSON paths"},
		{`@collection.nope.x = 1`, rule, "unknown collection"},
		{`comments_via_post = 1`, rule, "must be followed by a field"},
		{`nope_via_post.x = 1`, rule, "unknown collection"},
		{`comments_via_text.x = 1`, rule, "invalid back-relation"},
		{`users_via_team.name = 1`, rule, "does not point to"},
		{`true:lower = 1`, rule, "invalid modifier"},
		{`@request.body.nope:changed = true`, rule, ":changed needs a field"},
		{`author.team.id.x = 1`, rule, "not a relation"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := filter.Parse(tt.filter)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, _, err = c.Where(posts, "t", e, alice, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Superusers may filter by hidden fields and through locked collections.
	for _, f := range []string{`secret = "s"`, `vault.code = "x"`} {
		e, _ := filter.Parse(f)
		if _, _, err := c.Where(posts, "t", e, alice, su); err != nil {
			t.Errorf("superuser %s: %v", f, err)
		}
	}
}

func TestMaxRelationHops(t *testing.T) {
	schema := newSchema()
	c := newCompiler(schema)
	users := schema.Collection("users")
	users.Fields = append(users.Fields, rel("friend", "pbc_users", 1))
	db := openDB(t, schema)
	ok := "friend.friend.friend.friend.friend.friend.name = 1"
	tooDeep := "friend.friend.friend.friend.friend.friend.friend.name = 1"
	e, _ := filter.Parse(ok)
	w, args, err := c.Where(users, "t", e, nil, rule)
	if err != nil {
		t.Fatalf("6 hops: %v", err)
	}
	queryIDs(t, db, "users", w, "", args)
	e, _ = filter.Parse(tooDeep)
	if _, _, err := c.Where(users, "t", e, nil, rule); err == nil || !strings.Contains(err.Error(), "too many nested relations") {
		t.Fatalf("7 hops: %v", err)
	}
}

func TestOrderBy(t *testing.T) {
	schema := newSchema()
	db := openDB(t, schema)
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	tests := []struct {
		sort string
		opt  Options
		want string
	}{
		{`-views`, user, "p4 p1 p2 p3"},
		{`title`, user, "p3 p2 p1 p4"},
		{`author.name`, Options{}, "p3 p1 p2 p4"},
		{`-author.name:lower,id`, Options{}, "p4 p2 p1 p3"},
		// users' listRule (id = @request.auth.id) hides every author from a guest.
		{`author.name,id`, user, "p1 p2 p3 p4"},
		{`category,-created`, user, "p3 p2 p1 p4"},
		{`@rowid`, user, "p1 p2 p3 p4"},
		{`-@rowid`, user, "p4 p3 p2 p1"},
		{`-data.k,id`, user, "p2 p1 p3 p4"},
		{`geoDistance(location.lon, location.lat, 23.32, 42.69),id`, user, "p1 p4 p2 p3"},
		{`secret,id`, su, "p2 p3 p4 p1"},
		{`-editors:length,id`, user, "p1 p4 p2 p3"},
		{`author.email,id`, Options{}, "p2 p3 p1 p4"},
		{`author.email,id`, rule, "p3 p1 p2 p4"},
	}
	for _, tt := range tests {
		t.Run(tt.sort, func(t *testing.T) {
			items, err := filter.ParseSort(tt.sort)
			if err != nil {
				t.Fatal(err)
			}
			order, args, err := c.OrderBy(posts, "t", items, guest, tt.opt)
			if err != nil {
				t.Fatalf("OrderBy: %v", err)
			}
			if got := strings.Join(queryIDs(t, db, "posts", "1=1", order, args), " "); got != tt.want {
				t.Errorf("got [%s], want [%s]\norder: %s", got, tt.want, order)
			}
		})
	}
	items, _ := filter.ParseSort("@random")
	order, _, err := c.OrderBy(posts, "t", items, guest, user)
	if err != nil || len(queryIDs(t, db, "posts", "1=1", order, nil)) != 4 {
		t.Fatalf("@random: %v", err)
	}
	for _, bad := range []struct{ sort, want string }{
		{`editors.name`, "multi-valued"},
		{`secret`, "not filterable"},
		{`nope`, "unknown field"},
		{`tags:each`, "multi-valued"},
	} {
		items, _ := filter.ParseSort(bad.sort)
		if _, _, err := c.OrderBy(posts, "t", items, guest, user); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want %q", bad.sort, err, bad.want)
		}
	}
}

// TestCreateRuleOnWouldBeRecord evaluates a create rule against a row
// supplied as a subquery, as the records layer does before inserting.
func TestCreateRuleOnWouldBeRecord(t *testing.T) {
	schema := newSchema()
	db := openDB(t, schema)
	c := newCompiler(schema)
	e, err := filter.Parse(`@request.auth.id != "" && author = @request.auth.id && (tags:each ?= "a" || author.team.name = "Red")`)
	if err != nil {
		t.Fatal(err)
	}
	where, args, err := c.Where(schema.Collection("posts"), "t", e, alice, rule)
	if err != nil {
		t.Fatal(err)
	}
	check := func(author, tags string, want bool) {
		t.Helper()
		q := `SELECT COUNT(*) FROM (SELECT ? AS "id", ? AS "author", ? AS "tags") AS "t" WHERE ` + where
		var n int
		if err := db.QueryRow(q, append([]any{"new", author, tags}, args...)...).Scan(&n); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		if (n == 1) != want {
			t.Errorf("author=%s tags=%s: got %v, want %v", author, tags, n == 1, want)
		}
	}
	check("u1", `["b"]`, true) // alice is on team Red
	check("u2", `["a"]`, false)
	check("u1", `[]`, true)
}

func TestWhereEdgeCases(t *testing.T) {
	schema := newSchema()
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	if w, args, err := c.Where(posts, "t", nil, nil, rule); err != nil || w != "1=1" || args != nil {
		t.Errorf("nil expr: %q %v %v", w, args, err)
	}
	for _, e := range []filter.Expr{(*filter.Group)(nil), &filter.Group{}, (*filter.Comparison)(nil),
		&filter.Comparison{Op: filter.Eq}} {
		if _, _, err := c.Where(posts, "t", e, nil, rule); err == nil {
			t.Errorf("%#v: expected an error", e)
		}
	}
	if _, _, err := (&Compiler{}).Where(posts, "t", &filter.Group{}, nil, rule); err == nil {
		t.Error("compiler without dialect: expected an error")
	}
	if o, args, err := c.OrderBy(posts, "t", nil, nil, rule); o != "" || args != nil || err != nil {
		t.Errorf("empty sort: %q %v %v", o, args, err)
	}
}

func TestTooManyJoins(t *testing.T) {
	schema := newSchema()
	db := openDB(t, schema)
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	build := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("@collection.comments:a%d.text ?= \"nice\"", i)
		}
		return strings.Join(parts, " && ")
	}
	e, _ := filter.Parse(build(60))
	w, args, err := c.Where(posts, "t", e, nil, rule)
	if err != nil {
		t.Fatalf("60 joins: %v", err)
	}
	queryIDs(t, db, "posts", w, "", args)
	e, _ = filter.Parse(build(61))
	if _, _, err := c.Where(posts, "t", e, nil, rule); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("61 joins: %v", err)
	}
}

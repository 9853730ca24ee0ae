package rules

import (
	"strings"
	"testing"

	"github.com/hanzoai/base/filter"
)

// FuzzCompile parses and compiles random filters and sorts against the test
// schema: it must never panic, and whatever compiles must prepare on SQLite
// with as many placeholders as arguments.
func FuzzCompile(f *testing.F) {
	seeds := []string{
		`title = "x"`, `editors.name ?= "a" && tags:each = "b"`, `comments_via_post.user.name != ""`,
		`@collection.comments:x.post ?= id || @request.auth.roles ?= "a"`, `data.a.0 = null`,
		`geoDistance(location.lon, location.lat, 1, 2) < 3`, `strftime("%Y", created) = "2024"`,
		`@request.body.tags:each ?= tags:each && @request.body.title:changed = true`,
		`author.team.name:lower ~ "r%" && created > @now`, `editors:length = views`,
		`@request.auth.orgs.org ?= "acme" && @request.auth.team.name = "x"`,
		`author.profiles_via_user.bio = author.email`, `-author.name,@random`,
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
	}
	schema := newSchema()
	db := openDB(f, schema)
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	reqs := []*Request{guest, alice, claims, bodyReq}
	opts := []Options{rule, user, su, {}}
	f.Fuzz(func(t *testing.T, s string, sel uint8) {
		req := reqs[int(sel)%len(reqs)]
		opt := opts[int(sel/4)%len(opts)]
		var q string
		var args []any
		if e, err := filter.Parse(s); err == nil {
			w, a, err := c.Where(posts, "t", e, req, opt)
			if err != nil {
				return
			}
			q, args = `SELECT "t"."id" FROM "posts" AS "t" WHERE `+w, a
		} else if items, err := filter.ParseSort(s); err == nil && len(items) > 0 {
			o, a, err := c.OrderBy(posts, "t", items, req, opt)
			if err != nil {
				return
			}
			q, args = `SELECT "t"."id" FROM "posts" AS "t" ORDER BY `+o, a
		} else {
			return
		}
		if n := strings.Count(q, "?"); n != len(args) {
			t.Fatalf("%d placeholders, %d args\n%s", n, len(args), q)
		}
		stmt, err := db.Prepare(q)
		if err != nil {
			t.Fatalf("prepare: %v\ninput: %s\n%s", err, s, q)
		}
		stmt.Close()
	})
}

// BenchmarkCompile compiles a typical list rule AND-ed with a user filter
// and sort, as the records layer does per list request.
func BenchmarkCompile(b *testing.B) {
	schema := newSchema()
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	ruleExpr, err := filter.Parse(`@request.auth.id != "" && (author = @request.auth.id || editors.id ?= @request.auth.id || published = true)`)
	if err != nil {
		b.Fatal(err)
	}
	const userFilter = `title ~ "hello" && author.name != "" && created > @yesterday && tags:each ?= "a"`
	const userSort = `-created,author.name`
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Where(posts, "t", ruleExpr, alice, rule); err != nil {
			b.Fatal(err)
		}
		e, err := filter.Parse(userFilter)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Where(posts, "t", e, alice, user); err != nil {
			b.Fatal(err)
		}
		items, err := filter.ParseSort(userSort)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.OrderBy(posts, "t", items, alice, user); err != nil {
			b.Fatal(err)
		}
	}
}

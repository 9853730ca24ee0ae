package rules

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hanzoai/base/filter"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenCases are compiled against posts (alias "t") and recorded as
// filter, options, SQL and args. Each must also prepare on SQLite.
var goldenCases = []struct {
	name   string
	filter string
	sort   string
	req    *Request
	opt    Options
}{
	{name: "eq_text", filter: `title = "x"`},
	{name: "eq_empty", filter: `title = "" && "" != title && title = null`},
	{name: "eq_columns", filter: `title = category`},
	{name: "both_empty", filter: `"" = null && null != ""`},
	{name: "compare_numbers", filter: `views > 1 && views >= 1.5 && views < -2 && views <= 3`},
	{name: "bool_literals", filter: `published = true || published = false`},
	{name: "like", filter: `title ~ "a_b" && title !~ "50%" && title ~ "x\%" && "abc" ~ title`},
	{name: "precedence", filter: `views = 1 || views = 2 && (title = "3" || title = "4")`},
	{name: "lower", filter: `title:lower = "abc"`},
	{name: "single_relation", filter: `author.name = "Bob" && author.id = "u1"`},
	{name: "nested_single_relation", filter: `author.team.name = "Red"`},
	{name: "multi_relation_any", filter: `editors.id ?= "u1"`},
	{name: "multi_relation_all", filter: `editors.name = "Alice"`},
	{name: "multi_shared_join", filter: `editors.name ?= "Alice" && editors.team.name ?= "Red"`},
	{name: "each_length", filter: `tags:each ?~ "a" && tags:length > 1`},
	{name: "back_relation", filter: `comments_via_post.text = "nice"`},
	{name: "back_relation_unique", filter: `author.profiles_via_user.bio = "hi"`},
	{name: "collection_aliases", filter: `@collection.comments.post ?= id && @collection.comments:c2.user ?= @request.auth.id`, req: alice},
	{name: "json_paths", filter: `data.a.b.0 = 1 && data = null && location.lat > 1`},
	{name: "geo_distance", filter: `geoDistance(location.lon, location.lat, 23.32, 42.69) < 25`},
	{name: "strftime", filter: `strftime("%Y", created, "start of month") = "2024"`},
	{name: "macros", filter: `created > @todayStart && created < @monthEnd && @weekday = 1`},
	{name: "guest_auth", filter: `@request.auth.id != "" && author = @request.auth.id`, req: guest},
	{name: "auth", filter: `@request.auth.id != "" && author = @request.auth.id`, req: alice},
	{name: "auth_record_field", filter: `@request.auth.team.name = "Red"`, req: alice},
	{name: "auth_claims", filter: `@request.auth.role = "admin" && @request.auth.roles ?= "editor"`, req: claims},
	{name: "body", filter: `@request.body.title:changed = false && @request.body.tags:each != "x" && @request.body.author.name = "Bob"`, req: bodyReq},
	{name: "email_visibility", filter: `author.email = "a@x.com"`, opt: Options{}},
	{name: "related_rule", filter: `author.team.name = "Red"`, opt: Options{EnforceRelatedRules: true}},
	{name: "sort", sort: `-created,author.name:lower,@rowid,@random`},
	{name: "sort_email", sort: `author.email`, opt: Options{}},
}

func TestGolden(t *testing.T) {
	schema := newSchema()
	db := openDB(t, schema)
	c := newCompiler(schema)
	posts := schema.Collection("posts")
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			req, opt := tt.req, tt.opt
			if tt.opt == (Options{}) && tt.name != "email_visibility" && tt.name != "sort_email" {
				opt = rule
			}
			var got strings.Builder
			var sqlText string
			var args []any
			var err error
			if tt.filter != "" {
				got.WriteString("filter: " + tt.filter + "\n")
				var e filter.Expr
				if e, err = filter.Parse(tt.filter); err != nil {
					t.Fatal(err)
				}
				sqlText, args, err = c.Where(posts, "t", e, req, opt)
			} else {
				got.WriteString("sort: " + tt.sort + "\n")
				items, perr := filter.ParseSort(tt.sort)
				if perr != nil {
					t.Fatal(perr)
				}
				sqlText, args, err = c.OrderBy(posts, "t", items, req, opt)
			}
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			optJSON, _ := json.Marshal(opt)
			got.WriteString("options: " + string(optJSON) + "\n")
			got.WriteString("sql: " + sqlText + "\n")
			argsJSON, _ := json.Marshal(args)
			got.WriteString("args: " + string(argsJSON) + "\n")
			if n := strings.Count(sqlText, "?"); n != len(args) {
				t.Errorf("%d placeholders, %d args", n, len(args))
			}
			{
				q := `SELECT "t"."id" FROM "posts" AS "t" WHERE ` + sqlText
				if tt.filter == "" {
					q = `SELECT "t"."id" FROM "posts" AS "t" ORDER BY ` + sqlText
				}
				rows, err := db.Query(q, args...)
				if err != nil {
					t.Fatalf("run: %v\n%s", err, q)
				}
				rows.Close()
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got.String() != string(want) {
				t.Errorf("%s mismatch (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got.String(), want)
			}
		})
	}
}

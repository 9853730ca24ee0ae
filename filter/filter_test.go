package filter

import (
	"encoding/json"
	"strings"
	"testing"
)

// dump renders an AST compactly for comparisons.
func dump(e Expr) string {
	var b strings.Builder
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *Group:
			b.WriteString("(")
			for i, it := range e.Items {
				if i > 0 {
					b.WriteString(" " + string(it.Join) + " ")
				}
				walk(it.Expr)
			}
			b.WriteString(")")
		case *Comparison:
			b.WriteString(dumpOperand(e.Left) + " " + string(e.Op) + " " + dumpOperand(e.Right))
		}
	}
	walk(e)
	return b.String()
}

func dumpOperand(o Operand) string {
	switch o := o.(type) {
	case *Identifier:
		s := "id" + mustJSON(o.Path)
		if o.Alias != "" {
			s += "@" + o.Alias
		}
		if o.Modifier != "" {
			s += ":" + string(o.Modifier)
		}
		return s
	case *Text:
		return "text" + mustJSON(o.Value)
	case *Number:
		return "num" + mustJSON(o.Value)
	case *Func:
		args := make([]string, len(o.Args))
		for i, a := range o.Args {
			args[i] = dumpOperand(a)
		}
		return o.Name + "(" + strings.Join(args, ", ") + ")"
	}
	return "?"
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`a = 1`, `(id["a"] = num1)`},
		{`a = "x" && b != 'y'`, `(id["a"] = text"x" && id["b"] != text"y")`},
		{`a ?= 1 || (b ~ "x%" && c !~ "y")`, `(id["a"] ?= num1 || (id["b"] ~ text"x%" && id["c"] !~ text"y"))`},
		{`author.name = "x" // comment`, `(id["author","name"] = text"x")`},
		{`tags:each ?~ "a"`, `(id["tags"]:each ?~ text"a")`},
		{`tags:length > 2`, `(id["tags"]:length > num2)`},
		{`title:lower = "abc"`, `(id["title"]:lower = text"abc")`},
		{`@request.body.role:isset = false`, `(id["@request","body","role"]:isset = id["false"])`},
		{`@request.body.title:changed = true`, `(id["@request","body","title"]:changed = id["true"])`},
		{`@request.auth.id != ""`, `(id["@request","auth","id"] != text"")`},
		{`@collection.users:u.email = @request.auth.email`, `(id["@collection","users","email"]@u = id["@request","auth","email"])`},
		{`created > @now`, `(id["created"] > id["@now"])`},
		{`data.a.b.0 = null`, `(id["data","a","b","0"] = id["null"])`},
		{`geoDistance(address.lon, address.lat, 23.32, -42.69) < 25`, `(geoDistance(id["address","lon"], id["address","lat"], num23.32, num-42.69) < num25)`},
		{`strftime('%Y', created) = "2024"`, `(strftime(text"%Y", id["created"]) = text"2024")`},
		{`strftime('%Y', strftime('%Y-%m-%d', created)) = "2024"`, `(strftime(text"%Y", strftime(text"%Y-%m-%d", id["created"])) = text"2024")`},
		{`"a\_b" ~ title`, `(text"a\\_b" ~ id["title"])`},
		{`(a = 1) && ((b = 2))`, `((id["a"] = num1) && ((id["b"] = num2)))`},
		{`comments_via_post.text ?= "x"`, `(id["comments_via_post","text"] ?= text"x")`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := dump(e); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{``, "empty"},
		{`   // only a comment`, "empty"},
		{`()`, "empty"},
		{`a`, "incomplete"},
		{`a =`, "incomplete"},
		{`a = 1 &&`, "incomplete"},
		{`a == 1`, "invalid sign operator"},
		{`a = "x`, "invalid quoted text"},
		{`a:foo = 1`, "unknown modifier"},
		{`a:isset = 1`, "only allowed on @request"},
		{`@request.auth.id:changed = 1`, "only allowed on @request.body"},
		{`@collection.x:a = 1`, "unknown modifier"},
		{`(a = 1) && () && b = 2`, "empty"},
		{`@collection.x = 1`, "incomplete"},
		{`@request.foo = 1`, "unknown request field"},
		{`@request.context.x = 1`, "invalid identifier"},
		{`@request.auth = 1`, "incomplete"},
		{`@unknown = 1`, "unknown identifier"},
		{`@now:lower = 1`, "invalid identifier"},
		{`a:lower.b = 1`, "invalid identifier"},
		{`#a = 1`, "invalid identifier"},
		{`foo(a) = 1`, "unknown function"},
		{`geoDistance(1, 2, 3) = 1`, "4 arguments"},
		{`geoDistance(1, 2, 3, "x") = 1`, "numbers or identifiers"},
		{`strftime(created) = 1`, "text literals"},
		{`strftime("%Y", strftime("%Y", strftime("%Y", a))) = 1`, "nested"},
		{`a = ` + strings.Repeat("1", MaxLength), "too long"},
		{strings.Repeat("a = 1 && ", MaxComparisons) + "a = 1", "too many filter expressions"},
		{`a` + strings.Repeat(".a", MaxPathSegments) + ` = 1`, "too many segments"},
		{`a = 1e5`, ""},
	}
	for _, tt := range tests {
		t.Run(clip(tt.in), func(t *testing.T) {
			_, err := Parse(tt.in)
			if tt.wantErr == "" {
				if err == nil {
					t.Fatalf("expected an error")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseLimitsAccepted(t *testing.T) {
	in := strings.Repeat("a = 1 && ", MaxComparisons-1) + "a = 1"
	if _, err := Parse(in); err != nil {
		t.Fatalf("%d comparisons: %v", MaxComparisons, err)
	}
	if _, err := Parse(`strftime("%Y", strftime("%Y", a)) = 1`); err != nil {
		t.Fatalf("nesting 2: %v", err)
	}
}

func TestParseSort(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{``, ``},
		{`title`, `+id["title"]`},
		{`-created,+title, id`, `-id["created"] +id["title"] +id["id"]`},
		{`@random,-@rowid`, `+id["@random"] -id["@rowid"]`},
		{`author.name:lower`, `+id["author","name"]:lower`},
		{`-geoDistance(address.lon, address.lat, 1, 2),title`, `-geoDistance(id["address","lon"], id["address","lat"], num1, num2) +id["title"]`},
		{`a,,b,`, `+id["a"] +id["b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			items, err := ParseSort(tt.in)
			if err != nil {
				t.Fatalf("ParseSort: %v", err)
			}
			var parts []string
			for _, it := range items {
				sign := "+"
				if it.Desc {
					sign = "-"
				}
				parts = append(parts, sign+dumpOperand(it.Expr))
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	specials, _ := ParseSort("@random,@rowid,title")
	if specials[0].Special() != SortRandom || specials[1].Special() != SortRowID || specials[2].Special() != "" {
		t.Errorf("Special() wrong: %+v", specials)
	}
}

func TestParseSortErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{`a b`, "invalid sort item"},
		{`"a"`, "invalid sort item"},
		{`a:foo`, "unknown modifier"},
		{`@request.body.a:isset`, "not allowed in sort"},
		{strings.Repeat("a,", MaxSortItems) + "a", "too many sort items"},
		{strings.Repeat("a", MaxSortItemLength+1), "too long"},
		{`-`, "invalid sort item"},
		{`a = 1`, "invalid sort item"},
		{`@nope`, "unknown identifier"},
	}
	for _, tt := range tests {
		t.Run(clip(tt.in), func(t *testing.T) {
			_, err := ParseSort(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestOp(t *testing.T) {
	if !AnyLike.Any() || Like.Any() || AnyNotLike.Plain() != NotLike || !AnyGte.Valid() || Op("==").Valid() {
		t.Fatal("Op helpers wrong")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`a = 1`, `a = "x" && (b != 'y' || c ~ "%z")`, `tags:each ?= "a"`,
		`@request.auth.id != "" && owner = @request.auth.id`,
		`@collection.users:u.email ?= @request.body.email:lower`,
		`geoDistance(a.lon, a.lat, 1.5, -2) < 10`, `strftime("%Y", created, "start of month") = "2024"`,
		`((a = 1)) // c`, `x ?!~ 'a\'b'`, `data.a.0 = null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if e != nil {
				t.Fatal("non-nil expr with error")
			}
			return
		}
		n := 0
		Walk(e, func(c *Comparison) {
			n++
			if c.Left == nil || c.Right == nil || !c.Op.Valid() {
				t.Fatalf("bad comparison %+v", c)
			}
		})
		if n == 0 || n > MaxComparisons {
			t.Fatalf("%d comparisons", n)
		}
	})
}

func FuzzParseSort(f *testing.F) {
	for _, s := range []string{`-created,title`, `@random`, `a.b:lower,-@rowid`, `geoDistance(a.lon,a.lat,1,2)`, `a,"b,c"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseSort(s)
		if err != nil {
			return
		}
		if len(items) > MaxSortItems {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if it.Expr == nil {
				t.Fatal("nil sort expr")
			}
		}
	})
}

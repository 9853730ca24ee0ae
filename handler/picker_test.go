package handler

import (
	"bytes"
	"encoding/json"
	"testing"
)

// decodeGeneric decodes JSON text into generic values with json.Number.
func decodeGeneric(tb testing.TB, s string) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// canonicalJSON re-encodes v (map keys sorted) for comparisons.
func canonicalJSON(tb testing.TB, v any) string {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return string(bytes.TrimSpace(buf.Bytes()))
}

const pickRecord = `{
	"id": "r1",
	"collectionName": "posts",
	"title": "<p>Hello <b>big</b> world</p>",
	"views": 7,
	"tags": ["a", "b"],
	"comments": [{"id": "c1", "text": "x"}, {"id": "c2", "text": "y"}],
	"expand": {
		"author": {"id": "u1", "name": "Ann", "email": "a@x"},
		"tags": [{"id": "t1", "name": "go"}, {"id": "t2", "name": "db"}]
	}
}`

func TestPickFields(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		fields string
		want   string
	}{
		{"plain keys", pickRecord, "id,views", `{"id":"r1","views":7}`},
		{"percent-decoded spacing and empty entries", pickRecord, " id , , views ,", `{"id":"r1","views":7}`},
		{"unknown keys only", pickRecord, "nope,other.deep", `{}`},
		{
			"wildcard with restricted expand", pickRecord, "*,expand.author.name",
			`{"collectionName":"posts","comments":[{"id":"c1","text":"x"},{"id":"c2","text":"y"}],"expand":{"author":{"name":"Ann"}},"id":"r1","tags":["a","b"],"title":"<p>Hello <b>big</b> world</p>","views":7}`,
		},
		{
			"expand wildcard", pickRecord, "id,expand.*",
			`{"expand":{"author":{"email":"a@x","id":"u1","name":"Ann"},"tags":[{"id":"t1","name":"go"},{"id":"t2","name":"db"}]},"id":"r1"}`,
		},
		{
			"whole key wins over deeper entry", pickRecord, "expand.author.name,expand",
			`{"expand":{"author":{"email":"a@x","id":"u1","name":"Ann"},"tags":[{"id":"t1","name":"go"},{"id":"t2","name":"db"}]}}`,
		},
		{
			"arrays of objects element-wise", pickRecord, "comments.id,expand.tags.name",
			`{"comments":[{"id":"c1"},{"id":"c2"}],"expand":{"tags":[{"name":"go"},{"name":"db"}]}}`,
		},
		{"array of scalars kept under a deeper path", pickRecord, "tags.x", `{"tags":["a","b"]}`},
		{"scalar kept under a deeper path", pickRecord, "views.x", `{"views":7}`},
		{"star only as last segment", pickRecord, "*.id", `{}`},
		{"nested wildcard plus restriction", pickRecord, "expand.*,expand.author.id", `{"expand":{"author":{"id":"u1"},"tags":[{"id":"t1","name":"go"},{"id":"t2","name":"db"}]}}`},
		{"top-level array", `[{"id":"a","x":1},"s",{"id":"b"}]`, "id", `[{"id":"a"},"s",{"id":"b"}]`},
		{"empty fields is a no-op", `{"a":1}`, "", `{"a":1}`},
		{"blank fields is a no-op", `{"a":1}`, " , ", `{"a":1}`},
		{"scalar input", `"x"`, "id", `"x"`},
		{"null value kept", `{"a":null,"b":1}`, "a", `{"a":null}`},
		{"excerpt", pickRecord, "title:excerpt(9)", `{"title":"Hello big"}`},
		{"excerpt with ellipsis", pickRecord, "title:excerpt(7, true),id", `{"id":"r1","title":"Hello b..."}`},
		{"excerpt ellipsis arg false", pickRecord, "title:excerpt(7,false)", `{"title":"Hello b"}`},
		{"excerpt on non-string untouched", pickRecord, "views:excerpt(1)", `{"views":7}`},
		{"excerpt via wildcard", `{"a":"<i>abcdef</i>","b":2,"c":{"d":"xyz"}}`, "*:excerpt(3,true)", `{"a":"abc...","b":2,"c":{"d":"xyz"}}`},
		{"excerpt nested", pickRecord, "expand.author.name:excerpt(2)", `{"expand":{"author":{"name":"An"}}}`},
		{"excerpt max 0 ignored", pickRecord, "title:excerpt(0)", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"excerpt negative max ignored", pickRecord, "title:excerpt(-3,true)", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"excerpt bad max ignored", pickRecord, "title:excerpt(abc)", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"excerpt too many args ignored", pickRecord, "title:excerpt(3,true,1)", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"excerpt no args ignored", pickRecord, "title:excerpt()", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"unknown modifier ignored", pickRecord, "title:upper(3)", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"unclosed modifier ignored", pickRecord, "title:excerpt(3", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"later entry overrides modifier", pickRecord, "title:excerpt(3),title", `{"title":"<p>Hello <b>big</b> world</p>"}`},
		{"quoted args", pickRecord, `title:excerpt("5",'true')`, `{"title":"Hello..."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := decodeGeneric(t, tt.in)
			before := canonicalJSON(t, in)
			got := canonicalJSON(t, pickFields(in, tt.fields))
			if got != tt.want {
				t.Errorf("pickFields(%q)\n got  %s\n want %s", tt.fields, got, tt.want)
			}
			if after := canonicalJSON(t, in); after != before {
				t.Errorf("input modified:\n before %s\n after  %s", before, after)
			}
		})
	}
}

func TestPickFieldsTypedSlices(t *testing.T) {
	in := []map[string]any{{"id": "a", "x": 1}, {"id": "b", "x": 2}}
	got, ok := pickFields(in, "x").([]map[string]any)
	if !ok {
		t.Fatalf("got %T, want []map[string]any", pickFields(in, "x"))
	}
	if canonicalJSON(t, got) != `[{"x":1},{"x":2}]` {
		t.Errorf("got %s", canonicalJSON(t, got))
	}
	if len(in[0]) != 2 {
		t.Error("input modified")
	}
}

func TestParseFieldsReuse(t *testing.T) {
	fs := parseFields("id,expand.author.name:excerpt(2)")
	for i := range 3 {
		in := decodeGeneric(t, pickRecord)
		got := canonicalJSON(t, fs.pick(in))
		if want := `{"expand":{"author":{"name":"An"}},"id":"r1"}`; got != want {
			t.Fatalf("pass %d: got %s, want %s", i, got, want)
		}
	}
}

func TestSplitTopLevel(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{"a:excerpt(1,true),b", []string{"a:excerpt(1,true)", "b"}},
		{`a:excerpt("1,2"),b`, []string{`a:excerpt("1,2")`, "b"}},
		{"a)),b", []string{"a))", "b"}},
		{"", []string{""}},
	}
	for _, tt := range tests {
		got := splitTopLevel(tt.in)
		if canonicalJSON(t, got) != canonicalJSON(t, tt.want) {
			t.Errorf("splitTopLevel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

package records

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"

	"github.com/hanzoai/base"
)

func modifiersCollection() *base.Collection {
	return &base.Collection{
		ID: "pbc_1_acme", Name: "posts", Type: base.TypeBase,
		Fields: []*base.Field{
			base.RecordIDField(),
			{Name: "title", Type: base.FieldText},
			{Name: "slug", Type: base.FieldText, AutogeneratePattern: `[a-z]{5}`},
			{Name: "plain", Type: base.FieldText},
			{Name: "views", Type: base.FieldNumber},
			{Name: "tags", Type: base.FieldSelect, MaxSelect: 5, Values: []string{"a", "b", "c", "d"}},
			{Name: "status", Type: base.FieldSelect, Values: []string{"draft", "live"}},
			{Name: "authors", Type: base.FieldRelation, MaxSelect: 10, CollectionID: "users"},
			{Name: "owner", Type: base.FieldRelation, CollectionID: "users"},
			{Name: "docs", Type: base.FieldFile, MaxSelect: 3},
			{Name: "cover", Type: base.FieldFile},
			{Name: "meta", Type: base.FieldJSON},
			{Name: "created", Type: base.FieldAutodate, OnCreate: true},
			{Name: "done", Type: base.FieldBool},
		},
	}
}

func TestModifiersApply(t *testing.T) {
	current := map[string]any{
		"id": "abcdefghij12345", "title": "old", "views": 10.0,
		"tags": []string{"a", "b"}, "status": "draft",
		"authors": []string{"u1", "u2"}, "owner": "u1",
		"docs": []string{"x.png"}, "cover": "c.png",
	}
	tests := []struct {
		name    string
		current map[string]any
		input   map[string]any
		want    map[string]any
	}{
		{"plain set normalizes", current,
			map[string]any{"title": json.Number("12"), "views": "5", "done": "true"},
			map[string]any{"title": "12", "views": 5.0, "done": true}},
		{"unknown keys dropped", current,
			map[string]any{"nope": 1, "nope+": 1, "+nope": 1, "title:autogenerate": nil, "collectionId": "x"},
			map[string]any{"title": ""}},
		{"autodate ignored", current,
			map[string]any{"created": "2020-01-01 00:00:00.000Z"},
			map[string]any{}},
		{"number add", current,
			map[string]any{"views+": json.Number("5")},
			map[string]any{"views": 15.0}},
		{"number subtract", current,
			map[string]any{"views-": "2.5"},
			map[string]any{"views": 7.5}},
		{"number add on create starts at zero", nil,
			map[string]any{"views+": 3},
			map[string]any{"views": 3.0}},
		{"number set then add", current,
			map[string]any{"views": 100, "views+": 1},
			map[string]any{"views": 101.0}},
		{"number prepend dropped", current,
			map[string]any{"+views": 1},
			map[string]any{}},
		{"multi append", current,
			map[string]any{"tags+": "c"},
			map[string]any{"tags": []string{"a", "b", "c"}}},
		{"multi append list with duplicates", current,
			map[string]any{"tags+": []any{"b", "c", "c"}},
			map[string]any{"tags": []string{"a", "b", "c"}}},
		{"multi prepend", current,
			map[string]any{"+tags": []any{"d"}},
			map[string]any{"tags": []string{"d", "a", "b"}}},
		{"multi subtract", current,
			map[string]any{"tags-": "a"},
			map[string]any{"tags": []string{"b"}}},
		{"multi set then append (shorter key first)", current,
			map[string]any{"tags+": "c", "tags": []any{"d"}},
			map[string]any{"tags": []string{"d", "c"}}},
		{"multi all three in length order", current,
			map[string]any{"tags": []any{"a"}, "+tags": "b", "tags-": "a"},
			map[string]any{"tags": []string{"b"}}},
		{"multi append on create", nil,
			map[string]any{"authors+": []any{"u9"}},
			map[string]any{"authors": []string{"u9"}}},
		{"multi clear with empty", current,
			map[string]any{"authors": []any{}},
			map[string]any{"authors": []string{}}},
		{"multi clear with null", current,
			map[string]any{"authors": nil},
			map[string]any{"authors": []string{}}},
		{"single append keeps last", current,
			map[string]any{"owner+": "u2"},
			map[string]any{"owner": "u2"}},
		{"single prepend keeps current (last)", current,
			map[string]any{"+owner": "u2"},
			map[string]any{"owner": "u1"}},
		{"single subtract clears", current,
			map[string]any{"owner-": "u1"},
			map[string]any{"owner": ""}},
		{"single subtract other keeps", current,
			map[string]any{"owner-": "u7"},
			map[string]any{"owner": "u1"}},
		{"single select from array keeps last", current,
			map[string]any{"status": []any{"draft", "live"}},
			map[string]any{"status": "live"}},
		{"file subtract", current,
			map[string]any{"docs-": []any{"x.png"}},
			map[string]any{"docs": []string{}}},
		{"single file clear", current,
			map[string]any{"cover": ""},
			map[string]any{"cover": ""}},
		{"text append is not a modifier", current,
			map[string]any{"title+": "x", "title-": "y"},
			map[string]any{}},
		{"json set", current,
			map[string]any{"meta": map[string]any{"k": "v"}},
			map[string]any{"meta": json.RawMessage(`{"k":"v"}`)}},
		{"current values are normalized", map[string]any{"views": int64(4), "tags": `["a"]`},
			map[string]any{"views+": 1, "tags+": "b"},
			map[string]any{"views": 5.0, "tags": []string{"a", "b"}}},
	}
	c := modifiersCollection()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplyModifiers(c, tt.current, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ApplyModifiers(%v) =\n%#v\nwant\n%#v", tt.input, got, tt.want)
			}
		})
	}
	// The current record is never modified.
	if !reflect.DeepEqual(current["tags"], []string{"a", "b"}) {
		t.Fatalf("current mutated: %v", current["tags"])
	}
}

func TestModifiersAutogenerate(t *testing.T) {
	c := modifiersCollection()
	got, err := ApplyModifiers(c, nil, map[string]any{"slug:autogenerate": "post-", "plain:autogenerate": "p-", "views:autogenerate": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := got["slug"].(string); !regexp.MustCompile(`^post-[a-z]{5}$`).MatchString(s) {
		t.Errorf("slug = %q", s)
	}
	if got["plain"] != "p-" {
		t.Errorf("plain = %#v, want the bare prefix (no pattern)", got["plain"])
	}
	if _, ok := got["views"]; ok {
		t.Errorf("autogenerate applied to a number: %v", got)
	}
	// Two generations differ.
	again, _ := ApplyModifiers(c, nil, map[string]any{"slug:autogenerate": ""})
	if again["slug"] == got["slug"] || len(again["slug"].(string)) != 5 {
		t.Errorf("slug %q then %q", got["slug"], again["slug"])
	}

	bad := &base.Collection{Fields: []*base.Field{{Name: "x", Type: base.FieldText, AutogeneratePattern: `(`}}}
	if _, err := ApplyModifiers(bad, nil, map[string]any{"x:autogenerate": ""}); err == nil {
		t.Error("want an error for an invalid autogeneratePattern")
	}
}

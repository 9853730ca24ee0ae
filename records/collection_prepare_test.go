package records

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hanzoai/base"
)

// lookupOf returns a CollectionLookup over cols: by id, or by name
// case-insensitively.
func lookupOf(cols ...*base.Collection) CollectionLookup {
	return func(nameOrID string) *base.Collection {
		for _, c := range cols {
			if c.ID == nameOrID {
				return c
			}
		}
		for _, c := range cols {
			if strings.EqualFold(c.Name, nameOrID) {
				return c
			}
		}
		return nil
	}
}

func TestCollectionPrepareCreate(t *testing.T) {
	c := &base.Collection{Name: "posts", Fields: []*base.Field{
		{Name: "title", Type: base.FieldText},
		{Name: "n", Type: base.FieldNumber, ID: "custom"},
	}}
	PrepareCollection("acme", c, nil, nil)
	if c.Type != base.TypeBase {
		t.Errorf("type = %q", c.Type)
	}
	if want := base.NewCollectionID("acme", base.TypeBase, "posts", 0); c.ID != want {
		t.Errorf("id = %q, want %q", c.ID, want)
	}
	if base.OrgFromCollectionID(c.ID) != "acme" {
		t.Errorf("id %q does not embed the org", c.ID)
	}
	names := fieldNames(c)
	if !reflect.DeepEqual(names, []string{"id", "title", "n"}) {
		t.Errorf("fields = %v", names)
	}
	if !reflect.DeepEqual(c.Fields[0], base.RecordIDField()) {
		t.Errorf("id field = %+v", c.Fields[0])
	}
	if c.Fields[1].ID != base.DefaultFieldID(base.FieldText, "title") || c.Fields[2].ID != "custom" {
		t.Errorf("field ids = %q, %q", c.Fields[1].ID, c.Fields[2].ID)
	}
	if c.Indexes == nil {
		t.Error("indexes nil")
	}
	if errs := ValidateCollection(c, nil, nil); errs != nil {
		t.Errorf("prepared collection invalid: %v", jsonOf(t, errs))
	}
}

func TestCollectionPrepareIDCollision(t *testing.T) {
	first := base.NewCollectionID("acme", base.TypeBase, "posts", 0)
	second := base.NewCollectionID("acme", base.TypeBase, "posts", 2)
	lookup := lookupOf(&base.Collection{ID: first, Name: "old_posts"}, &base.Collection{ID: second, Name: "other"})
	c := &base.Collection{Name: "posts"}
	PrepareCollection("acme", c, nil, lookup)
	if want := base.NewCollectionID("acme", base.TypeBase, "posts", 3); c.ID != want {
		t.Fatalf("id = %q, want %q", c.ID, want)
	}
	// A given id is kept.
	c = &base.Collection{ID: "mine", Name: "posts"}
	PrepareCollection("acme", c, nil, lookup)
	if c.ID != "mine" {
		t.Fatalf("id = %q", c.ID)
	}
}

func TestCollectionPrepareAuth(t *testing.T) {
	c := &base.Collection{Name: "members", Type: base.TypeAuth, Fields: []*base.Field{
		{Name: "nick", Type: base.FieldText},
		{Name: "verified", Type: base.FieldBool, System: true},
	}}
	PrepareCollection("acme", c, nil, nil)
	if got := fieldNames(c); !reflect.DeepEqual(got, []string{"id", "email", "emailVisibility", "nick", "verified"}) {
		t.Errorf("fields = %v", got)
	}
	for _, n := range []string{"password", "tokenKey"} {
		if c.Field(n) != nil {
			t.Errorf("auth collection got a %s field", n)
		}
	}
	if e := c.Field("email"); e.Type != base.FieldEmail || !e.System {
		t.Errorf("email field = %+v", e)
	}
	if len(c.Indexes) != 1 || !strings.Contains(c.Indexes[0], "UNIQUE") || !strings.Contains(c.Indexes[0], "(`email`)") {
		t.Errorf("indexes = %q", c.Indexes)
	}
	if errs := ValidateCollection(c, nil, nil); errs != nil {
		t.Errorf("prepared auth collection invalid: %s", jsonOf(t, errs))
	}
	// Preparing again adds nothing.
	before := len(c.Indexes)
	PrepareCollection("acme", c, c.Clone(), nil)
	if len(c.Indexes) != before || len(c.Fields) != 5 {
		t.Errorf("second prepare changed the collection: %d indexes, %d fields", len(c.Indexes), len(c.Fields))
	}
}

func TestCollectionPrepareUpdateKeepsIDs(t *testing.T) {
	old := &base.Collection{ID: "pbc_1_acme", Name: "posts", Type: base.TypeBase, Created: "2024-01-01 00:00:00.000Z"}
	PrepareCollection("acme", old, nil, nil)
	old.Fields = append(old.Fields, &base.Field{ID: "keepme", Name: "title", Type: base.FieldText})

	c := &base.Collection{Name: "posts", ViewQuery: "SELECT 1", Fields: []*base.Field{
		{Name: "id", Type: base.FieldText, PrimaryKey: true, Required: true, Pattern: "^[a-z0-9]+$", System: true},
		{Name: "title", Type: base.FieldText},
		{Name: "body", Type: base.FieldEditor},
		nil,
	}}
	PrepareCollection("acme", c, old, nil)
	if c.ID != old.ID || c.Type != old.Type || c.Created != old.Created {
		t.Errorf("id/type/created = %q/%q/%q", c.ID, c.Type, c.Created)
	}
	if c.Fields[0].ID != old.Fields[0].ID || c.Fields[1].ID != "keepme" {
		t.Errorf("ids not kept: %q %q", c.Fields[0].ID, c.Fields[1].ID)
	}
	if c.Fields[2].ID != base.DefaultFieldID(base.FieldEditor, "body") {
		t.Errorf("new field id = %q", c.Fields[2].ID)
	}
	if len(c.Fields) != 3 {
		t.Errorf("null field kept: %d fields", len(c.Fields))
	}
	if c.ViewQuery != "" {
		t.Errorf("viewQuery kept on a base collection")
	}
}

func TestCollectionScaffolds(t *testing.T) {
	s := Scaffolds("acme")
	if len(s) != 3 {
		t.Fatalf("%d scaffolds", len(s))
	}
	for typ, c := range s {
		if c.ID != "" || c.Name != "" || string(c.Type) != typ {
			t.Errorf("%s scaffold: id %q name %q type %q", typ, c.ID, c.Name, c.Type)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"listRule", "viewRule", "createRule", "updateRule", "deleteRule"} {
			if v, ok := m[k]; !ok || v != nil {
				t.Errorf("%s scaffold %s = %v, want null", typ, k, v)
			}
		}
		if _, ok := m["fields"].([]any); !ok {
			t.Errorf("%s scaffold fields = %v", typ, m["fields"])
		}
	}
	if got := fieldNames(s["base"]); !reflect.DeepEqual(got, []string{"id"}) {
		t.Errorf("base scaffold fields %v", got)
	}
	if got := fieldNames(s["auth"]); !reflect.DeepEqual(got, []string{"id", "email", "emailVisibility", "verified"}) {
		t.Errorf("auth scaffold fields %v", got)
	}
	if s["auth"].AuthRule == nil || *s["auth"].AuthRule != "" || s["auth"].ManageRule != nil {
		t.Errorf("auth scaffold rules: %s / %s", base.RuleString(s["auth"].AuthRule), base.RuleString(s["auth"].ManageRule))
	}
	if len(s["view"].Fields) != 0 || s["view"].ViewQuery != "" {
		t.Errorf("view scaffold = %+v", s["view"])
	}
	// Scaffolds are fresh values: changing one does not leak.
	s["base"].Fields[0].Name = "changed"
	if Scaffolds("acme")["base"].Fields[0].Name != "id" {
		t.Error("scaffolds share state")
	}
}

func fieldNames(c *base.Collection) []string {
	var out []string
	for _, f := range c.Fields {
		out = append(out, f.Name)
	}
	return out
}

func jsonOf(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// validCollection returns a prepared base collection named name in org
// acme with the given extra fields.
func validCollection(name string, fields ...*base.Field) *base.Collection {
	c := &base.Collection{Name: name, Fields: fields}
	PrepareCollection("acme", c, nil, nil)
	return c
}

func TestCollectionValidate(t *testing.T) {
	users := base.UsersMirror("acme")
	view := &base.Collection{ID: "pbc_9_acme", Name: "stats", Type: base.TypeView, ViewQuery: "SELECT 1 AS id"}
	existing := validCollection("articles")
	lookup := lookupOf(users, view, existing)

	type tc struct {
		name string
		c    func() *base.Collection
		old  func() *base.Collection
		want string // JSON of the error map, "" = valid
	}
	text := func(name string, mod func(*base.Field)) *base.Field {
		f := &base.Field{Name: name, Type: base.FieldText}
		if mod != nil {
			mod(f)
		}
		return f
	}
	withField := func(f *base.Field) func() *base.Collection {
		return func() *base.Collection { return validCollection("posts", f) }
	}
	e := func(code string) string { return `"code":"` + code + `"` }
	tests := []tc{
		{"valid base", withField(text("title", nil)), nil, ""},
		{"name required", func() *base.Collection { c := validCollection("x"); c.Name = ""; return c }, nil,
			`{"name":{"code":"validation_required","message":"Cannot be blank."}}`},
		{"name invalid chars", func() *base.Collection { c := validCollection("x"); c.Name = "my posts"; return c }, nil,
			`{"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}}`},
		{"name leading digit", func() *base.Collection { c := validCollection("x"); c.Name = "1posts"; return c }, nil,
			e("validation_match_invalid")},
		{"name too long", func() *base.Collection { c := validCollection("x"); c.Name = strings.Repeat("a", 256); return c }, nil,
			`{"name":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 255.","params":{"max":255,"min":1}}}`},
		{"name reserved underscore", func() *base.Collection { return validCollection("_secret") }, nil,
			e("validation_collection_name_invalid")},
		{"name reserved sqlite prefix", func() *base.Collection { return validCollection("SQLite_stat1") }, nil,
			e("validation_collection_name_invalid")},
		{"name with _via_", func() *base.Collection { return validCollection("a_via_b") }, nil,
			e("validation_found_via")},
		{"name sql keyword is fine", func() *base.Collection { return validCollection("select") }, nil, ""},
		{"name taken case-insensitively", func() *base.Collection { return validCollection("ARTICLES") }, nil,
			`{"name":{"code":"validation_collection_name_exists","message":"Collection name must be unique (case insensitive)."}}`},
		{"name equals another collection id", func() *base.Collection { return validCollection(existing.ID) }, nil,
			`{"name":{"code":"validation_collection_name_id_duplicate","message":"The name must not match an existing collection id."}}`},
		{"id taken", func() *base.Collection { c := validCollection("fresh"); c.ID = existing.ID; return c }, nil,
			e("validation_invalid_or_existing_id")},
		{"id bad chars", func() *base.Collection { c := validCollection("fresh"); c.ID = "a b"; return c }, nil,
			e("validation_match_invalid")},
		{"type unknown", func() *base.Collection { c := validCollection("fresh"); c.Type = "graph"; return c }, nil,
			`{"type":{"code":"validation_in_invalid","message":"Must be a valid value."}}`},

		// fields: collection-wide
		{"duplicate field name case-insensitive", func() *base.Collection {
			return validCollection("posts", text("title", nil), text("Title", nil))
		}, nil, `{"fields":{"2":{"name":{"code":"validation_duplicated_field_name","message":"Duplicated or invalid field name Title.","params":{"fieldName":"Title"}}}}}`},
		{"duplicate field id", func() *base.Collection {
			return validCollection("posts", text("a", func(f *base.Field) { f.ID = "same" }), text("b", func(f *base.Field) { f.ID = "same" }))
		}, nil, `{"fields":{"2":{"id":{"code":"validation_duplicated_field_id","message":"Duplicated or invalid field id \"same\"."}}}}`},
		{"missing id field", func() *base.Collection {
			c := validCollection("posts", text("title", nil))
			c.Fields = c.Fields[1:]
			return c
		}, nil, `{"fields":{"code":"validation_missing_primary_key","message":"Missing or invalid \"id\" PK field."}}`},
		{"no fields", func() *base.Collection { c := validCollection("posts"); c.Fields = nil; return c }, nil,
			`{"fields":{"code":"validation_required","message":"Cannot be blank."}}`},
		{"null field", func() *base.Collection {
			c := validCollection("posts")
			c.Fields = append(c.Fields, nil)
			return c
		}, nil, `{"fields":{"1":{"code":"validation_invalid_value","message":"Invalid value."}}}`},

		// fields: per field
		{"field name reserved", withField(text("expand", nil)), nil,
			`{"fields":{"1":{"name":{"code":"validation_not_in_invalid","message":"Must not be in list."}}}}`},
		{"field name collectionId reserved", withField(text("collectionId", nil)), nil, e("validation_not_in_invalid")},
		{"field name invalid", withField(text("my-field", nil)), nil,
			`{"fields":{"1":{"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}}}}`},
		{"field name too long", withField(text(strings.Repeat("a", 101), nil)), nil, e("validation_length_out_of_range")},
		{"field type unknown", withField(&base.Field{Name: "x", Type: "color"}), nil,
			`{"fields":{"1":{"type":{"code":"validation_in_invalid","message":"Must be a valid value."}}}}`},
		{"text min negative", withField(text("t", func(f *base.Field) { f.Min = -1 })), nil,
			`{"fields":{"1":{"min":{"code":"validation_min_greater_equal_than_required","message":"Must be no less than 0.","params":{"threshold":0}}}}}`},
		{"text max below min", withField(text("t", func(f *base.Field) { f.Min = 10; f.Max = 5 })), nil,
			`{"fields":{"1":{"max":{"code":"validation_min_greater_equal_than_required","message":"Must be no less than 10.","params":{"threshold":10}}}}}`},
		{"text max zero with min ok", withField(text("t", func(f *base.Field) { f.Min = 10 })), nil, ""},
		{"text bad pattern", withField(text("t", func(f *base.Field) { f.Pattern = "[a-" })), nil, e("validation_invalid_regex")},
		{"text bad autogenerate pattern", withField(text("t", func(f *base.Field) { f.AutogeneratePattern = "(" })), nil, e("validation_invalid_regex")},
		{"text autogenerate conflicts with max", withField(text("t", func(f *base.Field) { f.AutogeneratePattern = "[a-z]{10}"; f.Max = 5 })), nil,
			e("validation_invalid_autogenerate_pattern_value")},
		{"text second primary key", withField(text("other", func(f *base.Field) { f.PrimaryKey = true; f.Pattern = "x"; f.Required = true })), nil,
			e("validation_unsupported_composite_pk")},
		{"number min decimal with onlyInt", withField(&base.Field{Name: "n", Type: base.FieldNumber, OnlyInt: true, MinNumber: fptr(1.5)}), nil,
			`{"fields":{"1":{"min":{"code":"validation_only_int_constraint","message":"Decimal numbers are not allowed."}}}}`},
		{"number max below min", withField(&base.Field{Name: "n", Type: base.FieldNumber, MinNumber: fptr(5), MaxNumber: fptr(1)}), nil,
			`{"fields":{"1":{"max":{"code":"validation_min_greater_equal_than_required","message":"Must be no less than 5.","params":{"threshold":5}}}}}`},
		{"number bounds ok", withField(&base.Field{Name: "n", Type: base.FieldNumber, MinNumber: fptr(-5), MaxNumber: fptr(5)}), nil, ""},
		{"email both domain lists", withField(&base.Field{Name: "e", Type: base.FieldEmail, OnlyDomains: []string{"a.com"}, ExceptDomains: []string{"b.com"}}), nil,
			`{"fields":{"1":{"exceptDomains":{"code":"validation_empty","message":"Must be blank."},"onlyDomains":{"code":"validation_empty","message":"Must be blank."}}}}`},
		{"url bad domain", withField(&base.Field{Name: "u", Type: base.FieldURL, OnlyDomains: []string{"ok.com", "not a domain"}}), nil,
			`{"fields":{"1":{"onlyDomains":{"1":{"code":"validation_is_domain","message":"Must be a valid domain."}}}}}`},
		{"date bad min", withField(&base.Field{Name: "d", Type: base.FieldDate, MinDate: "soon"}), nil, e("validation_date_invalid")},
		{"date max before min", withField(&base.Field{Name: "d", Type: base.FieldDate, MinDate: "2024-02-01 00:00:00.000Z", MaxDate: "2024-01-01 00:00:00.000Z"}), nil,
			e("validation_date_out_of_range")},
		{"autodate needs a trigger", withField(&base.Field{Name: "ts", Type: base.FieldAutodate}), nil,
			`{"fields":{"1":{"onCreate":{"code":"validation_required","message":"Either onCreate or onUpdate must be enabled."},"onUpdate":{"code":"validation_required","message":"Either onCreate or onUpdate must be enabled."}}}}`},
		{"select no values", withField(&base.Field{Name: "s", Type: base.FieldSelect}), nil,
			`{"fields":{"1":{"values":{"code":"validation_required","message":"Cannot be blank."}}}}`},
		{"select duplicate and empty values", withField(&base.Field{Name: "s", Type: base.FieldSelect, Values: []string{"a", "", "a"}}), nil,
			`{"fields":{"1":{"values":{"1":{"code":"validation_required","message":"Cannot be blank."},"2":{"code":"validation_duplicated_value","message":"Duplicated value a.","params":{"value":"a"}}}}}}`},
		{"select maxSelect above values", withField(&base.Field{Name: "s", Type: base.FieldSelect, Values: []string{"a", "b"}, MaxSelect: 3}), nil,
			`{"fields":{"1":{"maxSelect":{"code":"validation_max_less_equal_than_required","message":"Must be no greater than 2.","params":{"threshold":2}}}}}`},
		{"relation missing collectionId", withField(&base.Field{Name: "r", Type: base.FieldRelation}), nil,
			`{"fields":{"1":{"collectionId":{"code":"validation_required","message":"Cannot be blank."}}}}`},
		{"relation unknown collection", withField(&base.Field{Name: "r", Type: base.FieldRelation, CollectionID: "nope"}), nil,
			`{"fields":{"1":{"collectionId":{"code":"validation_field_relation_missing_collection","message":"The relation collection doesn't exist."}}}}`},
		{"relation by name is not an id", withField(&base.Field{Name: "r", Type: base.FieldRelation, CollectionID: "users"}), nil,
			e("validation_field_relation_missing_collection")},
		{"relation to users ok", withField(&base.Field{Name: "r", Type: base.FieldRelation, CollectionID: users.ID}), nil, ""},
		{"relation to self ok", func() *base.Collection {
			c := validCollection("posts")
			c.Fields = append(c.Fields, &base.Field{ID: "rel1", Name: "parent", Type: base.FieldRelation, CollectionID: c.ID})
			return c
		}, nil, ""},
		{"relation to view from base", withField(&base.Field{Name: "r", Type: base.FieldRelation, CollectionID: view.ID}), nil,
			e("validation_relation_field_non_view_base_collection")},
		{"relation maxSelect below minSelect", withField(&base.Field{Name: "r", Type: base.FieldRelation, CollectionID: users.ID, MinSelect: 3, MaxSelect: 2}), nil,
			`{"fields":{"1":{"maxSelect":{"code":"validation_min_greater_equal_than_required","message":"Must be no less than 3.","params":{"threshold":3}}}}}`},
		{"relation minSelect without maxSelect", withField(&base.Field{Name: "r", Type: base.FieldRelation, CollectionID: users.ID, MinSelect: 2}), nil,
			`{"fields":{"1":{"maxSelect":{"code":"validation_required","message":"Cannot be blank."}}}}`},
		{"file thumbs", withField(&base.Field{Name: "f", Type: base.FieldFile, Thumbs: []string{"100x100", "0x0", "big", "100x50f"}}), nil,
			`{"fields":{"1":{"thumbs":{"1":{"code":"validation_not_in_invalid","message":"Must not be in list."},"2":{"code":"validation_match_invalid","message":"Must be in a valid format."}}}}}`},
		{"json negative maxSize", withField(&base.Field{Name: "j", Type: base.FieldJSON, MaxSize: -1}), nil, e("validation_min_greater_equal_than_required")},

		// rules and type-specific keys
		{"view requires query", func() *base.Collection {
			c := &base.Collection{Name: "v", Type: base.TypeView}
			PrepareCollection("acme", c, nil, nil)
			return c
		}, nil, `{"viewQuery":{"code":"validation_required","message":"Cannot be blank."}}`},
		{"view with write rules and indexes", func() *base.Collection {
			c := &base.Collection{Name: "v", Type: base.TypeView, ViewQuery: "SELECT 1 AS id", CreateRule: base.StringPtr(""),
				Indexes: []string{"CREATE INDEX idx ON v (a)"}}
			PrepareCollection("acme", c, nil, nil)
			return c
		}, nil, `{"createRule":{"code":"validation_nil","message":"Must be blank."},"indexes":{"code":"validation_indexes_not_supported","message":"View collections don't support indexes."}}`},
		{"view ok", func() *base.Collection {
			c := &base.Collection{Name: "v", Type: base.TypeView, ViewQuery: "SELECT 1 AS id", ListRule: base.StringPtr("")}
			PrepareCollection("acme", c, nil, nil)
			return c
		}, nil, ""},
		{"auth rules on base", func() *base.Collection {
			c := validCollection("posts")
			c.AuthRule = base.StringPtr("")
			c.ManageRule = base.StringPtr("id != ''")
			return c
		}, nil, `{"authRule":{"code":"validation_nil","message":"Must be blank."},"manageRule":{"code":"validation_nil","message":"Must be blank."}}`},
		{"auth reserved field names", func() *base.Collection {
			c := &base.Collection{Name: "members", Type: base.TypeAuth, Fields: []*base.Field{{Name: "oldPassword", Type: base.FieldText}}}
			PrepareCollection("acme", c, nil, nil)
			return c
		}, nil, `{"fields":{"4":{"name":{"code":"validation_reserved_field_name","message":"The field name is reserved and cannot be used."}}}}`},
		{"auth email not system", func() *base.Collection {
			c := &base.Collection{Name: "members", Type: base.TypeAuth, Fields: []*base.Field{{Name: "email", Type: base.FieldEmail}}}
			PrepareCollection("acme", c, nil, nil)
			return c
		}, nil, `{"fields":{"email":{"code":"validation_must_be_system","message":"The field must be marked as \"System\"."}}}`},
		{"auth missing verified", func() *base.Collection {
			c := &base.Collection{Name: "members", Type: base.TypeAuth}
			PrepareCollection("acme", c, nil, nil)
			c.Fields = c.Fields[:3]
			return c
		}, nil, `{"fields":{"code":"validation_missing_verified_field","message":"System \"verified\" field is required."}}`},

		// indexes
		{"index garbage", func() *base.Collection {
			c := validCollection("posts", text("slug", nil))
			c.Indexes = []string{"CREATE UNIQUE INDEX `idx_slug` ON `posts` (`slug`)", "DROP TABLE x"}
			return c
		}, nil, `{"indexes":{"1":{"code":"validation_invalid_index_expression","message":"Invalid CREATE INDEX expression."}}}`},
		{"index empty string", func() *base.Collection {
			c := validCollection("posts")
			c.Indexes = []string{""}
			return c
		}, nil, e("validation_invalid_index_expression")},
		{"index duplicate name", func() *base.Collection {
			c := validCollection("posts", text("a", nil), text("b", nil))
			c.Indexes = []string{"CREATE INDEX idx_x ON posts (a)", `create index "IDX_X" on "posts" ("b") where b != ''`}
			return c
		}, nil, `{"indexes":{"1":{"code":"validation_duplicated_index_name","message":"The index name already exists."}}}`},
	}

	// updates
	stored := validCollection("posts", text("title", nil), &base.Field{Name: "r", Type: base.FieldRelation, CollectionID: users.ID})
	storedLookup := lookupOf(users, view, existing, stored)
	updates := []tc{
		{"update unchanged", func() *base.Collection { return stored.Clone() }, func() *base.Collection { return stored }, ""},
		{"update rename ok", func() *base.Collection { c := stored.Clone(); c.Name = "entries"; return c }, func() *base.Collection { return stored }, ""},
		{"update change case of own name ok", func() *base.Collection { c := stored.Clone(); c.Name = "Posts"; return c }, func() *base.Collection { return stored }, ""},
		{"update type change", func() *base.Collection {
			c := stored.Clone()
			c.Type = base.TypeAuth
			PrepareCollection("acme", c, stored, nil)
			return c
		},
			func() *base.Collection { return stored }, e("validation_collection_type_change")},
		{"update id change", func() *base.Collection { c := stored.Clone(); c.ID = "other"; return c }, func() *base.Collection { return stored },
			`{"id":{"code":"validation_values_mismatch","message":"Values don't match."}}`},
		{"update field type change", func() *base.Collection { c := stored.Clone(); c.Fields[1].Type = base.FieldEditor; return c },
			func() *base.Collection { return stored }, `{"fields":{"1":{"code":"validation_field_type_change","message":"Field type cannot be changed."}}}`},
		{"update relation target change", func() *base.Collection { c := stored.Clone(); c.Fields[2].CollectionID = existing.ID; return c },
			func() *base.Collection { return stored }, e("validation_field_relation_change")},
		{"update remove system id field", func() *base.Collection { c := stored.Clone(); c.Fields = c.Fields[1:]; return c },
			func() *base.Collection { return stored }, `{"fields":{"code":"validation_missing_primary_key","message":"Missing or invalid \"id\" PK field."}}`},
		{"update system flag", func() *base.Collection { c := stored.Clone(); c.System = true; return c },
			func() *base.Collection { return stored }, e("validation_collection_system_flag_change")},
	}
	tests = append(tests, updates...)

	// system collection (the users mirror)
	tests = append(tests,
		tc{"system rename", func() *base.Collection { c := users.Clone(); c.Name = "people"; return c }, func() *base.Collection { return users },
			`{"name":{"code":"validation_collection_system_name_change","message":"System collection name cannot be changed."}}`},
		tc{"system rule change", func() *base.Collection { c := users.Clone(); c.ListRule = base.StringPtr(""); return c }, func() *base.Collection { return users },
			`{"listRule":{"code":"validation_collection_system_rule_change","message":"System collection API rule cannot be changed."}}`},
		tc{"system field removed", func() *base.Collection {
			c := users.Clone()
			c.Fields = append(c.Fields[:1], c.Fields[2:]...) // drop "sub"
			return c
		}, func() *base.Collection { return users }, `{"fields":{"code":"validation_system_field_change","message":"System fields cannot be deleted or renamed."}}`},
		tc{"system field renamed", func() *base.Collection { c := users.Clone(); c.Fields[5].Name = "fullName"; return c }, func() *base.Collection { return users },
			e("validation_system_field_change")},
		tc{"system collection add field ok", func() *base.Collection {
			c := users.Clone()
			c.Fields = append(c.Fields, &base.Field{ID: "bool1", Name: "vip", Type: base.FieldBool})
			return c
		}, func() *base.Collection { return users }, ""},
		tc{"system autodate trigger change", func() *base.Collection { c := users.Clone(); c.Field("created").OnUpdate = true; return c },
			func() *base.Collection { return users }, e("validation_values_mismatch")},
	)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old *base.Collection
			if tt.old != nil {
				old = tt.old()
			}
			l := lookup
			if old != nil {
				l = storedLookup
			}
			errs := ValidateCollection(tt.c(), old, l)
			if tt.want == "" {
				if errs != nil {
					t.Fatalf("want valid, got %s", jsonOf(t, errs))
				}
				return
			}
			if errs == nil {
				t.Fatalf("want %s, got valid", tt.want)
			}
			got := jsonOf(t, errs)
			if strings.HasPrefix(tt.want, "{") {
				if got != tt.want {
					t.Errorf("errors =\n%s\nwant\n%s", got, tt.want)
				}
			} else if !strings.Contains(got, tt.want) {
				t.Errorf("errors = %s, want them to contain %s", got, tt.want)
			}
		})
	}
}

func TestCollectionValidateUsersMirror(t *testing.T) {
	// The root package's users mirror is a valid collection of its own.
	users := base.UsersMirror("acme")
	if errs := ValidateCollection(users, nil, nil); errs != nil {
		t.Fatalf("users mirror invalid: %s", jsonOf(t, errs))
	}
	if errs := ValidateCollection(users.Clone(), users, lookupOf(users)); errs != nil {
		t.Fatalf("users mirror update invalid: %s", jsonOf(t, errs))
	}
}

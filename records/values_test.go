package records

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hanzoai/base"
	_ "modernc.org/sqlite"
)

func fld(t base.FieldType, mod func(*base.Field)) *base.Field {
	f := &base.Field{ID: "f1", Name: "f", Type: t}
	if mod != nil {
		mod(f)
	}
	return f
}

func multi(t base.FieldType) *base.Field {
	return fld(t, func(f *base.Field) { f.MaxSelect = 5; f.Values = []string{"a", "b", "c", "d", "e", "f"} })
}

func fptr(f float64) *float64 { return &f }

// decodeJSON decodes a JSON document as the handler does (UseNumber).
func decodeJSON(tb testing.TB, s string) any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestValuesNormalize(t *testing.T) {
	text := fld(base.FieldText, nil)
	num := fld(base.FieldNumber, nil)
	boolean := fld(base.FieldBool, nil)
	date := fld(base.FieldDate, nil)
	sel := fld(base.FieldSelect, nil)
	rel := fld(base.FieldRelation, nil)
	js := fld(base.FieldJSON, nil)
	geo := fld(base.FieldGeoPoint, nil)

	tests := []struct {
		name  string
		field *base.Field
		in    any
		want  any
	}{
		{"text string kept untrimmed", text, "  hi ", "  hi "},
		{"text number", text, json.Number("12.50"), "12.50"},
		{"text float", text, 1.5, "1.5"},
		{"text bool", text, true, "true"},
		{"text nil", text, nil, ""},
		{"text array", text, []any{"a"}, ""},
		{"text invalid utf8 replaced", text, "a\xffb", "a\uFFFDb"},
		{"text object", text, map[string]any{"a": 1}, ""},

		{"number json", num, json.Number("12"), 12.0},
		{"number string", num, "12", 12.0},
		{"number negative decimal string", num, "-1.5", -1.5},
		{"number bad string", num, "12abc", 0.0},
		{"number spaced string", num, " 12", 0.0},
		{"number true", num, true, 1.0},
		{"number nil", num, nil, 0.0},
		{"number array", num, []any{json.Number("1")}, 0.0},
		{"number float", num, 2.25, 2.25},

		{"bool true", boolean, true, true},
		{"bool string true", boolean, "true", true},
		{"bool string 1", boolean, "1", true},
		{"bool string t", boolean, "t", true},
		{"bool string false", boolean, "false", false},
		{"bool string yes", boolean, "yes", false},
		{"bool number 1", boolean, json.Number("1"), true},
		{"bool number 0", boolean, json.Number("0"), false},
		{"bool float", boolean, 2.0, true},
		{"bool nil", boolean, nil, false},

		{"date layout", date, "2024-05-01 10:20:30.123Z", "2024-05-01 10:20:30.123Z"},
		{"date rfc3339 offset", date, "2024-05-01T12:20:30+02:00", "2024-05-01 10:20:30.000Z"},
		{"date rfc3339 nano", date, "2024-05-01T10:20:30.123456789Z", "2024-05-01 10:20:30.123Z"},
		{"date iso no zone", date, "2024-05-01T10:20:30", "2024-05-01 10:20:30.000Z"},
		{"date space no zone", date, "2024-05-01 10:20:30", "2024-05-01 10:20:30.000Z"},
		{"date only", date, "2024-05-01", "2024-05-01 00:00:00.000Z"},
		{"date space Z no ms", date, "2024-05-01 10:20:30Z", "2024-05-01 10:20:30.000Z"},
		{"date rfc1123", date, "Wed, 01 May 2024 10:20:30 GMT", "2024-05-01 10:20:30.000Z"},
		{"date garbage", date, "yesterday", ""},
		{"date empty", date, "", ""},
		{"date json number", date, json.Number("1700000000"), ""},
		{"date nil", date, nil, ""},

		{"select single string", sel, "a", "a"},
		{"select single array keeps last", sel, []any{"a", "b"}, "b"},
		{"select single empty array", sel, []any{}, ""},
		{"select single nil", sel, nil, ""},
		{"select single json array text", sel, `["a","b"]`, "b"},
		{"select multi string", multi(base.FieldSelect), "x", []string{"x"}},
		{"select multi dedupe and drop empty", multi(base.FieldSelect), []any{"a", "", "b", "a"}, []string{"a", "b"}},
		{"select multi nil", multi(base.FieldSelect), nil, []string{}},
		{"select multi empty string", multi(base.FieldSelect), "", []string{}},
		{"select multi json text", multi(base.FieldSelect), `["a","b","a"]`, []string{"a", "b"}},
		{"select multi bracket but not json", multi(base.FieldSelect), "[a", []string{"[a"}},
		{"select multi number", multi(base.FieldSelect), json.Number("12"), []string{"12"}},
		{"select multi []string", multi(base.FieldSelect), []string{"b", "b", "c"}, []string{"b", "c"}},
		{"select multi object", multi(base.FieldSelect), map[string]any{"a": "b"}, []string{}},
		{"relation single", rel, "abc", "abc"},
		{"relation multi from array", multi(base.FieldRelation), []any{"r1", "r2"}, []string{"r1", "r2"}},
		{"file multi from array", multi(base.FieldFile), []any{"a.png"}, []string{"a.png"}},

		{"json object", js, map[string]any{"b": json.Number("1"), "a": []any{true, nil}}, json.RawMessage(`{"a":[true,null],"b":1}`)},
		{"json number keeps text", js, json.Number("1.50"), json.RawMessage(`1.50`)},
		{"json null", js, nil, nil},
		{"json string null", js, "null", nil},
		{"json string true", js, "true", json.RawMessage(`true`)},
		{"json numeric string", js, "12", json.RawMessage(`12`)},
		{"json negative numeric string", js, "-1.5", json.RawMessage(`-1.5`)},
		{"json array text compacted", js, "[1, 2]", json.RawMessage(`[1,2]`)},
		{"json object text", js, `{"a": "<b>"}`, json.RawMessage(`{"a":"<b>"}`)},
		{"json quoted string text", js, `"hi"`, json.RawMessage(`"hi"`)},
		{"json plain string", js, "hello", json.RawMessage(`"hello"`)},
		{"json html string not escaped", js, "<a&b>", json.RawMessage(`"<a&b>"`)},
		{"json empty string", js, "", json.RawMessage(`""`)},
		{"json invalid object text", js, "{oops", json.RawMessage(`"{oops"`)},
		{"json leading zero text", js, "012", json.RawMessage(`"012"`)},
		{"json bool", js, false, json.RawMessage(`false`)},
		{"json raw message", js, json.RawMessage(` { "a" : 1 } `), json.RawMessage(`{"a":1}`)},

		{"geo object", geo, map[string]any{"lon": json.Number("1.5"), "lat": json.Number("-2")}, GeoPoint{Lon: 1.5, Lat: -2}},
		{"geo text", geo, `{"lat":3,"lon":4}`, GeoPoint{Lon: 4, Lat: 3}},
		{"geo string numbers", geo, map[string]any{"lon": "10", "lat": "20"}, GeoPoint{Lon: 10, Lat: 20}},
		{"geo nil", geo, nil, GeoPoint{}},
		{"geo bad text", geo, "nope", GeoPoint{}},
		{"geo array", geo, []any{json.Number("1"), json.Number("2")}, GeoPoint{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.field, tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize(%s, %#v) = %#v, want %#v", tt.field.Type, tt.in, got, tt.want)
			}
			// Normalizing a normalized value changes nothing.
			if again := Normalize(tt.field, got); !reflect.DeepEqual(again, got) {
				t.Errorf("Normalize not idempotent: %#v -> %#v", got, again)
			}
		})
	}
}

func TestValuesZero(t *testing.T) {
	tests := []struct {
		field *base.Field
		want  any
	}{
		{fld(base.FieldText, nil), ""},
		{fld(base.FieldEditor, nil), ""},
		{fld(base.FieldEmail, nil), ""},
		{fld(base.FieldURL, nil), ""},
		{fld(base.FieldPassword, nil), ""},
		{fld(base.FieldDate, nil), ""},
		{fld(base.FieldAutodate, nil), ""},
		{fld(base.FieldNumber, nil), 0.0},
		{fld(base.FieldBool, nil), false},
		{fld(base.FieldSelect, nil), ""},
		{multi(base.FieldSelect), []string{}},
		{fld(base.FieldRelation, nil), ""},
		{multi(base.FieldRelation), []string{}},
		{fld(base.FieldFile, nil), ""},
		{multi(base.FieldFile), []string{}},
		{fld(base.FieldJSON, nil), nil},
		{fld(base.FieldGeoPoint, nil), GeoPoint{}},
	}
	for _, tt := range tests {
		if got := Zero(tt.field); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Zero(%s multiple=%v) = %#v, want %#v", tt.field.Type, tt.field.Multiple(), got, tt.want)
		}
	}
}

func TestValuesValidate(t *testing.T) {
	type tc struct {
		name   string
		field  *base.Field
		value  any
		code   string // "" = valid
		params map[string]any
		msg    string // checked when set
	}
	long := strings.Repeat("é", 5001)
	tests := []tc{
		// text
		{"text ok", fld(base.FieldText, nil), "hello", "", nil, ""},
		{"text empty optional", fld(base.FieldText, nil), "", "", nil, ""},
		{"text required", fld(base.FieldText, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, "Cannot be blank."},
		{"text min runes", fld(base.FieldText, func(f *base.Field) { f.Min = 3 }), "éé", "validation_min_text_constraint", map[string]any{"min": 3}, "Must be at least 3 character(s)."},
		{"text min counts runes not bytes", fld(base.FieldText, func(f *base.Field) { f.Min = 3 }), "ééé", "", nil, ""},
		{"text max", fld(base.FieldText, func(f *base.Field) { f.Max = 2 }), "abc", "validation_max_text_constraint", map[string]any{"max": 2}, "Must be no more than 2 character(s)."},
		{"text default max 5000", fld(base.FieldText, nil), long, "validation_max_text_constraint", map[string]any{"max": 5000}, ""},
		{"text at default max", fld(base.FieldText, nil), long[2:], "", nil, ""},
		{"text pattern ok", fld(base.FieldText, func(f *base.Field) { f.Pattern = `^[a-z]+$` }), "abc", "", nil, ""},
		{"text pattern fails", fld(base.FieldText, func(f *base.Field) { f.Pattern = `^[a-z]+$` }), "ab1", "validation_invalid_format", nil, "Invalid value format."},
		{"text pattern skipped when empty", fld(base.FieldText, func(f *base.Field) { f.Pattern = `^[a-z]+$` }), "", "", nil, ""},
		{"id field ok", base.RecordIDField(), "abcdefghij12345", "", nil, ""},
		{"id field blank", base.RecordIDField(), "", "validation_required", nil, ""},
		{"id field short", base.RecordIDField(), "abc", "validation_min_text_constraint", map[string]any{"min": 15}, ""},
		{"id field uppercase", base.RecordIDField(), "ABCDEFGHIJ12345", "validation_invalid_format", nil, ""},
		{"pk forbidden slash", fld(base.FieldText, func(f *base.Field) { f.PrimaryKey = true }), "a/b", "validation_pk_forbidden", map[string]any{"forbidden": "/"}, ""},
		{"text raw number normalized first", fld(base.FieldText, func(f *base.Field) { f.Max = 1 }), json.Number("12"), "validation_max_text_constraint", map[string]any{"max": 1}, ""},

		// editor
		{"editor required", fld(base.FieldEditor, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},
		{"editor size", fld(base.FieldEditor, func(f *base.Field) { f.MaxSize = 4 }), "<p>x</p>", "validation_content_size_limit", map[string]any{"maxSize": int64(4)}, "The maximum allowed content size is 4 bytes."},
		{"editor ok", fld(base.FieldEditor, nil), "<p>x</p>", "", nil, ""},

		// number
		{"number ok", fld(base.FieldNumber, nil), 1.5, "", nil, ""},
		{"number required zero", fld(base.FieldNumber, func(f *base.Field) { f.Required = true }), 0.0, "validation_required", nil, ""},
		{"number zero skips min", fld(base.FieldNumber, func(f *base.Field) { f.MinNumber = fptr(5) }), 0.0, "", nil, ""},
		{"number min", fld(base.FieldNumber, func(f *base.Field) { f.MinNumber = fptr(5) }), 4.0, "validation_min_number_constraint", map[string]any{"min": 5.0}, "Must be larger than 5.000000."},
		{"number max", fld(base.FieldNumber, func(f *base.Field) { f.MaxNumber = fptr(5) }), 6.0, "validation_max_number_constraint", map[string]any{"max": 5.0}, "Must be less than 5.000000."},
		{"number bounds inclusive", fld(base.FieldNumber, func(f *base.Field) { f.MinNumber = fptr(1); f.MaxNumber = fptr(5) }), 5.0, "", nil, ""},
		{"number only int", fld(base.FieldNumber, func(f *base.Field) { f.OnlyInt = true }), 1.5, "validation_only_int_constraint", nil, "Decimal numbers are not allowed."},
		{"number only int ok", fld(base.FieldNumber, func(f *base.Field) { f.OnlyInt = true }), 1e15, "", nil, ""},
		{"number NaN", fld(base.FieldNumber, nil), math.NaN(), "validation_not_a_number", nil, ""},
		{"number Inf", fld(base.FieldNumber, nil), math.Inf(1), "validation_not_a_number", nil, ""},
		{"number NaN string", fld(base.FieldNumber, nil), "NaN", "validation_not_a_number", nil, ""},

		// bool
		{"bool required false", fld(base.FieldBool, func(f *base.Field) { f.Required = true }), false, "validation_required", nil, ""},
		{"bool required true", fld(base.FieldBool, func(f *base.Field) { f.Required = true }), true, "", nil, ""},
		{"bool optional false", fld(base.FieldBool, nil), false, "", nil, ""},

		// email
		{"email ok", fld(base.FieldEmail, nil), "a.b+c@example.com", "", nil, ""},
		{"email unicode ok", fld(base.FieldEmail, nil), "jöhn@exämple.de", "", nil, ""},
		{"email no at", fld(base.FieldEmail, nil), "example.com", "validation_is_email", nil, "Must be a valid email address."},
		{"email no tld", fld(base.FieldEmail, nil), "a@localhost", "validation_is_email", nil, ""},
		{"email spaces", fld(base.FieldEmail, nil), "a b@example.com", "validation_is_email", nil, ""},
		{"email double dot", fld(base.FieldEmail, nil), "a..b@example.com", "validation_is_email", nil, ""},
		{"email required", fld(base.FieldEmail, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},
		{"email only domains", fld(base.FieldEmail, func(f *base.Field) { f.OnlyDomains = []string{"example.com"} }), "a@other.com", "validation_email_domain_not_allowed", nil, "Email domain is not allowed."},
		{"email only domains ok", fld(base.FieldEmail, func(f *base.Field) { f.OnlyDomains = []string{"example.com"} }), "a@example.com", "", nil, ""},
		{"email except domains", fld(base.FieldEmail, func(f *base.Field) { f.ExceptDomains = []string{"spam.com"} }), "a@spam.com", "validation_email_domain_not_allowed", nil, ""},

		// url
		{"url ok", fld(base.FieldURL, nil), "https://example.com/a?b=c#d", "", nil, ""},
		{"url no scheme", fld(base.FieldURL, nil), "example.com/x", "", nil, ""},
		{"url ip port", fld(base.FieldURL, nil), "http://127.0.0.1:8090/x", "", nil, ""},
		{"url localhost", fld(base.FieldURL, nil), "http://localhost:3000", "", nil, ""},
		{"url bad scheme", fld(base.FieldURL, nil), "javascript://alert(1)", "validation_invalid_url", nil, "Must be a valid url."},
		{"url bare word", fld(base.FieldURL, nil), "hello", "validation_invalid_url", nil, ""},
		{"url spaces", fld(base.FieldURL, nil), "http://exa mple.com", "validation_invalid_url", nil, ""},
		{"url bad port", fld(base.FieldURL, nil), "http://example.com:99999", "validation_invalid_url", nil, ""},
		{"url only domains", fld(base.FieldURL, func(f *base.Field) { f.OnlyDomains = []string{"example.com"} }), "https://evil.com", "validation_url_domain_not_allowed", nil, "Url domain is not allowed."},
		{"url except domains", fld(base.FieldURL, func(f *base.Field) { f.ExceptDomains = []string{"evil.com"} }), "https://evil.com/x", "validation_url_domain_not_allowed", nil, ""},
		{"url required", fld(base.FieldURL, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},

		// date
		{"date ok", fld(base.FieldDate, nil), "2024-05-01 10:20:30.123Z", "", nil, ""},
		{"date required", fld(base.FieldDate, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},
		{"date raw invalid", fld(base.FieldDate, nil), "not a date", "validation_invalid_date", nil, "Must be a valid date."},
		{"date raw rfc3339 ok", fld(base.FieldDate, nil), "2024-05-01T10:20:30Z", "", nil, ""},
		{"date min", fld(base.FieldDate, func(f *base.Field) { f.MinDate = "2024-01-01 00:00:00.000Z" }), "2023-12-31 23:59:59.999Z",
			"validation_min_greater_equal_than_required", map[string]any{"threshold": "2024-01-01 00:00:00.000Z"}, "Must be no less than 2024-01-01 00:00:00.000Z."},
		{"date max", fld(base.FieldDate, func(f *base.Field) { f.MaxDate = "2024-01-01 00:00:00.000Z" }), "2024-01-01 00:00:00.001Z",
			"validation_max_less_equal_than_required", map[string]any{"threshold": "2024-01-01 00:00:00.000Z"}, ""},
		{"date at min", fld(base.FieldDate, func(f *base.Field) { f.MinDate = "2024-01-01 00:00:00.000Z" }), "2024-01-01 00:00:00.000Z", "", nil, ""},
		{"autodate never fails", fld(base.FieldAutodate, nil), "", "", nil, ""},

		// select
		{"select single ok", fld(base.FieldSelect, func(f *base.Field) { f.Values = []string{"a", "b"} }), "a", "", nil, ""},
		{"select not in values", fld(base.FieldSelect, func(f *base.Field) { f.Values = []string{"a", "b"} }), "z", "validation_invalid_value", map[string]any{"value": "z"}, "Invalid value z."},
		{"select required", fld(base.FieldSelect, func(f *base.Field) { f.Values = []string{"a"}; f.Required = true }), "", "validation_required", nil, ""},
		{"select multi too many", fld(base.FieldSelect, func(f *base.Field) { f.Values = []string{"a", "b", "c"}; f.MaxSelect = 2 }), []string{"a", "b", "c"},
			"validation_too_many_values", map[string]any{"maxSelect": 2}, "Select no more than 2."},
		{"select multi ok", fld(base.FieldSelect, func(f *base.Field) { f.Values = []string{"a", "b", "c"}; f.MaxSelect = 2 }), []string{"a", "c"}, "", nil, ""},
		{"select multi required empty", fld(base.FieldSelect, func(f *base.Field) { f.Values = []string{"a", "b"}; f.MaxSelect = 2; f.Required = true }), []string{}, "validation_required", nil, ""},

		// relation
		{"relation ok", fld(base.FieldRelation, nil), "r1", "", nil, ""},
		{"relation required", fld(base.FieldRelation, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},
		{"relation min select", fld(base.FieldRelation, func(f *base.Field) { f.MaxSelect = 5; f.MinSelect = 2 }), []string{"r1"},
			"validation_not_enough_values", map[string]any{"minSelect": 2}, "Select at least 2."},
		{"relation max select", fld(base.FieldRelation, func(f *base.Field) { f.MaxSelect = 2 }), []string{"r1", "r2", "r3"},
			"validation_too_many_values", map[string]any{"maxSelect": 2}, ""},
		{"relation min select skipped when empty", fld(base.FieldRelation, func(f *base.Field) { f.MaxSelect = 5; f.MinSelect = 2 }), []string{}, "", nil, ""},

		// file
		{"file ok", fld(base.FieldFile, nil), "a.png", "", nil, ""},
		{"file required", fld(base.FieldFile, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},
		{"file too many", fld(base.FieldFile, func(f *base.Field) { f.MaxSelect = 2 }), []string{"a", "b", "c"},
			"validation_too_many_files", map[string]any{"maxSelect": 2}, "The maximum allowed files is 2."},

		// json
		{"json ok", fld(base.FieldJSON, nil), json.RawMessage(`{"a":1}`), "", nil, ""},
		{"json null optional", fld(base.FieldJSON, nil), nil, "", nil, ""},
		{"json required null", fld(base.FieldJSON, func(f *base.Field) { f.Required = true }), nil, "validation_required", nil, ""},
		{"json required empty array", fld(base.FieldJSON, func(f *base.Field) { f.Required = true }), json.RawMessage(`[]`), "validation_required", nil, ""},
		{"json required empty object", fld(base.FieldJSON, func(f *base.Field) { f.Required = true }), json.RawMessage(`{}`), "validation_required", nil, ""},
		{"json required empty string", fld(base.FieldJSON, func(f *base.Field) { f.Required = true }), json.RawMessage(`""`), "validation_required", nil, ""},
		{"json required zero ok", fld(base.FieldJSON, func(f *base.Field) { f.Required = true }), json.RawMessage(`0`), "", nil, ""},
		{"json size", fld(base.FieldJSON, func(f *base.Field) { f.MaxSize = 5 }), json.RawMessage(`[1,2,3]`),
			"validation_json_size_limit", map[string]any{"maxSize": int64(5)}, "The maximum allowed JSON size is 5 bytes."},
		{"json invalid raw", fld(base.FieldJSON, nil), json.RawMessage(`{oops`), "validation_invalid_json", nil, "Must be a valid json value."},

		// geoPoint
		{"geo ok", fld(base.FieldGeoPoint, nil), GeoPoint{Lon: 179, Lat: -89}, "", nil, ""},
		{"geo required zero", fld(base.FieldGeoPoint, func(f *base.Field) { f.Required = true }), GeoPoint{}, "validation_required", nil, ""},
		{"geo lat range", fld(base.FieldGeoPoint, nil), GeoPoint{Lon: 1, Lat: 91}, "validation_invalid_latitude", nil, ""},
		{"geo lon range", fld(base.FieldGeoPoint, nil), GeoPoint{Lon: -181, Lat: 1}, "validation_invalid_longitude", nil, ""},
		{"geo NaN", fld(base.FieldGeoPoint, nil), GeoPoint{Lon: 1, Lat: math.NaN()}, "validation_invalid_latitude", nil, ""},

		// password
		{"password min", fld(base.FieldPassword, func(f *base.Field) { f.Min = 8 }), "short", "validation_min_text_constraint", map[string]any{"min": 8}, ""},
		{"password required", fld(base.FieldPassword, func(f *base.Field) { f.Required = true }), "", "validation_required", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(tt.field, tt.value)
			if tt.code == "" {
				if got != nil {
					t.Fatalf("Validate(%#v) = %+v, want valid", tt.value, got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Validate(%#v) = nil, want %s", tt.value, tt.code)
			}
			if got.Code != tt.code {
				t.Errorf("code = %q, want %q (message %q)", got.Code, tt.code, got.Message)
			}
			if !reflect.DeepEqual(got.Params, tt.params) {
				t.Errorf("params = %#v, want %#v", got.Params, tt.params)
			}
			if tt.msg != "" && got.Message != tt.msg {
				t.Errorf("message = %q, want %q", got.Message, tt.msg)
			}
			if !strings.HasSuffix(got.Message, ".") {
				t.Errorf("message %q is not a sentence", got.Message)
			}
		})
	}
}

// storageColumn is the SQLite column of each field type per the storage
// conventions.
func storageColumn(f *base.Field) string {
	switch f.Type {
	case base.FieldNumber:
		return "NUMERIC NOT NULL DEFAULT 0"
	case base.FieldBool:
		return "BOOLEAN NOT NULL DEFAULT FALSE"
	case base.FieldJSON:
		return "JSON DEFAULT NULL"
	case base.FieldGeoPoint:
		return `JSON NOT NULL DEFAULT '{"lon":0,"lat":0}'`
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		if f.Multiple() {
			return "JSON NOT NULL DEFAULT '[]'"
		}
	}
	return "TEXT NOT NULL DEFAULT ''"
}

func TestValuesRoundTrip(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })

	tests := []struct {
		name  string
		field *base.Field
		value any // normalized
		enc   any // expected Encode output
	}{
		{"text", fld(base.FieldText, nil), "héllo 'x' \"y\"", "héllo 'x' \"y\""},
		{"text numeric looking", fld(base.FieldText, nil), "0012", "0012"},
		{"text empty", fld(base.FieldText, nil), "", ""},
		{"editor", fld(base.FieldEditor, nil), "<p>x</p>", "<p>x</p>"},
		{"email", fld(base.FieldEmail, nil), "a@b.co", "a@b.co"},
		{"url", fld(base.FieldURL, nil), "https://x.io", "https://x.io"},
		{"password", fld(base.FieldPassword, nil), "secret", "secret"},
		{"number int", fld(base.FieldNumber, nil), 42.0, 42.0},
		{"number float", fld(base.FieldNumber, nil), -1.25, -1.25},
		{"number zero", fld(base.FieldNumber, nil), 0.0, 0.0},
		{"number big", fld(base.FieldNumber, nil), 9007199254740991.0, 9007199254740991.0},
		{"bool true", fld(base.FieldBool, nil), true, true},
		{"bool false", fld(base.FieldBool, nil), false, false},
		{"date", fld(base.FieldDate, nil), "2024-05-01 10:20:30.123Z", "2024-05-01 10:20:30.123Z"},
		{"date empty", fld(base.FieldDate, nil), "", ""},
		{"autodate", fld(base.FieldAutodate, nil), "2024-05-01 10:20:30.000Z", "2024-05-01 10:20:30.000Z"},
		{"select single", fld(base.FieldSelect, nil), "a", "a"},
		{"select single empty", fld(base.FieldSelect, nil), "", ""},
		{"select multi", multi(base.FieldSelect), []string{"b", "a"}, `["b","a"]`},
		{"select multi empty", multi(base.FieldSelect), []string{}, `[]`},
		{"relation single", fld(base.FieldRelation, nil), "r1", "r1"},
		{"relation multi", multi(base.FieldRelation), []string{"r1", "r2"}, `["r1","r2"]`},
		{"file single", fld(base.FieldFile, nil), "a_x.png", "a_x.png"},
		{"file multi", multi(base.FieldFile), []string{"a.png", "b<c>.png"}, `["a.png","b<c>.png"]`},
		{"json object", fld(base.FieldJSON, nil), json.RawMessage(`{"a":[1,"x"]}`), `{"a":[1,"x"]}`},
		{"json integer", fld(base.FieldJSON, nil), json.RawMessage(`12`), `12`},
		{"json float", fld(base.FieldJSON, nil), json.RawMessage(`1.5`), `1.5`},
		{"json bool", fld(base.FieldJSON, nil), json.RawMessage(`true`), `true`},
		{"json string", fld(base.FieldJSON, nil), json.RawMessage(`"12"`), `"12"`},
		{"json empty string", fld(base.FieldJSON, nil), json.RawMessage(`""`), `""`},
		{"json null", fld(base.FieldJSON, nil), nil, nil},
		{"geo", fld(base.FieldGeoPoint, nil), GeoPoint{Lon: 12.5, Lat: -45.25}, `{"lon":12.5,"lat":-45.25}`},
		{"geo zero", fld(base.FieldGeoPoint, nil), GeoPoint{}, `{"lon":0,"lat":0}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := Encode(tt.field, tt.value)
			if !reflect.DeepEqual(enc, tt.enc) {
				t.Fatalf("Encode = %#v, want %#v", enc, tt.enc)
			}
			// Pure round trip.
			if got := Decode(tt.field, enc); !reflect.DeepEqual(got, tt.value) {
				t.Errorf("Decode(Encode) = %#v, want %#v", got, tt.value)
			}
			// Through a real SQLite column of the conventional type.
			table := fmt.Sprintf("t%d", i)
			if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE %q (v %s)`, table, storageColumn(tt.field))); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(fmt.Sprintf(`INSERT INTO %q (v) VALUES (?)`, table), enc); err != nil {
				t.Fatal(err)
			}
			var scanned any
			if err := db.QueryRow(fmt.Sprintf(`SELECT v FROM %q`, table)).Scan(&scanned); err != nil {
				t.Fatal(err)
			}
			if got := Decode(tt.field, scanned); !reflect.DeepEqual(got, tt.value) {
				t.Errorf("Decode(sqlite %T %#v) = %#v, want %#v", scanned, scanned, got, tt.value)
			}
		})
	}
}

func TestValuesDecodeScannedForms(t *testing.T) {
	tests := []struct {
		name  string
		field *base.Field
		src   any
		want  any
	}{
		{"number from int64", fld(base.FieldNumber, nil), int64(7), 7.0},
		{"number from text", fld(base.FieldNumber, nil), "2.5", 2.5},
		{"number from bytes", fld(base.FieldNumber, nil), []byte("3"), 3.0},
		{"number null", fld(base.FieldNumber, nil), nil, 0.0},
		{"bool from int64", fld(base.FieldBool, nil), int64(1), true},
		{"bool from zero", fld(base.FieldBool, nil), int64(0), false},
		{"bool from text", fld(base.FieldBool, nil), "true", true},
		{"text from bytes", fld(base.FieldText, nil), []byte("x"), "x"},
		{"text from int64", fld(base.FieldText, nil), int64(12), "12"},
		{"text null", fld(base.FieldText, nil), nil, ""},
		{"json from int64 (numeric affinity)", fld(base.FieldJSON, nil), int64(12), json.RawMessage(`12`)},
		{"json from float64", fld(base.FieldJSON, nil), 1.5, json.RawMessage(`1.5`)},
		{"json from bytes", fld(base.FieldJSON, nil), []byte(`{"a": 1}`), json.RawMessage(`{"a":1}`)},
		{"json text null", fld(base.FieldJSON, nil), "null", nil},
		{"json empty", fld(base.FieldJSON, nil), "", nil},
		{"multi from plain string (was single)", multi(base.FieldSelect), "a", []string{"a"}},
		{"multi null", multi(base.FieldRelation), nil, []string{}},
		{"single from array (was multi)", fld(base.FieldRelation, nil), `["a","b"]`, "b"},
		{"geo from bytes", fld(base.FieldGeoPoint, nil), []byte(`{"lon":1,"lat":2}`), GeoPoint{Lon: 1, Lat: 2}},
		{"geo malformed", fld(base.FieldGeoPoint, nil), "x", GeoPoint{}},
		{"date malformed", fld(base.FieldDate, nil), "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decode(tt.field, tt.src); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%#v) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestValuesExport(t *testing.T) {
	tests := []struct {
		name  string
		field *base.Field
		value any
		want  string // JSON
	}{
		{"text", fld(base.FieldText, nil), "a\"b", `"a\"b"`},
		{"number int", fld(base.FieldNumber, nil), 12.0, `12`},
		{"number float", fld(base.FieldNumber, nil), 0.5, `0.5`},
		{"bool", fld(base.FieldBool, nil), true, `true`},
		{"date", fld(base.FieldDate, nil), "", `""`},
		{"select single", fld(base.FieldSelect, nil), "a", `"a"`},
		{"select multi", multi(base.FieldSelect), []string{"a"}, `["a"]`},
		{"multi nil is empty array", multi(base.FieldRelation), nil, `[]`},
		{"multi from missing", multi(base.FieldFile), ([]string)(nil), `[]`},
		{"json raw", fld(base.FieldJSON, nil), json.RawMessage(`{"a":[1]}`), `{"a":[1]}`},
		{"json null", fld(base.FieldJSON, nil), nil, `null`},
		{"geo", fld(base.FieldGeoPoint, nil), GeoPoint{Lon: 1, Lat: 2}, `{"lon":1,"lat":2}`},
		{"geo zero", fld(base.FieldGeoPoint, nil), nil, `{"lon":0,"lat":0}`},
		{"password never", fld(base.FieldPassword, nil), "secret", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(Export(tt.field, tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("Export JSON = %s, want %s", b, tt.want)
			}
		})
	}
}

func TestValuesGeoPointJSON(t *testing.T) {
	b, err := json.Marshal(GeoPoint{Lon: 1.5, Lat: 2})
	if err != nil || string(b) != `{"lon":1.5,"lat":2}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var p GeoPoint
	if err := json.Unmarshal([]byte(`{"lat":3,"lon":4}`), &p); err != nil || p != (GeoPoint{Lon: 4, Lat: 3}) {
		t.Fatalf("unmarshal = %+v, %v", p, err)
	}
}

// sameValue is reflect.DeepEqual with NaN equal to itself.
func sameValue(a, b any) bool {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok && math.IsNaN(x) && math.IsNaN(y) {
			return true
		}
	}
	if x, ok := a.(GeoPoint); ok {
		if y, ok := b.(GeoPoint); ok {
			return sameValue(x.Lon, y.Lon) && sameValue(x.Lat, y.Lat)
		}
	}
	return reflect.DeepEqual(a, b)
}

// allFields is one field of every type and cardinality, for fuzzing.
func allFields() []*base.Field {
	var out []*base.Field
	for _, t := range base.FieldTypes {
		out = append(out, fld(t, func(f *base.Field) {
			f.Values = []string{"a", "b"}
			f.Pattern = `^\w*$`
			f.MinNumber = fptr(-10)
			f.MaxNumber = fptr(10)
			f.MinDate = "2000-01-01 00:00:00.000Z"
			f.Required = true
		}))
		switch t {
		case base.FieldSelect, base.FieldRelation, base.FieldFile:
			out = append(out, multi(t))
		}
	}
	return out
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		`null`, `true`, `12`, `-1.5e300`, `"x"`, `""`, `"2024-05-01T10:20:30Z"`, `"[\"a\",1]"`,
		`[1,"a",null,{"b":2}]`, `{"lon":"1","lat":2}`, `{"lon":1e400}`, `"NaN"`, `"\u0000"`, `"{\"a\":"`,
		`[[["deep"]]]`, "[\"\xa3\"]", "\xa3\xa4", `"9999-12-31 23:59:59.999Z"`, `"-0001-01-01"`, `1e21`,
	} {
		f.Add(s)
	}
	fields := allFields()
	f.Fuzz(func(t *testing.T, doc string) {
		d := json.NewDecoder(strings.NewReader(doc))
		d.UseNumber()
		var raw any
		if err := d.Decode(&raw); err != nil {
			raw = doc // multipart values arrive as plain strings
		}
		for _, fl := range fields {
			v := Normalize(fl, raw)
			if !isNormalized(fl, v) {
				t.Fatalf("Normalize(%s, %#v) = %#v: not normalized", fl.Type, raw, v)
			}
			if !sameValue(Normalize(fl, v), v) {
				t.Fatalf("Normalize(%s) not idempotent on %#v", fl.Type, v)
			}
			_ = Validate(fl, v)
			_ = Validate(fl, raw)
			enc := Encode(fl, v)
			back := Decode(fl, enc)
			if fl.Type == base.FieldGeoPoint {
				v = finitePoint(v.(GeoPoint))
			}
			if !sameValue(back, v) {
				t.Fatalf("Decode(Encode(%s %#v)) = %#v", fl.Type, v, back)
			}
			if fl.Type == base.FieldNumber && (math.IsNaN(v.(float64)) || math.IsInf(v.(float64), 0)) {
				continue // never stored: Validate rejects it
			}
			if _, err := json.Marshal(Export(fl, v)); err != nil {
				t.Fatalf("Export(%s %#v) not marshalable: %v", fl.Type, v, err)
			}
			if raw, ok := v.(json.RawMessage); ok && json.Valid(raw) {
				var buf bytes.Buffer
				if json.Compact(&buf, raw) != nil || !bytes.Equal(buf.Bytes(), raw) {
					t.Fatalf("json value %s not compact", raw)
				}
			}
		}
	})
}

func BenchmarkNormalizeValidateEncode(b *testing.B) {
	fields := allFields()
	input := decodeJSON(b, `{"a":["x","y"],"lon":1,"lat":2}`)
	for b.Loop() {
		for _, f := range fields {
			v := Normalize(f, input)
			_ = Validate(f, v)
			_ = Encode(f, v)
		}
	}
}

package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base"
)

type respondItem struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Inner struct {
		A int `json:"a"`
		B int `json:"b"`
	} `json:"inner"`
}

type marshalerValue struct{}

func (marshalerValue) MarshalJSON() ([]byte, error) { return []byte(`{"x":1,"y":2}`), nil }

func TestWriteJSON(t *testing.T) {
	rec := func() map[string]any {
		return map[string]any{"id": "r1", "title": "<b>a & b</b>", "n": 1.5, "expand": map[string]any{"author": map[string]any{"id": "u1", "name": "Ann"}}}
	}
	item := respondItem{ID: "i1", Name: "n"}
	item.Inner.A, item.Inner.B = 1, 2

	tests := []struct {
		name   string
		target string
		status int
		v      any
		want   string
	}{
		{"map no fields, html not escaped", "/x", 200, rec(),
			`{"expand":{"author":{"id":"u1","name":"Ann"}},"id":"r1","n":1.5,"title":"<b>a & b</b>"}`},
		{"map with fields", "/x?fields=id,expand.author.name", 200, rec(),
			`{"expand":{"author":{"name":"Ann"}},"id":"r1"}`},
		{"percent-encoded fields", "/x?fields=id%2Ctitle", 200, rec(),
			`{"id":"r1","title":"<b>a & b</b>"}`},
		{"fields with excerpt", "/x?fields=title%3Aexcerpt(3%2Ctrue)", 200, rec(),
			`{"title":"a &..."}`},
		{"fields ignored on non-2xx", "/x?fields=id", 400, rec(),
			`{"expand":{"author":{"id":"u1","name":"Ann"}},"id":"r1","n":1.5,"title":"<b>a & b</b>"}`},
		{"fields on 201", "/x?fields=id", 201, rec(), `{"id":"r1"}`},
		{"list picks items only", "/x?fields=id", 200,
			listResult{Page: 2, PerPage: 30, TotalItems: 31, TotalPages: 2, Items: []any{rec(), item}},
			`{"page":2,"perPage":30,"totalItems":31,"totalPages":2,"items":[{"id":"r1"},{"id":"i1"}]}`},
		{"list page key is not picked away", "/x?fields=page", 200,
			listResult{Page: 1, PerPage: 30, TotalItems: 1, TotalPages: 1, Items: []any{rec()}},
			`{"page":1,"perPage":30,"totalItems":1,"totalPages":1,"items":[{}]}`},
		{"list pointer", "/x?fields=name", 200,
			&listResult{Page: 1, PerPage: 1, TotalItems: 1, TotalPages: 1, Items: []any{item}},
			`{"page":1,"perPage":1,"totalItems":1,"totalPages":1,"items":[{"name":"n"}]}`},
		{"nil items encode as []", "/x", 200, listResult{Page: 1, PerPage: 30},
			`{"page":1,"perPage":30,"totalItems":0,"totalPages":0,"items":[]}`},
		{"nil items with fields", "/x?fields=id", 200, &listResult{Page: 1, PerPage: 30},
			`{"page":1,"perPage":30,"totalItems":0,"totalPages":0,"items":[]}`},
		{"struct without fields", "/x", 200, item, `{"id":"i1","name":"n","inner":{"a":1,"b":2}}`},
		{"struct with fields", "/x?fields=inner.b,id", 200, item, `{"id":"i1","inner":{"b":2}}`},
		{"marshaler with fields", "/x?fields=y", 200, marshalerValue{}, `{"y":2}`},
		{"array of maps", "/x?fields=id", 200, []any{rec(), rec()}, `[{"id":"r1"},{"id":"r1"}]`},
		{"typed slice of maps", "/x?fields=n", 200, []map[string]any{rec()}, `[{"n":1.5}]`},
		{"other query params only", "/x?filter=a&sort=-created", 200, map[string]any{"a": 1}, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			before := canonicalJSON(t, tt.v)
			writeJSON(w, r, tt.status, tt.v)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length = %q, body %d bytes", cl, w.Body.Len())
			}
			if got := strings.TrimSuffix(w.Body.String(), "\n"); got != tt.want {
				t.Errorf("body\n got  %s\n want %s", got, tt.want)
			}
			if after := canonicalJSON(t, tt.v); after != before {
				t.Errorf("value modified:\n before %s\n after  %s", before, after)
			}
		})
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	logger, lines := jsonLogs(t)
	h := chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, 200, map[string]any{"c": math.NaN()})
	}), accessLog(logger))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	want := `{"status":500,"message":"Something went wrong while processing your request.","data":{}}` + "\n"
	if w.Code != 500 || w.Body.String() != want {
		t.Errorf("got %d %s", w.Code, w.Body.String())
	}
	ls := lines()
	if len(ls) != 2 || ls[0]["msg"] != "request failed" || !strings.Contains(ls[0]["error"].(string), "encode response") || ls[1]["status"] != 500.0 {
		t.Errorf("logs = %v", ls)
	}
}

func TestWriteJSONNilRequest(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, nil, 200, map[string]any{"a": 1})
	if w.Body.String() != "{\"a\":1}\n" {
		t.Errorf("got %s", w.Body.String())
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		status  int
		want    string
		logged  bool
		leakOut string // must not appear in the body
	}{
		{
			"field errors", base.BadRequest("failed to create record", map[string]any{
				"title": base.ErrRequired,
				"slug":  base.NewFieldError("validation_length_out_of_range", "must be between 3 and 10", map[string]any{"min": 3, "max": 10}),
			}), 400,
			`{"status":400,"message":"Failed to create record.","data":{"slug":{"code":"validation_length_out_of_range","message":"Must be between 3 and 10.","params":{"max":10,"min":3}},"title":{"code":"validation_required","message":"Cannot be blank."}}}`,
			false, "",
		},
		{
			"nested data and raw errors", base.BadRequest("", map[string]any{
				"fields": map[string]any{"0": map[string]any{"name": base.ErrNotUnique}},
				"other":  errors.New("secret db detail"),
				"value":  base.FieldError{Code: "c", Message: "lower case"},
			}), 400,
			`{"status":400,"message":"Something went wrong while processing your request.","data":{"fields":{"0":{"name":{"code":"validation_not_unique","message":"Value must be unique."}}},"other":{"code":"validation_invalid_value","message":"Invalid value."},"value":{"code":"c","message":"Lower case."}}}`,
			false, "secret",
		},
		{
			"batch nested error envelope", base.BadRequest("Batch transaction failed.", map[string]any{
				"requests": map[string]any{"1": map[string]any{
					"code": "batch_request_failed", "message": "Batch request failed.",
					"response": base.NotFound(""),
				}},
			}), 400,
			`{"status":400,"message":"Batch transaction failed.","data":{"requests":{"1":{"code":"batch_request_failed","message":"Batch request failed.","response":{"status":404,"message":"The requested resource wasn't found.","data":{}}}}}}`,
			false, "",
		},
		{"not found nil data", base.NotFound(""), 404,
			`{"status":404,"message":"The requested resource wasn't found.","data":{}}`, false, ""},
		{"wrapped", fmt.Errorf("view: %w", base.Forbidden("only superusers can perform this action")), 403,
			`{"status":403,"message":"Only superusers can perform this action.","data":{}}`, false, ""},
		{"literal needs sentenizing", &base.Error{Status: 401, Message: "nope"}, 401,
			`{"status":401,"message":"Nope.","data":{}}`, false, ""},
		{"too large", base.TooLarge(""), 413,
			`{"status":413,"message":"Request entity too large.","data":{}}`, false, ""},
		{"raw error is a 500 without its cause", errors.New("dial tcp 10.0.0.1: refused"), 500,
			`{"status":500,"message":"Something went wrong while processing your request.","data":{}}`, true, "10.0.0.1"},
		{"503 keeps message not cause", base.Unavailable(errors.New("redis down at 10.0.0.2")), 503,
			`{"status":503,"message":"Service temporarily unavailable.","data":{}}`, true, "10.0.0.2"},
		{"5xx data dropped", &base.Error{Status: 500, Message: "boom", Data: map[string]any{"q": "select secret"}}, 500,
			`{"status":500,"message":"Boom.","data":{}}`, true, "select"},
		{"bad status becomes 500", &base.Error{Status: 0}, 500,
			`{"status":500,"message":"Something went wrong while processing your request.","data":{}}`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPatch, "/api/collections/posts/records/x?fields=id", nil)
			writeError(w, r, logger, tt.err)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := strings.TrimSuffix(w.Body.String(), "\n"); got != tt.want {
				t.Errorf("body\n got  %s\n want %s", got, tt.want)
			}
			if tt.leakOut != "" && strings.Contains(w.Body.String(), tt.leakOut) {
				t.Errorf("body leaks %q", tt.leakOut)
			}
			if tt.logged {
				l := logs.String()
				for _, want := range []string{"level=ERROR", "method=PATCH", "path=/api/collections/posts/records/x", "status=" + strconv.Itoa(tt.status)} {
					if !strings.Contains(l, want) {
						t.Errorf("log %q lacks %q", l, want)
					}
				}
				if tt.leakOut != "" && !strings.Contains(l, tt.leakOut) {
					t.Errorf("log %q lacks the cause %q", l, tt.leakOut)
				}
			} else if logs.Len() != 0 {
				t.Errorf("unexpected log: %s", logs.String())
			}
		})
	}
}

func TestWriteNoContent(t *testing.T) {
	w := httptest.NewRecorder()
	writeNoContent(w)
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
}

// benchRecords builds n record-like maps.
func benchRecords(n int) []any {
	items := make([]any, n)
	for i := range items {
		items[i] = map[string]any{
			"id":             fmt.Sprintf("rec%012d", i),
			"collectionId":   "pbc_1234567890",
			"collectionName": "posts",
			"title":          "A reasonably long title for record " + strconv.Itoa(i),
			"body":           "<p>Some <b>HTML</b> body text that is long enough to matter.</p>",
			"views":          float64(i * 7),
			"published":      i%2 == 0,
			"tags":           []any{"go", "db", "http"},
			"author":         "user00000001",
			"created":        "2026-01-02 03:04:05.678Z",
			"updated":        "2026-01-02 03:04:05.678Z",
			"expand": map[string]any{
				"author": map[string]any{"id": "user00000001", "name": "Ann", "email": "ann@example.com"},
			},
		}
	}
	return items
}

// discardWriter is a ResponseWriter that keeps nothing, so benchmarks
// measure writeJSON rather than the recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkWriteJSON(b *testing.B) {
	list := listResult{Page: 1, PerPage: 20, TotalItems: 20, TotalPages: 1, Items: benchRecords(20)}
	for _, bc := range []struct{ name, target string }{
		{"list20", "/api/collections/posts/records"},
		{"list20-fields", "/api/collections/posts/records?fields=id,title,expand.author.name"},
		{"list20-excerpt", "/api/collections/posts/records?fields=*,body:excerpt(20,true)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, bc.target, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				writeJSON(w, r, http.StatusOK, list)
			}
		})
	}
}

// stdlibJSON encodes v as writeJSON promises to: a json.Encoder with
// SetEscapeHTML(false).
func stdlibJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.String(), err
}

type encStruct struct {
	When time.Time `json:"when"`
	S    string    `json:"s"`
}

func TestEncodeJSONMatchesStdlib(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	values := []any{
		nil, "", "plain", "<b>&</b>", "quote\" back\\ slash", "\b\f\n\r\t\x00\x1f\x7f", "bad \xff utf8 \xc3",
		"line\u2028sep\u2029", "héllo 世界 🎉", true, false,
		0.0, -0.0, 1.0, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64, 0.1 + 0.2,
		7, int64(-9), json.Number("12.50"), json.Number(""), json.Number("-0.1e+5"),
		map[string]any{}, map[string]any(nil), []any{}, []any(nil), []string{"a", "<"}, []string(nil),
		[]map[string]any{{"b": 1.0, "a": nil}}, []map[string]any(nil),
		map[string]any{"z": 1.0, "a": []any{map[string]any{"y": "\n", "x": when}}, "": "empty key", "é": 1, "a\"b": 2},
		encStruct{When: when, S: "<x>"}, &encStruct{S: "p"}, map[string]string{"k": "v"}, []int{1, 2},
		listResult{Page: 1, PerPage: 2, TotalItems: 3, TotalPages: 4, Items: []any{map[string]any{"id": "x"}, encStruct{}}},
		&listResult{Page: 1, Items: []any{}},
		marshalerValue{},
	}
	for _, v := range values {
		want, werr := stdlibJSON(v)
		b, err := encodeJSON(v)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%#v: err %v, stdlib err %v", v, err, werr)
		}
		if err != nil {
			continue
		}
		if got := string(b.out); got != want {
			t.Errorf("%#v:\n got  %q\n want %q", v, got, want)
		}
		releaseJSON(b)
	}
}

func TestEncodeJSONErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for _, v := range []any{
		math.NaN(), math.Inf(1), map[string]any{"a": math.Inf(-1)}, json.Number("1x"), json.Number("01"),
		json.Number("1 "), json.Number("abc"), []any{make(chan int)}, cyclic,
	} {
		if _, err := encodeJSON(v); err == nil {
			t.Errorf("%v: no error", v)
		}
	}
}

func FuzzEncodeJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\u2028", "\xff", "<>&", "\x00\"\\", "é世🎉"} {
		f.Add(s, 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		v := map[string]any{s: []any{s, x}}
		want, werr := stdlibJSON(v)
		b, err := encodeJSON(v)
		if (err != nil) != (werr != nil) {
			t.Fatalf("err %v, stdlib err %v", err, werr)
		}
		if err == nil && string(b.out) != want {
			t.Fatalf("got %q, want %q", b.out, want)
		}
	})
}

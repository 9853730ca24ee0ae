package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"testing"

	"github.com/hanzoai/base"
)

// part is one multipart part; a non-empty filename makes it a file part.
type part struct {
	name, filename, content string
}

// multipartBody encodes parts and returns the body and its Content-Type.
func multipartBody(tb testing.TB, parts ...part) (*bytes.Buffer, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var (
			w   io.Writer
			err error
		)
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"`)
			w, err = mw.CreatePart(h)
		}
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(w, p.content); err != nil {
			tb.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

func newBodyRequest(method, contentType string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, "/api/collections/posts/records", body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// wantBaseError checks err is a *base.Error with status and message.
func wantBaseError(tb testing.TB, err error, status int, message string) {
	tb.Helper()
	var be *base.Error
	if !errors.As(err, &be) {
		tb.Fatalf("err = %v (%T), want *base.Error", err, err)
	}
	if be.Status != status {
		tb.Errorf("status = %d, want %d (%v)", be.Status, status, err)
	}
	if message != "" && be.Message != message {
		tb.Errorf("message = %q, want %q", be.Message, message)
	}
}

func TestReadBodyJSON(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		want        string // canonical Data JSON; "" means an error is expected
		status      int
		message     string
	}{
		{"object", "POST", "application/json", `{"title":"x","n":12.50,"big":12345678901234567890,"a":[1,"b"],"o":{"k":null}}`,
			`{"a":[1,"b"],"big":12345678901234567890,"n":12.50,"o":{"k":null},"title":"x"}`, 0, ""},
		{"charset param", "PATCH", "application/json; charset=utf-8", `{"a":true}`, `{"a":true}`, 0, ""},
		{"no content type", "POST", "", `{"a":1}`, `{"a":1}`, 0, ""},
		{"+json type", "POST", "application/merge-patch+json", `{"a":1}`, `{"a":1}`, 0, ""},
		{"empty object", "POST", "application/json", `{}`, `{}`, 0, ""},
		{"SDK GET with json type and no body", "GET", "application/json", ``, `{}`, 0, ""},
		{"SDK DELETE with json type and no body", "DELETE", "application/json", ``, `{}`, 0, ""},
		{"whitespace only", "POST", "application/json", " \n\t", `{}`, 0, ""},
		{"empty multipart type", "POST", "multipart/form-data; boundary=x", ``, `{}`, 0, ""},
		{"empty unknown type", "POST", "text/plain", ``, `{}`, 0, ""},
		{"array", "POST", "application/json", `[1,2]`, "", 400, errInvalidBody},
		{"null", "POST", "application/json", `null`, "", 400, errInvalidBody},
		{"number", "POST", "application/json", `12`, "", 400, errInvalidBody},
		{"string", "POST", "application/json", `"x"`, "", 400, errInvalidBody},
		{"malformed", "POST", "application/json", `{"a":`, "", 400, errInvalidBody},
		{"bad token", "POST", "application/json", `{a:1}`, "", 400, errInvalidBody},
		{"trailing garbage", "POST", "application/json", `{"a":1} x`, "", 400, errInvalidBody},
		{"two objects", "POST", "application/json", `{"a":1}{"b":2}`, "", 400, errInvalidBody},
		{"unsupported type", "POST", "text/plain", `{"a":1}`, "", 400, "Unsupported Content-Type."},
		{"garbage type", "POST", "a/b/c;;", `{"a":1}`, "", 400, "Unsupported Content-Type."},
		{"multipart without boundary", "POST", "multipart/form-data", `--x--`, "", 400, errInvalidBody},
		{"multipart malformed", "POST", "multipart/form-data; boundary=x", `garbage`, "", 400, errInvalidBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newBodyRequest(tt.method, tt.contentType, strings.NewReader(tt.body))
			got, err := readBody(r, 1<<20)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("no error, data %v", got.Data)
				}
				wantBaseError(t, err, tt.status, tt.message)
				return
			}
			if err != nil {
				t.Fatalf("readBody: %v", err)
			}
			if s := canonicalJSON(t, got.Data); s != tt.want {
				t.Errorf("data\n got  %s\n want %s", s, tt.want)
			}
		})
	}
}

func TestReadBodyJSONNumbers(t *testing.T) {
	r := newBodyRequest("POST", "application/json", strings.NewReader(`{"n":1.0}`))
	got, err := readBody(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := got.Data["n"].(json.Number); !ok || n != "1.0" {
		t.Errorf("n = %#v, want json.Number(\"1.0\")", got.Data["n"])
	}
}

func TestReadBodyTooLarge(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	mp, mpType := multipartBody(t, part{name: "a", content: "1"}, part{name: "f", filename: "f.txt", content: strings.Repeat("y", 5000)})
	form := "a=" + strings.Repeat("z", 2000)
	tests := []struct {
		name        string
		contentType string
		body        string
		chunked     bool
	}{
		{"json declared length", "application/json", big, false},
		{"json streamed", "application/json", big, true},
		{"multipart streamed", mpType, mp.String(), true},
		{"multipart declared length", mpType, mp.String(), false},
		{"urlencoded streamed", "application/x-www-form-urlencoded", form, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newBodyRequest("POST", tt.contentType, strings.NewReader(tt.body))
			if tt.chunked {
				r.ContentLength = -1
			}
			_, err := readBody(r, 1000)
			wantBaseError(t, err, http.StatusRequestEntityTooLarge, "Request entity too large.")
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		body := `{"a":"` + strings.Repeat("x", 992) + `"}`
		r := newBodyRequest("POST", "application/json", strings.NewReader(body))
		r.ContentLength = -1
		if _, err := readBody(r, int64(len(body))); err != nil {
			t.Fatalf("body of exactly maxBytes: %v", err)
		}
	})
}

func TestReadBodyMultipartInference(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"", ""},
		{"true", true},
		{"false", false},
		{"True", "True"},
		{"12", 12.0},
		{"-1.5", -1.5},
		{"0", 0.0},
		{"-0", -0.0},
		{"0.5", 0.5},
		{"012", "012"},
		{"1.0", "1.0"},
		{"1.50", "1.50"},
		{".5", ".5"},
		{"+1", "+1"},
		{"1e3", "1e3"},
		{"1000000000000000000000", 1e21},
		{"12345678901234567890", "12345678901234567890"},
		{"NaN", "NaN"},
		{"Inf", "Inf"},
		{" 1", " 1"},
		{"null", "null"},
		{"[1]", "[1]"},
		{"abc", "abc"},
	}
	parts := make([]part, len(tests))
	for i, tt := range tests {
		parts[i] = part{name: "k" + string(rune('a'+i)), content: tt.in}
	}
	body, ct := multipartBody(t, parts...)
	got, err := readBody(newBodyRequest("POST", ct, body), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		v := got.Data["k"+string(rune('a'+i))]
		if v != tt.want {
			t.Errorf("%q → %#v (%T), want %#v (%T)", tt.in, v, v, tt.want, tt.want)
		}
	}
	for i, tt := range tests {
		if v := inferValue(tt.in); v != tt.want {
			t.Errorf("inferValue(%q) = %#v, want %#v", tt.in, v, tt.want)
		}
		_ = i
	}
}

func TestReadBodyMultipart(t *testing.T) {
	body, ct := multipartBody(t,
		part{name: "title", content: "plain"},
		part{name: "tags", content: "a"},
		part{name: "tags", content: "2"},
		part{name: "flag", content: "true"},
		part{name: "@jsonPayload", content: `{"title":"from payload","meta":{"n":1.0,"b":"true"},"tags":["x"]}`},
		part{name: "@jsonPayload", content: `{"meta":null,"extra":"12"}`},
		part{name: "documents", filename: "a.txt", content: "AAA"},
		part{name: "documents", filename: "b.txt", content: "BBB"},
		part{name: "documents+", filename: "c.txt", content: "C"},
		part{name: "+avatar", filename: "d.png", content: "D"},
		part{name: "documents", content: "existing_abc.txt"},
	)
	got, err := readBody(newBodyRequest("POST", ct, body), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"documents":"existing_abc.txt","extra":"12","flag":true,"meta":null,"tags":["x"],"title":"from payload"}`
	if s := canonicalJSON(t, got.Data); s != want {
		t.Errorf("data\n got  %s\n want %s", s, want)
	}
	files := map[string][]string{}
	for k, fhs := range got.Files {
		for _, fh := range fhs {
			f, err := fh.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(f)
			f.Close()
			files[k] = append(files[k], fh.Filename+"="+string(b))
		}
	}
	wantFiles := `{"+avatar":["d.png=D"],"documents":["a.txt=AAA","b.txt=BBB"],"documents+":["c.txt=C"]}`
	if s := canonicalJSON(t, files); s != wantFiles {
		t.Errorf("files\n got  %s\n want %s", s, wantFiles)
	}
}

func TestReadBodyJSONPayloadNotInferred(t *testing.T) {
	body, ct := multipartBody(t,
		part{name: "a", content: "1"},
		part{name: "@jsonPayload", content: `{"b":"true","c":1.0,"d":[1,{"e":"2"}]}`},
	)
	got, err := readBody(newBodyRequest("POST", ct, body), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["a"] != 1.0 {
		t.Errorf("a = %#v", got.Data["a"])
	}
	if got.Data["b"] != "true" {
		t.Errorf("b = %#v, want the string", got.Data["b"])
	}
	if got.Data["c"] != json.Number("1.0") {
		t.Errorf("c = %#v, want json.Number", got.Data["c"])
	}
}

func TestReadBodyJSONPayloadInvalid(t *testing.T) {
	for _, payload := range []string{`[1]`, `{"a":`, `null`, `1`, `{} {}`} {
		body, ct := multipartBody(t, part{name: "@jsonPayload", content: payload})
		_, err := readBody(newBodyRequest("POST", ct, body), 0)
		wantBaseError(t, err, 400, errInvalidBody)
	}
	body, ct := multipartBody(t, part{name: "@jsonPayload", content: "  "}, part{name: "a", content: "x"})
	got, err := readBody(newBodyRequest("POST", ct, body), 0)
	if err != nil || got.Data["a"] != "x" {
		t.Errorf("blank payload: %v %v", got, err)
	}
}

func TestReadBodyBatch(t *testing.T) {
	payload := `{"requests":[{"method":"POST","url":"/api/collections/posts/records?expand=a","body":{"title":"t"}},{"method":"DELETE","url":"/api/collections/posts/records/x","body":{}}]}`
	body, ct := multipartBody(t,
		part{name: "@jsonPayload", content: payload},
		part{name: "requests.0.documents", filename: "a.txt", content: "A"},
		part{name: "requests.0.documents+", filename: "b.txt", content: "B"},
		part{name: "requests[1].file", filename: "c.txt", content: "C"},
	)
	got, err := readBody(newBodyRequest("POST", ct, body), 0)
	if err != nil {
		t.Fatal(err)
	}
	reqs, ok := got.Data["requests"].([]any)
	if !ok || len(reqs) != 2 {
		t.Fatalf("requests = %#v", got.Data["requests"])
	}
	for _, k := range []string{"requests.0.documents", "requests.0.documents+", "requests[1].file"} {
		if len(got.Files[k]) != 1 {
			t.Errorf("Files[%q] = %v", k, got.Files[k])
		}
	}
}

func TestReadBodyURLEncoded(t *testing.T) {
	r := newBodyRequest("POST", "application/x-www-form-urlencoded", strings.NewReader("a=1&a=x&b=true&c=012&d=&e=hello+world&%40jsonPayload=%7B%22c%22%3A%5B1%5D%7D"))
	got, err := readBody(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[1,"x"],"b":true,"c":[1],"d":"","e":"hello world"}`
	if s := canonicalJSON(t, got.Data); s != want {
		t.Errorf("data\n got  %s\n want %s", s, want)
	}
	if len(got.Files) != 0 {
		t.Errorf("files = %v", got.Files)
	}
	r = newBodyRequest("DELETE", "application/x-www-form-urlencoded", strings.NewReader("a=%zz"))
	_, err = readBody(r, 0)
	wantBaseError(t, err, 400, errInvalidBody)
}

func TestReadBodyMultipartTwice(t *testing.T) {
	body, ct := multipartBody(t, part{name: "a", content: "1"}, part{name: "f", filename: "f.txt", content: "F"})
	r := newBodyRequest("POST", ct, body)
	first, err := readBody(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.MultipartForm.RemoveAll()
	second, err := readBody(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if canonicalJSON(t, first.Data) != canonicalJSON(t, second.Data) || len(second.Files["f"]) != 1 {
		t.Errorf("second read differs: %v %v", second.Data, second.Files)
	}
}

// TestReadBodyTempFilesRemoved sends a file bigger than multipartMemory
// through a real server with limitBody and a handler that reads the body
// from a derived request (so net/http's own cleanup cannot see the form):
// the spooled temp file must exist during the request and be gone after.
func TestReadBodyTempFilesRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var during int
	var handlerErr error
	h := chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(r.Context())
		body, err := readBody(r, 64<<20)
		if err != nil {
			handlerErr = err
			writeError(w, r, nil, err)
			return
		}
		entries, _ := os.ReadDir(tmp)
		during = len(entries)
		fh := body.Files["file"][0]
		writeJSON(w, r, 200, map[string]any{"size": fh.Size})
	}), limitBody(64<<20))
	srv := httptest.NewServer(h)
	defer srv.Close()

	size := int(multipartMemory) + 1<<20
	body, ct := multipartBody(t, part{name: "file", filename: "big.bin", content: strings.Repeat("z", size)})
	resp, err := http.Post(srv.URL, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || handlerErr != nil {
		t.Fatalf("status %d %s %v", resp.StatusCode, b, handlerErr)
	}
	if during == 0 {
		t.Fatal("expected the big file to be spooled to a temp file during the request")
	}
	entries, _ := os.ReadDir(tmp)
	if len(entries) != 0 {
		t.Errorf("temp files left after the request: %d", len(entries))
	}
}

func checkFuzzErr(t *testing.T, body *requestBody, err error) {
	t.Helper()
	if err == nil {
		if body == nil || body.Data == nil {
			t.Fatal("nil body or data without error")
		}
		return
	}
	var be *base.Error
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T) is not a *base.Error", err, err)
	}
	if be.Status != 400 && be.Status != 413 {
		t.Fatalf("status %d: %v", be.Status, err)
	}
}

func FuzzReadBodyJSON(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"a":1}`, `[]`, `null`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"a":1}x`, `{`, "\xff", `{"a":1e999}`} {
		f.Add([]byte(s), "application/json", false)
	}
	f.Add([]byte(`a=1&b=true`), "application/x-www-form-urlencoded", true)
	f.Fuzz(func(t *testing.T, data []byte, contentType string, chunked bool) {
		r := newBodyRequest("POST", contentType, bytes.NewReader(data))
		if chunked {
			r.ContentLength = -1
		}
		body, err := readBody(r, 256)
		checkFuzzErr(t, body, err)
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	})
}

func FuzzReadBodyMultipart(f *testing.F) {
	seed := func(parts ...part) {
		b, ct := multipartBody(f, parts...)
		_, boundary, _ := strings.Cut(ct, "boundary=")
		f.Add(b.Bytes(), boundary)
	}
	seed(part{name: "a", content: "1"}, part{name: "a", content: "x"})
	seed(part{name: "@jsonPayload", content: `{"a":[1,2]}`}, part{name: "f", filename: "f.txt", content: "hi"})
	seed(part{name: "@jsonPayload", content: `{"a"`})
	seed(part{name: "requests.0.f+", filename: "a", content: strings.Repeat("x", 300)})
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--\r\n"), "b")
	f.Fuzz(func(t *testing.T, data []byte, boundary string) {
		r := newBodyRequest("POST", "multipart/form-data; boundary="+boundary, bytes.NewReader(data))
		if len(data)%2 == 0 {
			r.ContentLength = -1
		}
		body, err := readBody(r, 4096)
		checkFuzzErr(t, body, err)
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	})
}

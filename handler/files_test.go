package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/files/local"
	s3store "github.com/hanzoai/base/files/s3"
	"github.com/hanzoai/base/internal/testsrv"
)

// fileEnv is a harness with file storage and a way to see what is stored.
type fileEnv struct {
	*apiHarness
	st   files.Storage
	root string // the directory the stored objects end up in
}

// objects lists the stored object keys under the storage root (thumbnails
// included), sorted.
func (fe *fileEnv) objects(tb testing.TB) []string {
	tb.Helper()
	var keys []string
	err := filepath.WalkDir(fe.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != fe.root {
			return filepath.SkipDir // versitygw's temporary uploads
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			rel, _ := filepath.Rel(fe.root, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

var s3Buckets atomic.Int64

// fileDrivers are the storages the file tests run on: a local directory,
// and a bucket of a real versitygw (skipped locally when it is missing).
var fileDrivers = map[string]func(t *testing.T) (files.Storage, string){
	"local": func(t *testing.T) (files.Storage, string) {
		dir := t.TempDir()
		st, err := local.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st, dir
	},
	"s3": func(t *testing.T) (files.Storage, string) {
		srv := testsrv.VersityGW(t)
		bucket := fmt.Sprintf("files-%d", s3Buckets.Add(1))
		st, err := s3store.New(s3store.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region,
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, ForcePathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateBucket(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st, filepath.Join(srv.Dir, bucket)
	},
}

func newFileEnv(t *testing.T, driver string) *fileEnv {
	st, root := fileDrivers[driver](t)
	a := newAPI(t, func(c *Config) { c.Files = st })
	return &fileEnv{apiHarness: a, st: st, root: root}
}

// forEachDriver runs fn as a subtest per storage driver.
func forEachDriver(t *testing.T, fn func(t *testing.T, fe *fileEnv)) {
	for _, d := range []string{"local", "s3"} {
		t.Run(d, func(t *testing.T) { fn(t, newFileEnv(t, d)) })
	}
}

// pngImage encodes a w×h PNG.
func pngImage(tb testing.TB, w, h int) string {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

// filesCollection creates "docs": a single text file field (maxSize 1000),
// a multiple image field (maxSelect 3, png/jpeg, thumbs 50x50 and 20x0),
// a unique title, and public rules.
func (fe *fileEnv) filesCollection(tb testing.TB) map[string]any {
	return fe.createCollection(tb, fe.tok.admin, merge(map[string]any{
		"name": "docs", "type": "base",
		"fields": []any{
			field("title", "text"),
			field("doc", "file", "maxSelect", 1, "maxSize", 1000),
			field("pics", "file", "maxSelect", 3, "mimeTypes", []any{"image/png", "image/jpeg"}, "thumbs", []any{"50x50", "20x0", "40x40f"}),
		},
		"indexes": []any{"CREATE UNIQUE INDEX idx_docs_title ON docs (title)"},
	}, ruleSet("", "", "", "", "")))
}

// multipart sends a multipart record write.
func (fe *fileEnv) multipart(tb testing.TB, method, path, token string, parts ...formPart) *apiResponse {
	tb.Helper()
	body, ct := formData(tb, parts...)
	return fe.do(tb, apiRequest{method: method, path: path, token: token, headers: map[string]string{"Content-Type": ct}, body: body})
}

func fileGet(tb testing.TB, h http.Handler, path string, hdr map[string]string) *apiResponse {
	tb.Helper()
	return serve(tb, h, apiRequest{method: "GET", path: path, headers: hdr})
}

func names(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = e.(string)
		}
		return out
	}
	return nil
}

func decodeSize(tb testing.TB, raw []byte) (int, int) {
	tb.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("decode image: %v (%d bytes)", err, len(raw))
	}
	return cfg.Width, cfg.Height
}

var storedName = regexp.MustCompile(`^[a-z0-9_]+_[a-z0-9]{10}(\.[\w.*+=#-]+)?$`)

func TestFilesUploadDownload(t *testing.T) {
	forEachDriver(t, func(t *testing.T, fe *fileEnv) {
		coll := fe.filesCollection(t)
		cid := coll["id"].(string)
		recs := "/v1/collections/docs/records"
		res := fe.multipart(t, "POST", recs, "",
			formPart{name: "title", value: "first"},
			formPart{name: "doc", file: "My Notes.TXT", value: "hello, files"},
			formPart{name: "pics", file: "a.png", value: pngImage(t, 200, 100)},
			formPart{name: "pics", file: "b.png", value: pngImage(t, 60, 60)},
		)
		if res.Code != 200 {
			t.Fatalf("create: %d %s", res.Code, res.Raw)
		}
		rec := res.JSON.(map[string]any)
		rid := rec["id"].(string)
		doc := rec["doc"].(string)
		pics := names(rec["pics"])
		if !strings.HasPrefix(doc, "my_notes_") || !strings.HasSuffix(doc, ".TXT") || !storedName.MatchString(doc) {
			t.Errorf("doc stored name %q", doc)
		}
		if len(pics) != 2 || !strings.HasPrefix(pics[0], "a") || !strings.HasPrefix(pics[1], "b") {
			t.Fatalf("pics = %v", pics)
		}
		want := []string{"default/" + cid + "/" + rid + "/" + doc, "default/" + cid + "/" + rid + "/" + pics[0], "default/" + cid + "/" + rid + "/" + pics[1]}
		slices.Sort(want)
		if got := fe.objects(t); !slices.Equal(got, want) {
			t.Fatalf("stored objects %v, want %v", got, want)
		}

		base := "/v1/files/" + cid + "/" + rid + "/"
		// The original, with its headers; no headers needed on the request.
		d := fileGet(t, fe.h, base+doc, nil)
		if d.Code != 200 || string(d.Raw) != "hello, files" {
			t.Fatalf("download: %d %q", d.Code, d.Raw)
		}
		for k, v := range map[string]string{
			"Content-Type":            "text/plain; charset=utf-8",
			"Content-Disposition":     `attachment; filename="` + doc + `"`,
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
			"Cache-Control":           "max-age=2592000, stale-while-revalidate=86400",
			"X-Frame-Options":         "",
		} {
			if got := d.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		etag := d.Header.Get("ETag")
		if etag == "" {
			t.Error("no ETag")
		}
		if r := fileGet(t, fe.h, base+doc, map[string]string{"If-None-Match": etag}); r.Code != 304 {
			t.Errorf("If-None-Match: %d", r.Code)
		}
		if r := fileGet(t, fe.h, base+doc, map[string]string{"Range": "bytes=7-11"}); r.Code != 206 || string(r.Raw) != "files" {
			t.Errorf("range: %d %q", r.Code, r.Raw)
		}
		if r := fileGet(t, fe.h, "/api/files/"+cid+"/"+rid+"/"+doc, nil); r.Code != 200 {
			t.Errorf("/api alias: %d", r.Code)
		}
		p := fileGet(t, fe.h, base+pics[0], nil)
		if p.Code != 200 || p.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(p.Header.Get("Content-Disposition"), "inline;") {
			t.Errorf("png: %d %q %q", p.Code, p.Header.Get("Content-Type"), p.Header.Get("Content-Disposition"))
		}
		if p := fileGet(t, fe.h, base+pics[0]+"?download=1", nil); !strings.HasPrefix(p.Header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("download=1: %q", p.Header.Get("Content-Disposition"))
		}

		// Thumbnails: listed sizes and 100x100 are made once and stored;
		// other sizes serve the original.
		thumbs := []struct {
			size string
			w, h int
		}{{"50x50", 50, 50}, {"20x0", 20, 10}, {"100x100", 100, 100}, {"40x40f", 40, 20}, {"30x30", 200, 100}, {"0x0", 200, 100}, {"50x50t", 200, 100}}
		for _, tc := range thumbs {
			r := fileGet(t, fe.h, base+pics[0]+"?thumb="+tc.size, nil)
			if r.Code != 200 {
				t.Fatalf("thumb %s: %d", tc.size, r.Code)
			}
			if w, h := decodeSize(t, r.Raw); w != tc.w || h != tc.h {
				t.Errorf("thumb %s: %dx%d, want %dx%d", tc.size, w, h, tc.w, tc.h)
			}
		}
		tkey := "default/" + cid + "/" + rid + "/thumbs_" + pics[0] + "/50x50_" + pics[0]
		if !slices.Contains(fe.objects(t), tkey) {
			t.Fatalf("thumb not stored at %s: %v", tkey, fe.objects(t))
		}
		o, err := fe.st.Open(t.Context(), tkey)
		if err != nil {
			t.Fatal(err)
		}
		tag := o.ETag()
		o.Close()
		r := fileGet(t, fe.h, base+pics[0]+"?thumb=50x50", nil)
		if r.Header.Get("ETag") != tag || r.Header.Get("Content-Disposition") != `inline; filename="50x50_`+pics[0]+`"` {
			t.Errorf("second thumb request not served from storage: ETag %q want %q; %q", r.Header.Get("ETag"), tag, r.Header.Get("Content-Disposition"))
		}
		if n := len(fe.objects(t)); n != 3+4 {
			t.Errorf("%d objects after thumbnails, want 7: %v", n, fe.objects(t))
		}

		// Update: append, remove, keep listed names.
		rec = fe.multipartOK(t, "PATCH", recs+"/"+rid, "",
			formPart{name: "pics+", file: "cat.png", value: pngImage(t, 10, 10)},
			formPart{name: "pics-", value: pics[1]},
		)
		now := names(rec["pics"])
		if len(now) != 2 || now[0] != pics[0] || !strings.HasPrefix(now[1], "cat_") {
			t.Fatalf("after +/-: %v", now)
		}
		if r := fileGet(t, fe.h, base+pics[1], nil); r.Code != 404 {
			t.Errorf("removed file still served: %d", r.Code)
		}
		if slices.Contains(fe.objects(t), "default/"+cid+"/"+rid+"/"+pics[1]) {
			t.Error("removed file still stored")
		}
		// A plain key keeps the listed names (first) and drops the rest,
		// thumbnails included.
		rec = fe.multipartOK(t, "PATCH", recs+"/"+rid, "",
			formPart{name: "pics", value: now[1]},
			formPart{name: "pics", file: "dog.png", value: pngImage(t, 10, 10)},
		)
		final := names(rec["pics"])
		if len(final) != 2 || final[0] != now[1] || !strings.HasPrefix(final[1], "dog_") {
			t.Fatalf("after set: %v", final)
		}
		for _, k := range fe.objects(t) {
			if strings.Contains(k, pics[0]) {
				t.Errorf("replaced file or its thumbnail still stored: %s", k)
			}
		}
		// JSON body: clear the doc.
		fe.must(t, 200, apiRequest{method: "PATCH", path: recs + "/" + rid, body: map[string]any{"doc": nil}})
		if slices.Contains(fe.objects(t), "default/"+cid+"/"+rid+"/"+doc) {
			t.Error("cleared doc still stored")
		}

		// Delete: everything of the record goes.
		fe.must(t, 204, apiRequest{method: "DELETE", path: recs + "/" + rid})
		if got := fe.objects(t); len(got) != 0 {
			t.Errorf("objects after delete: %v", got)
		}
	})
}

func (fe *fileEnv) multipartOK(tb testing.TB, method, path, token string, parts ...formPart) map[string]any {
	tb.Helper()
	res := fe.multipart(tb, method, path, token, parts...)
	if res.Code != 200 {
		tb.Fatalf("%s %s: %d %s", method, path, res.Code, res.Raw)
	}
	return res.JSON.(map[string]any)
}

func TestFilesBadInput(t *testing.T) {
	forEachDriver(t, func(t *testing.T, fe *fileEnv) {
		coll := fe.filesCollection(t)
		cid := coll["id"].(string)
		recs := "/v1/collections/docs/records"
		ok := fe.multipartOK(t, "POST", recs, "", formPart{name: "title", value: "taken"},
			formPart{name: "doc", file: "x.txt", value: "x"})
		before := fe.objects(t)
		code := func(res *apiResponse, field string) string {
			m, _ := res.JSON.(map[string]any)
			d, _ := m["data"].(map[string]any)
			f, _ := d[field].(map[string]any)
			c, _ := f["code"].(string)
			return c
		}
		cases := []struct {
			name   string
			parts  []formPart
			status int
			field  string
			code   string
		}{
			{"wrong type (sniffed, not claimed)", []formPart{{name: "pics", file: "fake.png", value: "just text"}}, 400, "pics", "validation_invalid_mime_type"},
			{"too large", []formPart{{name: "doc", file: "big.txt", value: strings.Repeat("x", 1001)}}, 400, "doc", "validation_file_size_limit"},
			{"too many", []formPart{{name: "pics", file: "1.png", value: pngImage(t, 2, 2)}, {name: "pics", file: "2.png", value: pngImage(t, 2, 2)},
				{name: "pics", file: "3.png", value: pngImage(t, 2, 2)}, {name: "pics", file: "4.png", value: pngImage(t, 2, 2)}}, 400, "pics", "validation_too_many_files"},
			{"unknown existing name", []formPart{{name: "doc", value: "nope_1234567890.txt"}}, 400, "doc", "validation_invalid_file"},
			{"unique violation after upload", []formPart{{name: "title", value: "taken"}, {name: "doc", file: "ok.txt", value: "fine"},
				{name: "pics", file: "p.png", value: pngImage(t, 4, 4)}}, 400, "title", "validation_not_unique"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := fe.multipart(t, "POST", recs, "", tc.parts...)
				if res.Code != tc.status || code(res, tc.field) != tc.code {
					t.Fatalf("status %d code %q, want %d %q: %s", res.Code, code(res, tc.field), tc.status, tc.code, res.Raw)
				}
				if got := fe.objects(t); !slices.Equal(got, before) {
					t.Errorf("storage changed by a failed write: %v → %v", before, got)
				}
			})
		}
		// Another record's file name cannot be claimed.
		res := fe.do(t, apiRequest{method: "POST", path: recs, body: map[string]any{"doc": ok["doc"]}})
		if res.Code != 400 || code(res, "doc") != "validation_invalid_file" {
			t.Errorf("claiming another record's file: %d %s", res.Code, res.Raw)
		}

		rid := ok["id"].(string)
		base := "/v1/files/" + cid + "/" + rid + "/"
		for _, p := range []string{
			base + "..%2F..%2F..%2Fetc%2Fpasswd",
			base + "%2E%2E",
			base + "nope.txt",
			"/v1/files/" + cid + "/aaaaaaaaaaaaaaa/" + ok["doc"].(string),
			"/v1/files/pbc_1_default/" + rid + "/" + ok["doc"].(string),
			"/v1/files/pbc_1_nosuchorg/" + rid + "/" + ok["doc"].(string),
			"/v1/files/" + cid + "/" + rid + "/thumbs_" + ok["doc"].(string),
			"/v1/files/" + cid + "/..%2F" + rid + "/" + ok["doc"].(string),
		} {
			if r := fileGet(t, fe.h, p, nil); r.Code != 404 {
				t.Errorf("GET %s: %d, want 404", p, r.Code)
			}
		}

		// A corrupt image (PNG signature, garbage after it) uploaded to a
		// field with thumbnails is refused with a 400 and writes nothing.
		corrupt := "\x89PNG\r\n\x1a\n" + strings.Repeat("garbage", 20)
		before = fe.objects(t)
		r := fe.multipart(t, "POST", recs, "", formPart{name: "pics", file: "bad.png", value: corrupt})
		if r.Code != 400 || !strings.Contains(string(r.Raw), "validation_invalid_image") {
			t.Errorf("corrupt image upload: %d %s, want 400 validation_invalid_image", r.Code, r.Raw)
		}
		if got := fe.objects(t); !slices.Equal(got, before) {
			t.Errorf("a refused upload wrote something: %v", got)
		}
	})
}

// TestFilesWithoutStorage keeps the old refusal when no storage is
// configured.
func TestFilesWithoutStorage(t *testing.T) {
	a := newAPI(t)
	fe := &fileEnv{apiHarness: a}
	fe.createCollection(t, a.tok.admin, merge(map[string]any{"name": "docs", "fields": []any{field("doc", "file")}}, ruleSet("", "", "", "", "")))
	res := fe.multipart(t, "POST", "/v1/collections/docs/records", "", formPart{name: "doc", file: "a.txt", value: "x"})
	if res.Code != 400 || !strings.Contains(string(res.Raw), "validation_file_upload_unsupported") {
		t.Errorf("upload without storage: %d %s", res.Code, res.Raw)
	}
}

func TestFilesBatch(t *testing.T) {
	fe := newFileEnv(t, "local")
	coll := fe.filesCollection(t)
	cid := coll["id"].(string)
	payload := func(reqs ...map[string]any) formPart {
		b, _ := json.Marshal(map[string]any{"requests": reqs})
		return formPart{name: "@jsonPayload", value: string(b)}
	}
	create := func(title string) map[string]any {
		return map[string]any{"method": "POST", "url": "/api/collections/docs/records", "body": map[string]any{"title": title}}
	}
	res := fe.multipart(t, "POST", "/v1/batch", "", payload(create("b1"), create("b2")),
		formPart{name: "requests.0.doc", file: "one.txt", value: "1"},
		formPart{name: "requests[1].pics+", file: "p.png", value: pngImage(t, 3, 3)})
	if res.Code != 200 {
		t.Fatalf("batch: %d %s", res.Code, res.Raw)
	}
	out := res.JSON.([]any)
	r0 := out[0].(map[string]any)["body"].(map[string]any)
	r1 := out[1].(map[string]any)["body"].(map[string]any)
	if r := fileGet(t, fe.h, "/v1/files/"+cid+"/"+r0["id"].(string)+"/"+r0["doc"].(string), nil); r.Code != 200 || string(r.Raw) != "1" {
		t.Errorf("batch upload 0: %d %q", r.Code, r.Raw)
	}
	if len(names(r1["pics"])) != 1 {
		t.Errorf("batch upload 1: %v", r1["pics"])
	}
	before := fe.objects(t)
	// The second sub-request fails (duplicate title): the first one's
	// upload is removed with the rollback.
	res = fe.multipart(t, "POST", "/v1/batch", "", payload(create("b3"), create("b1")),
		formPart{name: "requests.0.doc", file: "two.txt", value: "2"},
		formPart{name: "requests.1.doc", file: "three.txt", value: "3"})
	if res.Code != 400 {
		t.Fatalf("failing batch: %d %s", res.Code, res.Raw)
	}
	if got := fe.objects(t); !slices.Equal(got, before) {
		t.Errorf("failed batch left files: %v → %v", before, got)
	}
	if res := fe.multipart(t, "POST", "/v1/batch", "", payload(create("b4")), formPart{name: "requests.7.doc", file: "x.txt", value: "x"}); res.Code != 400 {
		t.Errorf("file part for a missing sub-request: %d", res.Code)
	}
}

func TestFilesCascadeAndCollectionDelete(t *testing.T) {
	forEachDriver(t, func(t *testing.T, fe *fileEnv) {
		docs := fe.filesCollection(t)
		att := fe.createCollection(t, fe.tok.admin, merge(map[string]any{"name": "attachments", "fields": []any{
			field("doc", "relation", "collectionId", docs["id"], "cascadeDelete", true, "maxSelect", 1),
			field("file", "file"),
		}}, ruleSet("", "", "", "", "")))
		parent := fe.multipartOK(t, "POST", "/v1/collections/docs/records", "", formPart{name: "doc", file: "p.txt", value: "p"})
		child := fe.multipartOK(t, "POST", "/v1/collections/attachments/records", "",
			formPart{name: "doc", value: parent["id"].(string)}, formPart{name: "file", file: "c.txt", value: "c"})
		other := fe.multipartOK(t, "POST", "/v1/collections/attachments/records", "", formPart{name: "file", file: "o.txt", value: "o"})
		fe.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/docs/records/" + parent["id"].(string)})
		want := []string{"default/" + att["id"].(string) + "/" + other["id"].(string) + "/" + other["file"].(string)}
		if got := fe.objects(t); !slices.Equal(got, want) {
			t.Errorf("after cascade delete of %s: %v, want %v", child["id"], got, want)
		}
		// Truncate, then collection delete, remove everything stored.
		fe.multipartOK(t, "POST", "/v1/collections/docs/records", "", formPart{name: "doc", file: "q.txt", value: "q"})
		fe.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/attachments/truncate", token: fe.tok.admin})
		for _, k := range fe.objects(t) {
			if strings.Contains(k, att["id"].(string)) {
				t.Errorf("truncated collection's file remains: %s", k)
			}
		}
		fe.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/attachments", token: fe.tok.admin})
		fe.must(t, 204, apiRequest{method: "DELETE", path: "/v1/collections/docs", token: fe.tok.admin})
		if got := fe.objects(t); len(got) != 0 {
			t.Errorf("after collection deletes: %v", got)
		}
	})
}

func TestFilesProtected(t *testing.T) {
	forEachDriver(t, func(t *testing.T, fe *fileEnv) {
		coll := fe.createCollection(t, fe.tok.admin, merge(map[string]any{"name": "vault", "fields": []any{
			field("owner", "text"),
			field("secret", "file", "protected", true),
			field("cover", "file"),
		}}, ruleSet("owner = @request.auth.id", "owner = @request.auth.id && @request.context = 'protectedFile' || owner = @request.auth.id", `@request.auth.id != ""`, nil, nil)))
		cid := coll["id"].(string)
		rec := fe.multipartOK(t, "POST", "/v1/collections/vault/records", fe.tok.alice,
			formPart{name: "owner", value: userID("alice")},
			formPart{name: "secret", file: "secret.txt", value: "top secret"},
			formPart{name: "cover", file: "cover.png", value: pngImage(t, 8, 8)})
		base := "/v1/files/" + cid + "/" + rec["id"].(string) + "/"
		token := func(tok string, hdr map[string]string) string {
			v := fe.must(t, 200, apiRequest{method: "POST", path: "/v1/files/token", token: tok, headers: hdr})
			s := v.(map[string]any)["token"].(string)
			if s == "" {
				t.Fatal("empty file token")
			}
			return s
		}
		if r := fe.do(t, apiRequest{method: "POST", path: "/v1/files/token"}); r.Code != 401 {
			t.Errorf("guest file token: %d", r.Code)
		}
		alice, bob, ann, admin := token(fe.tok.alice, nil), token(fe.tok.bob, nil), token(fe.tok.acme, nil), token(fe.tok.admin, nil)
		carolInAcme := token(fe.tok.multi, map[string]string{"X-Org-Id": "acme"})
		for _, tc := range []struct {
			name, query string
			status      int
		}{
			{"no token", "", 404},
			{"garbage token", "?token=abc", 404},
			{"IAM token is not a file token", "?token=" + url.QueryEscape(fe.tok.alice), 404},
			{"owner", "?token=" + alice, 200},
			{"another user", "?token=" + bob, 404},
			{"a user of another org", "?token=" + ann, 404},
			{"a token bound to another org", "?token=" + carolInAcme, 404},
			{"org admin", "?token=" + admin, 200},
			{"owner, thumb param ignored for text", "?token=" + alice + "&thumb=100x100", 200},
		} {
			r := fileGet(t, fe.h, base+rec["secret"].(string)+tc.query, nil)
			if r.Code != tc.status {
				t.Errorf("%s: %d, want %d", tc.name, r.Code, tc.status)
			}
			if r.Code == 200 && string(r.Raw) != "top secret" {
				t.Errorf("%s: body %q", tc.name, r.Raw)
			}
		}
		// The unprotected field needs no token, whatever the rules.
		if r := fileGet(t, fe.h, base+rec["cover"].(string), nil); r.Code != 200 {
			t.Errorf("unprotected file: %d", r.Code)
		}
		// Expired: a handler whose clock is past the token's lifetime.
		later := fe.apiHarness.cfg
		later.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
		later.FileTokenSecret = nil
		_, h2 := openHandler(t, fe.dir, later)
		if r := fileGet(t, h2, base+rec["secret"].(string)+"?token="+alice, nil); r.Code != 404 {
			t.Errorf("token from another deployment secret: %d", r.Code)
		}
	})
}

// TestFilesTokenSharedSecret: instances sharing the secret accept each
// other's tokens; expired tokens are refused.
func TestFilesTokenSharedSecret(t *testing.T) {
	st, _ := fileDrivers["local"](t)
	secret := []byte("shared-secret-of-the-deployment")
	now := time.Now()
	clock := func() time.Time { return now }
	a := newAPI(t, func(c *Config) { c.Files = st; c.FileTokenSecret = secret; c.Now = func() time.Time { return clock() } })
	fe := &fileEnv{apiHarness: a, st: st}
	coll := fe.createCollection(t, a.tok.admin, merge(map[string]any{"name": "vault", "fields": []any{
		field("secret", "file", "protected", true)}}, ruleSet(`@request.auth.id != ""`, `@request.auth.id != ""`, `@request.auth.id != ""`, nil, nil)))
	rec := fe.multipartOK(t, "POST", "/v1/collections/vault/records", a.tok.alice, formPart{name: "secret", file: "s.txt", value: "s"})
	tok := a.must(t, 200, apiRequest{method: "POST", path: "/v1/files/token", token: a.tok.bob}).(map[string]any)["token"].(string)
	other := a.sibling(t)
	path := "/v1/files/" + coll["id"].(string) + "/" + rec["id"].(string) + "/" + rec["secret"].(string) + "?token=" + tok
	if r := fileGet(t, other.h, path, nil); r.Code != 200 {
		t.Errorf("sibling instance refused the token: %d", r.Code)
	}
	now = now.Add(181 * time.Second)
	if r := fileGet(t, a.h, path, nil); r.Code != 404 {
		t.Errorf("expired token: %d", r.Code)
	}
}

// TestFilesOrgFromURL: a file of org acme is served with no headers at
// all, and the same path under another org's collection id is not.
func TestFilesOrgFromURL(t *testing.T) {
	fe := newFileEnv(t, "local")
	coll := fe.createCollection(t, fe.tok.acmeAdmin, merge(map[string]any{"name": "pics", "fields": []any{field("img", "file")}}, ruleSet("", "", "", "", "")))
	cid := coll["id"].(string)
	if !strings.HasSuffix(cid, "_acme") {
		t.Fatalf("collection id %q does not embed the org", cid)
	}
	rec := fe.multipartOK(t, "POST", "/v1/collections/pics/records", fe.tok.acme, formPart{name: "img", file: "i.png", value: pngImage(t, 5, 5)})
	path := "/v1/files/" + cid + "/" + rec["id"].(string) + "/" + rec["img"].(string)
	if r := fileGet(t, fe.h, path, nil); r.Code != 200 {
		t.Errorf("no-header download of an acme file: %d", r.Code)
	}
	if r := fileGet(t, fe.h, path, map[string]string{"X-Org-Id": "default", "Authorization": fe.tok.alice}); r.Code != 200 {
		t.Errorf("headers naming another org do not change the file's org: %d", r.Code)
	}
	if !slices.Contains(fe.objects(t), "acme/"+cid+"/"+rec["id"].(string)+"/"+rec["img"].(string)) {
		t.Errorf("not stored under the acme prefix: %v", fe.objects(t))
	}
	other := strings.TrimSuffix(cid, "_acme") + "_default"
	if r := fileGet(t, fe.h, "/v1/files/"+other+"/"+rec["id"].(string)+"/"+rec["img"].(string), nil); r.Code != 404 {
		t.Errorf("same path in another org: %d", r.Code)
	}
}

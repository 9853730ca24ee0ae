// Package filestest is the conformance suite every files.Storage driver
// passes: run it from the driver's tests with Run.
package filestest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hanzoai/base/files"
)

// Options tunes Run.
type Options struct {
	// LargeSize is the size of the streamed large object (default 100 MiB;
	// skipped with -short).
	LargeSize int64
}

// Run runs the suite against the storage open returns; each subtest gets
// its own storage (open may return the same one over a fresh prefix).
func Run(t *testing.T, open func(t *testing.T) files.Storage, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 100 << 20
	}
	t.Run("PutOpen", func(t *testing.T) { testPutOpen(t, open(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, open(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, open(t)) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, open(t)) })
	t.Run("ServeContentRange", func(t *testing.T) { testServeContent(t, open(t)) })
	t.Run("ShortOrFailingReader", func(t *testing.T) { testFailedPut(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("DeletePrefix", func(t *testing.T) { testDeletePrefix(t, open(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("Large", func(t *testing.T) {
		if testing.Short() {
			t.Skip("large object skipped with -short")
		}
		testLarge(t, open(t), opts.LargeSize)
	})
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Reader streams n deterministic bytes without holding them in memory.
func Reader(seed uint64, n int64) io.Reader {
	return io.LimitReader(&prng{r: rand.New(rand.NewPCG(seed, seed+1))}, n)
}

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], p.r.Uint64())
	}
	for ; i < len(b); i++ {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

func put(t *testing.T, s files.Storage, key string, data []byte, ctype string) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ctype); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func read(t *testing.T, s files.Storage, key string) []byte {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if int64(len(b)) != o.Size() {
		t.Fatalf("read %q: %d bytes, Size() = %d", key, len(b), o.Size())
	}
	return b
}

func wantNotFound(t *testing.T, s files.Storage, key string) {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err == nil {
		o.Close()
		t.Fatalf("Open(%q) succeeded, want ErrNotFound", key)
	}
	if !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Open(%q) = %v, want ErrNotFound", key, err)
	}
}

func testPutOpen(t *testing.T, s files.Storage) {
	data := Data(1, 3000)
	put(t, s, "org/c1/r1/a_1234567890.txt", data, "text/plain; charset=utf-8")
	put(t, s, "org/c1/r1/empty", nil, "")
	o, err := s.Open(t.Context(), "org/c1/r1/a_1234567890.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != int64(len(data)) {
		t.Errorf("Size = %d, want %d", o.Size(), len(data))
	}
	if et := o.ETag(); len(et) < 3 || et[0] != '"' || et[len(et)-1] != '"' {
		t.Errorf("ETag = %q, want a quoted tag", et)
	}
	if o.ModTime().IsZero() {
		t.Error("ModTime is zero")
	}
	if ct := o.ContentType(); ct != "" && ct != "text/plain; charset=utf-8" {
		t.Errorf("ContentType = %q", ct)
	}
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content differs (err %v, %d bytes)", err, len(got))
	}
	if b := read(t, s, "org/c1/r1/empty"); len(b) != 0 {
		t.Errorf("empty object has %d bytes", len(b))
	}
}

func testMissing(t *testing.T, s files.Storage) {
	wantNotFound(t, s, "org/none/r/x.png")
	put(t, s, "org/c/r/file", []byte("x"), "")
	wantNotFound(t, s, "org/c/r/file/below") // below an object
	wantNotFound(t, s, "org/c/r")            // a "directory"
}

func testOverwrite(t *testing.T, s files.Storage) {
	put(t, s, "o/c/r/f", []byte("first"), "")
	o, err := s.Open(t.Context(), "o/c/r/f")
	if err != nil {
		t.Fatal(err)
	}
	tag := o.ETag()
	o.Close()
	put(t, s, "o/c/r/f", []byte("second, longer"), "")
	if got := read(t, s, "o/c/r/f"); string(got) != "second, longer" {
		t.Fatalf("after overwrite: %q", got)
	}
	o, err = s.Open(t.Context(), "o/c/r/f")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.ETag() == tag {
		t.Errorf("ETag unchanged after overwrite: %s", tag)
	}
}

func testSeek(t *testing.T, s files.Storage) {
	data := Data(2, 10000)
	put(t, s, "o/c/r/seek", data, "")
	o, err := s.Open(t.Context(), "o/c/r/seek")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if n, err := o.Seek(0, io.SeekEnd); err != nil || n != int64(len(data)) {
		t.Fatalf("Seek(0, End) = %d, %v", n, err)
	}
	for _, off := range []int64{0, 9000, 17, 5000} {
		if n, err := o.Seek(off, io.SeekStart); err != nil || n != off {
			t.Fatalf("Seek(%d) = %d, %v", off, n, err)
		}
		buf := make([]byte, 100)
		n, err := io.ReadFull(o, buf)
		if err != nil || !bytes.Equal(buf[:n], data[off:off+100]) {
			t.Fatalf("read at %d: %d bytes, %v, equal=%v", off, n, err, bytes.Equal(buf[:n], data[off:off+100]))
		}
	}
	if n, err := o.Seek(-10, io.SeekCurrent); err != nil || n != 5090 {
		t.Fatalf("Seek(-10, Current) = %d, %v", n, err)
	}
	rest, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(rest, data[5090:]) {
		t.Fatalf("rest after seek: %d bytes, %v", len(rest), err)
	}
	if _, err := o.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek(-1) succeeded")
	}
}

func testServeContent(t *testing.T, s files.Storage) {
	data := Data(3, 50000)
	put(t, s, "o/c/r/served", data, "")
	serve := func(hdr map[string]string) *httptest.ResponseRecorder {
		o, err := s.Open(t.Context(), "o/c/r/served")
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		req := httptest.NewRequest("GET", "/x", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		w.Header().Set("ETag", o.ETag())
		http.ServeContent(w, req, "served", o.ModTime(), o)
		return w
	}
	w := serve(map[string]string{"Range": "bytes=100-199"})
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[100:200]) {
		t.Fatalf("range: %d, %d bytes", w.Code, w.Body.Len())
	}
	w = serve(map[string]string{"Range": "bytes=-10"})
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[len(data)-10:]) {
		t.Fatalf("suffix range: %d, %d bytes", w.Code, w.Body.Len())
	}
	w = serve(nil)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), data) {
		t.Fatalf("full: %d, %d bytes", w.Code, w.Body.Len())
	}
	tag := w.Header().Get("ETag")
	w = serve(map[string]string{"If-None-Match": tag})
	if w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", w.Code)
	}
}

type failingReader struct {
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func testFailedPut(t *testing.T, s files.Storage) {
	ctx := t.Context()
	if err := s.Put(ctx, "o/c/r/short", bytes.NewReader([]byte("abc")), 10, ""); err == nil {
		t.Error("Put with fewer bytes than size succeeded")
	}
	wantNotFound(t, s, "o/c/r/short")
	if err := s.Put(ctx, "o/c/r/long", bytes.NewReader([]byte("abcdef")), 3, ""); err == nil {
		t.Error("Put with more bytes than size succeeded")
	}
	wantNotFound(t, s, "o/c/r/long")
	if err := s.Put(ctx, "o/c/r/fail", &failingReader{n: 1000}, 5000, ""); err == nil {
		t.Error("Put from a failing reader succeeded")
	}
	wantNotFound(t, s, "o/c/r/fail")
	// A failure replacing an object keeps the old one.
	put(t, s, "o/c/r/keep", []byte("old"), "")
	if err := s.Put(ctx, "o/c/r/keep", &failingReader{n: 2}, 10, ""); err == nil {
		t.Error("failing overwrite succeeded")
	}
	if got := read(t, s, "o/c/r/keep"); string(got) != "old" {
		t.Errorf("after failed overwrite: %q", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(cctx, "o/c/r/canceled", bytes.NewReader([]byte("x")), 1, ""); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	wantNotFound(t, s, "o/c/r/canceled")
}

func testDelete(t *testing.T, s files.Storage) {
	put(t, s, "o/c/r/del", []byte("x"), "")
	put(t, s, "o/c/r/other", []byte("y"), "")
	if err := s.Delete(t.Context(), "o/c/r/del"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "o/c/r/del")
	if err := s.Delete(t.Context(), "o/c/r/del"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if got := read(t, s, "o/c/r/other"); string(got) != "y" {
		t.Errorf("sibling: %q", got)
	}
}

func testDeletePrefix(t *testing.T, s files.Storage) {
	keys := []string{"o/c/r1/a", "o/c/r1/thumbs_a/100x100_a", "o/c/r1/b", "o/c/r10/a", "o/c/r2/a"}
	for _, k := range keys {
		put(t, s, k, []byte(k), "")
	}
	if err := s.DeletePrefix(t.Context(), "o/c/r1/"); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:3] {
		wantNotFound(t, s, k)
	}
	for _, k := range keys[3:] {
		if got := read(t, s, k); string(got) != k {
			t.Errorf("%s: %q", k, got)
		}
	}
	if err := s.DeletePrefix(t.Context(), "o/none/"); err != nil {
		t.Errorf("empty prefix: %v", err)
	}
	// More objects than one listing page of S3 (1000).
	if !testing.Short() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range 1100 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				k := fmt.Sprintf("o/many/r/%04d", i)
				if err := s.Put(t.Context(), k, strings.NewReader("x"), 1, ""); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if err := s.DeletePrefix(t.Context(), "o/many/"); err != nil {
			t.Fatal(err)
		}
		wantNotFound(t, s, "o/many/r/0000")
		wantNotFound(t, s, "o/many/r/1099")
	}
	// Once a prefix is gone, keys below it can be written again.
	put(t, s, "o/c/r1/again", []byte("z"), "")
}

func testInvalidKeys(t *testing.T, s files.Storage) {
	ctx := t.Context()
	for _, k := range []string{"", "../x", "a/../../x", "/abs", "a//b", "a/./b", "a/", "a\\b", "a/\x00b", "a/..", strings.Repeat("k", 1025)} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); !errors.Is(err, files.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, files.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, files.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, p := range []string{"", "/", "a", "../", "a//", "/a/"} {
		if err := s.DeletePrefix(ctx, p); !errors.Is(err, files.ErrInvalidKey) {
			t.Errorf("DeletePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}

func testConcurrent(t *testing.T, s files.Storage) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				k := fmt.Sprintf("o/conc/r%d/f%d", i%4, j)
				data := Data(uint64(i*10+j), 1000+i)
				if err := s.Put(t.Context(), k, bytes.NewReader(data), int64(len(data)), ""); err != nil {
					t.Error(err)
					return
				}
				if i%4 == 0 {
					if err := s.DeletePrefix(t.Context(), fmt.Sprintf("o/conc/r%d/", i%4)); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// testLarge streams size bytes in and out and checks that neither
// direction holds the object in memory.
func testLarge(t *testing.T, s files.Storage, size int64) {
	ctx := t.Context()
	want := sha256.New()
	if _, err := io.Copy(want, Reader(7, size)); err != nil {
		t.Fatal(err)
	}
	before := allocated()
	if err := s.Put(ctx, "o/c/r/large.bin", Reader(7, size), size, "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	putAlloc := allocated() - before
	o, err := s.Open(ctx, "o/c/r/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != size {
		t.Fatalf("Size = %d, want %d", o.Size(), size)
	}
	got := sha256.New()
	before = allocated()
	if _, err := io.Copy(got, o); err != nil {
		t.Fatal(err)
	}
	getAlloc := allocated() - before
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("large object content differs")
	}
	t.Logf("large %d MiB: put allocated %.1f MiB, get allocated %.1f MiB", size>>20, float64(putAlloc)/(1<<20), float64(getAlloc)/(1<<20))
	if limit := uint64(size / 3); putAlloc > limit || getAlloc > limit {
		t.Errorf("allocations grow with size: put %d, get %d bytes for a %d-byte object", putAlloc, getAlloc, size)
	}
}

func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// Package local stores files in a directory of the local file system: key
// "a/b/c" is the file <dir>/a/b/c. Writes go to a temporary file in the
// target directory and are renamed into place, so readers never see a
// partial object and a failed write leaves nothing behind. Several
// processes may share one directory.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hanzoai/base/files"
)

// Storage is a files.Storage over a directory.
type Storage struct {
	dir string
}

var _ files.Storage = (*Storage)(nil)

// New returns a Storage rooted at dir, creating it when missing.
func New(dir string) (*Storage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local storage %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local storage %q: %w", dir, err)
	}
	return &Storage{dir: abs}, nil
}

// Dir is the root directory.
func (s *Storage) Dir() string { return s.dir }

func (s *Storage) path(key string) (string, error) {
	if !files.ValidKey(key) || key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return "", fmt.Errorf("%w: %q", files.ErrInvalidKey, key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put implements files.Storage.
func (s *Storage) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) error {
	p, err := s.path(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := s.createTemp()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put %s: got %d bytes, want %d", key, n, size)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := s.rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	ok = true
	return nil
}

// rename moves the finished temporary file into place, creating the
// target directory. A concurrent DeletePrefix or prune may remove that
// directory between the two steps; that is retried.
func (s *Storage) rename(tmp, p string) error {
	for attempt := 0; ; attempt++ {
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			err = os.Rename(tmp, p)
		}
		racing := errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)
		if err == nil || !racing || attempt == 20 {
			return err
		}
	}
}

// tmpDir holds files being written, outside every key prefix so that
// DeletePrefix never removes a write in progress; it is on the same file
// system, so the final rename is atomic.
const tmpDir = ".tmp"

// createTemp creates a temporary file in the root's tmpDir.
func (s *Storage) createTemp() (*os.File, error) {
	dir := filepath.Join(s.dir, tmpDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, "put-*")
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open implements files.Storage.
func (s *Storage) Open(_ context.Context, key string) (files.Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
			return nil, fmt.Errorf("open %s: %w", key, files.ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, files.ErrNotFound)
	}
	return &object{File: f, size: st.Size(), mod: st.ModTime()}, nil
}

type object struct {
	*os.File
	size int64
	mod  time.Time
}

// OSFile exposes the open file so HTTP can serve it with sendfile(2).
func (o *object) OSFile() *os.File { return o.File }

func (o *object) Size() int64         { return o.size }
func (o *object) ModTime() time.Time  { return o.mod }
func (o *object) ContentType() string { return "" }
func (o *object) ETag() string {
	return `"` + strconv.FormatInt(o.size, 36) + "-" + strconv.FormatInt(o.mod.UnixNano(), 36) + `"`
}

// Delete implements files.Storage.
func (s *Storage) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Stat(p); serr == nil && st.IsDir() {
			return nil // a "directory" key holds no object
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	s.prune(filepath.Dir(p))
	return nil
}

// DeletePrefix implements files.Storage. A prefix is a directory here; any
// object under it is removed with it.
func (s *Storage) DeletePrefix(_ context.Context, prefix string) error {
	if !files.ValidPrefix(prefix) || strings.HasPrefix(prefix, tmpDir+"/") {
		return fmt.Errorf("delete prefix %s: %w: %q", prefix, files.ErrInvalidKey, prefix)
	}
	p := filepath.Join(s.dir, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	// A concurrent Put may move a file in while the tree is removed
	// ("directory not empty"): remove again.
	var err error
	for range 10 {
		if err = os.RemoveAll(p); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("delete prefix %s: %w", prefix, err)
	}
	s.prune(filepath.Dir(p))
	return nil
}

// prune removes empty directories from dir up to (not including) the
// root. Failures (a directory that is not empty, a concurrent writer) end
// it quietly.
func (s *Storage) prune(dir string) {
	for dir != s.dir && strings.HasPrefix(dir, s.dir+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// Package files defines Base's file storage contract: a flat namespace of
// keys ("{org}/{collectionId}/{recordId}/{name}") holding immutable
// objects, written once as a stream and read back with their size,
// modification time and ETag, seekable for HTTP range requests. Drivers
// live in subpackages (files/local, files/s3) and pass the conformance
// suite in files/filestest.
package files

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) by Open for a key that holds no object.
var ErrNotFound = errors.New("files: not found")

// ErrInvalidKey is returned (wrapped) for keys ValidKey refuses.
var ErrInvalidKey = errors.New("files: invalid key")

// Storage stores objects by key. Implementations are safe for concurrent
// use. Keys must pass ValidKey; prefixes passed to DeletePrefix must end
// with "/" and pass ValidKey without it.
type Storage interface {
	// Put stores the size bytes of r under key, replacing any object
	// there. It streams: memory use does not grow with size. A negative
	// size means unknown. When r yields a different number of bytes than a
	// non-negative size, Put fails and nothing is stored. contentType is
	// kept with the object when the driver can keep it.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open returns the object under key for reading; ErrNotFound when
	// there is none. The caller closes it.
	Open(ctx context.Context, key string) (Object, error)
	// Delete removes the object under key; a missing object is not an
	// error.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every object whose key starts with prefix
	// (which must end in "/"); nothing there is not an error.
	DeletePrefix(ctx context.Context, prefix string) error
}

// Object is an open stored object. Read and Seek follow io.ReadSeeker, so
// http.ServeContent can answer range requests; drivers that read over the
// network fetch only the ranges read.
type Object interface {
	io.ReadSeekCloser
	// Size is the object's length in bytes.
	Size() int64
	// ModTime is when the object was written.
	ModTime() time.Time
	// ETag is a quoted HTTP entity tag that changes when the object does.
	ETag() string
	// ContentType is the type given to Put, or "" when the driver does not
	// keep it.
	ContentType() string
}

// ValidKey reports whether key is a usable object key: non-empty, at most
// 1024 bytes, relative, "/"-separated segments none of which is empty,
// "." or "..", and no backslash, NUL or other control character.
func ValidKey(key string) bool {
	if key == "" || len(key) > 1024 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// ValidPrefix reports whether prefix is usable with DeletePrefix: a valid
// key followed by "/".
func ValidPrefix(prefix string) bool {
	p, ok := strings.CutSuffix(prefix, "/")
	return ok && ValidKey(p)
}

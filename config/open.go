package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/files/local"
	"github.com/hanzoai/base/files/s3"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/libsql"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/sqlite"
)

// OpenStore opens the store driver kind names (BASE_STORE), with an
// explicit switch: sqlite files under dir, or postgres/libsql at url
// (BASE_STORE_URL; see postgres.ParseURL and libsql.ParseURL).
func OpenStore(kind, url, dir string, log *slog.Logger) (store.Store, error) {
	switch kind {
	case "sqlite", "":
		st, err := sqlite.Open(sqlite.Config{Dir: dir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	case "postgres":
		if url == "" {
			return nil, errors.New("BASE_STORE=postgres needs BASE_STORE_URL=postgres://...")
		}
		pc, err := postgres.ParseURL(url)
		if err != nil {
			return nil, err
		}
		st, err := postgres.Open(pc)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	case "libsql":
		if url == "" {
			return nil, errors.New("BASE_STORE=libsql needs BASE_STORE_URL, a URL template with {org}")
		}
		lc, err := libsql.ParseURL(url)
		if err != nil {
			return nil, err
		}
		st, err := libsql.Open(lc)
		if err != nil {
			return nil, fmt.Errorf("open libsql store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("BASE_STORE=%q is not supported (want sqlite, postgres or libsql)", kind)
	}
}

// Files configures file storage (BASE_FILES, S3_*, BASE_FILE_TOKEN_SECRET).
type Files struct {
	Kind             string // local or s3
	Dir              string // data directory: local files live in Dir/files
	S3Endpoint       string
	S3Bucket         string
	S3Region         string
	S3AccessKey      string
	S3SecretKey      string
	S3SessionToken   string // with temporary credentials (a Lambda role's)
	S3ForcePathStyle bool
	TokenSecret      string // signs protected-file tokens; "" = a key in Dir
}

// FilesFromEnv reads BASE_FILES (default local), S3_* and
// BASE_FILE_TOKEN_SECRET; Dir is left to the caller. With no S3_ACCESS_KEY
// and S3_SECRET_KEY and no S3_ENDPOINT (AWS S3 itself), it takes the
// credentials the platform puts in the environment — AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, which is how a Lambda
// function receives its execution role's temporary credentials — so the
// role's S3 policy is what authorizes file storage; without them requests
// go unsigned (a public bucket).
func FilesFromEnv(getenv func(string) string) (Files, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	fc := Files{
		Kind: get("BASE_FILES"), S3Endpoint: get("S3_ENDPOINT"), S3Bucket: get("S3_BUCKET"),
		S3Region: get("S3_REGION"), S3AccessKey: get("S3_ACCESS_KEY"), S3SecretKey: get("S3_SECRET_KEY"),
		TokenSecret: get("BASE_FILE_TOKEN_SECRET"),
	}
	if fc.Kind == "" {
		fc.Kind = "local"
	}
	if fc.S3AccessKey == "" && fc.S3SecretKey == "" && fc.S3Endpoint == "" {
		fc.S3AccessKey, fc.S3SecretKey = get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")
		fc.S3SessionToken = get("AWS_SESSION_TOKEN")
		if fc.S3Region == "" {
			fc.S3Region = get("AWS_REGION")
		}
	}
	if v := get("S3_FORCE_PATH_STYLE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fc, fmt.Errorf("S3_FORCE_PATH_STYLE=%q: not a boolean", v)
		}
		fc.S3ForcePathStyle = b
	}
	return fc, nil
}

// OpenFiles opens the file storage fc.Kind names: "local" keeps files under
// <dir>/files, "s3" in the S3 bucket.
func OpenFiles(fc Files) (files.Storage, error) {
	switch fc.Kind {
	case "local", "":
		st, err := local.New(filepath.Join(fc.Dir, "files"))
		if err != nil {
			return nil, fmt.Errorf("open local file storage: %w", err)
		}
		return st, nil
	case "s3":
		if fc.S3Bucket == "" {
			return nil, errors.New("BASE_FILES=s3 needs S3_BUCKET")
		}
		st, err := s3.New(s3.Config{
			Endpoint: fc.S3Endpoint, Bucket: fc.S3Bucket, Region: fc.S3Region,
			AccessKey: fc.S3AccessKey, SecretKey: fc.S3SecretKey, SessionToken: fc.S3SessionToken,
			ForcePathStyle: fc.S3ForcePathStyle,
		})
		if err != nil {
			return nil, fmt.Errorf("open s3 file storage: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("BASE_FILES=%q is not supported (want local or s3)", fc.Kind)
	}
}

// FileTokenSecret is the key file tokens are signed with: fc.TokenSecret
// when set (deployments across hosts — serverless instances must set it),
// else <dir>/file-token.key, created once with 32 random bytes, so every
// process on one data directory shares it.
func FileTokenSecret(fc Files) ([]byte, error) {
	if fc.TokenSecret != "" {
		return []byte(fc.TokenSecret), nil
	}
	path := filepath.Join(fc.Dir, "file-token.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(fc.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("file token key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	// O_EXCL: when several processes start together, one key wins and
	// everyone reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, werr := f.Write(key)
		if err := errors.Join(werr, f.Close()); err != nil {
			return nil, fmt.Errorf("file token key: %w", err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("file token key: %w", err)
	}
	for range 50 { // another process is writing it
		if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
			return b, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("file token key: %s is shorter than 32 bytes", path)
}

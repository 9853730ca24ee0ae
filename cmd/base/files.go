package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/files/local"
	"github.com/hanzoai/base/files/s3"
)

// filesConfigFromEnv reads BASE_FILES, S3_* and BASE_FILE_TOKEN_SECRET.
func filesConfigFromEnv(cfg *Config, getenv func(string) string) {
	cfg.Files = getenv("BASE_FILES")
	if cfg.Files == "" {
		cfg.Files = "local"
	}
	cfg.S3Endpoint = getenv("S3_ENDPOINT")
	cfg.S3Bucket = getenv("S3_BUCKET")
	cfg.S3Region = getenv("S3_REGION")
	cfg.S3AccessKey = getenv("S3_ACCESS_KEY")
	cfg.S3SecretKey = getenv("S3_SECRET_KEY")
	cfg.S3ForcePathStyle, _ = strconv.ParseBool(getenv("S3_FORCE_PATH_STYLE"))
	cfg.FileTokenSecret = getenv("BASE_FILE_TOKEN_SECRET")
}

// openFiles opens the file storage cfg.Files names: "local" keeps files
// under <dir>/files, "s3" in the S3_BUCKET bucket.
func openFiles(cfg Config) (files.Storage, error) {
	switch cfg.Files {
	case "local", "":
		st, err := local.New(filepath.Join(cfg.Dir, "files"))
		if err != nil {
			return nil, fmt.Errorf("open local file storage: %w", err)
		}
		return st, nil
	case "s3":
		if cfg.S3Bucket == "" {
			return nil, errors.New("BASE_FILES=s3 needs S3_BUCKET")
		}
		st, err := s3.New(s3.Config{
			Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket, Region: cfg.S3Region,
			AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, ForcePathStyle: cfg.S3ForcePathStyle,
		})
		if err != nil {
			return nil, fmt.Errorf("open s3 file storage: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("BASE_FILES=%q is not supported (want local or s3)", cfg.Files)
	}
}

// fileTokenSecret is the key file tokens are signed with: BASE_FILE_TOKEN_SECRET
// when set (deployments across hosts), else <dir>/file-token.key, created
// once with 32 random bytes, so every process on one --dir shares it.
func fileTokenSecret(cfg Config) ([]byte, error) {
	if cfg.FileTokenSecret != "" {
		return []byte(cfg.FileTokenSecret), nil
	}
	path := filepath.Join(cfg.Dir, "file-token.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
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
		sleep()
	}
	return nil, fmt.Errorf("file token key: %s is shorter than 32 bytes", path)
}

func sleep() { time.Sleep(20 * time.Millisecond) }

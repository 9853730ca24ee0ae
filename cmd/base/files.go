package main

import (
	"strconv"

	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/files"
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

// filesConfig is the file storage part of cfg.
func filesConfig(cfg Config) config.Files {
	return config.Files{
		Kind: cfg.Files, Dir: cfg.Dir, S3Endpoint: cfg.S3Endpoint, S3Bucket: cfg.S3Bucket,
		S3Region: cfg.S3Region, S3AccessKey: cfg.S3AccessKey, S3SecretKey: cfg.S3SecretKey,
		S3ForcePathStyle: cfg.S3ForcePathStyle, TokenSecret: cfg.FileTokenSecret,
	}
}

// openFiles opens the file storage cfg.Files names (config.OpenFiles).
func openFiles(cfg Config) (files.Storage, error) { return config.OpenFiles(filesConfig(cfg)) }

// fileTokenSecret is the key protected-file tokens are signed with
// (config.FileTokenSecret: BASE_FILE_TOKEN_SECRET, else a key shared by
// every process on one --dir).
func fileTokenSecret(cfg Config) ([]byte, error) { return config.FileTokenSecret(filesConfig(cfg)) }

package main

import (
	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/files"
)

// filesConfig is the file storage part of cfg.
func filesConfig(cfg Config) config.Files {
	fc := cfg.Files
	fc.Dir = cfg.Dir
	return fc
}

// openFiles opens the file storage cfg.Files names (config.OpenFiles).
func openFiles(cfg Config) (files.Storage, error) { return config.OpenFiles(filesConfig(cfg)) }

// fileTokenSecret is the key protected-file tokens are signed with
// (config.FileTokenSecret: BASE_FILE_TOKEN_SECRET, else a key shared by
// every process on one --dir).
func fileTokenSecret(cfg Config) ([]byte, error) { return config.FileTokenSecret(filesConfig(cfg)) }

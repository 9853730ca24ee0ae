package main

import (
	"bytes"
	"testing"

	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/files/local"
	"github.com/hanzoai/base/files/s3"
)

func TestFilesConfig(t *testing.T) {
	env := map[string]string{"BASE_FILES": "s3", "S3_BUCKET": "b", "S3_ENDPOINT": "http://127.0.0.1:1", "S3_FORCE_PATH_STYLE": "true", "S3_REGION": "eu-west-1"}
	cfg := ConfigFromEnv(func(k string) string { return env[k] })
	if fc := cfg.Files; fc.Kind != "s3" || fc.S3Bucket != "b" || !fc.S3ForcePathStyle || fc.S3Region != "eu-west-1" {
		t.Fatalf("config: %+v", cfg)
	}
	st, err := openFiles(cfg)
	if _, ok := st.(*s3.Storage); err != nil || !ok {
		t.Fatalf("openFiles(s3) = %T, %v", st, err)
	}
	cfg = ConfigFromEnv(func(string) string { return "" })
	cfg.Dir = t.TempDir()
	if st, err := openFiles(cfg); err != nil {
		t.Fatal(err)
	} else if _, ok := st.(*local.Storage); !ok {
		t.Fatalf("default storage %T", st)
	}
	for _, bad := range []Config{{Files: config.Files{Kind: "s3"}}, {Files: config.Files{Kind: "ftp"}}} {
		if _, err := openFiles(bad); err == nil {
			t.Errorf("openFiles(%+v) succeeded", bad)
		}
	}
}

func TestFileTokenSecretShared(t *testing.T) {
	cfg := Config{Dir: t.TempDir()}
	a, err := fileTokenSecret(cfg)
	if err != nil || len(a) < 32 {
		t.Fatalf("first: %d bytes, %v", len(a), err)
	}
	b, err := fileTokenSecret(cfg)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("a second process on the same dir got another key (%v)", err)
	}
	cfg.Files.TokenSecret = "from-env"
	if c, _ := fileTokenSecret(cfg); string(c) != "from-env" {
		t.Errorf("BASE_FILE_TOKEN_SECRET ignored: %q", c)
	}
}

package config_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hanzoai/base/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnvDefaults(t *testing.T) {
	cfg, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:8090" || cfg.Dir != "./base_data" || cfg.Store != "sqlite" || cfg.Prefix != "/v1" ||
		cfg.DefaultOrg != "default" || cfg.IAMClientID != "base" || cfg.Files.Kind != "local" {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestFromEnvValuesAndErrors(t *testing.T) {
	cfg, err := config.FromEnv(env(map[string]string{
		"BASE_ORG_DOMAINS": " Acme.example.com = acme , b.example.com=b", "BASE_BATCH_MAX": "7",
		"BASE_LOG_LEVEL": "debug", "BASE_STORE": "postgres", "BASE_MAX_BODY_SIZE": "1024",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OrgDomains["acme.example.com"] != "acme" || cfg.OrgDomains["b.example.com"] != "b" || cfg.BatchMax != 7 || cfg.MaxBodySize != 1024 || cfg.LogLevel.String() != "DEBUG" {
		t.Errorf("values: %+v", cfg)
	}
	_, err = config.FromEnv(env(map[string]string{"BASE_BATCH_MAX": "x", "BASE_STORE": "mysql", "BASE_ORG_DOMAINS": "nohost", "BASE_LOG_LEVEL": "loud"}))
	for _, want := range []string{"BASE_BATCH_MAX", "BASE_STORE", "BASE_ORG_DOMAINS", "BASE_LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestOpen(t *testing.T) {
	cfg, _ := config.FromEnv(env(map[string]string{"BASE_DIR": t.TempDir()}))
	h, closer, err := config.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/health", nil))
	if w.Code != http.StatusOK {
		t.Errorf("health: %d %s", w.Code, w.Body)
	}
	// Incomplete or invalid settings fail at Open, naming what is missing.
	for _, bad := range []map[string]string{
		{"BASE_REDIS_URL": "http://not-redis"},
		{"BASE_STORE": "postgres"}, // no BASE_STORE_URL
		{"BASE_STORE": "libsql"},   // no BASE_STORE_URL
		{"BASE_FILES": "s3"},       // no S3_BUCKET
	} {
		bad["BASE_DIR"] = t.TempDir()
		cfg, _ := config.FromEnv(env(bad))
		if _, _, err := config.Open(context.Background(), cfg, nil); err == nil {
			t.Errorf("Open(%v) must fail", bad)
		}
	}
}

// TestFilesFromEnvRoleCredentials: on Lambda the function's role
// credentials arrive as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
// AWS_SESSION_TOKEN; with no S3_ACCESS_KEY and no S3_ENDPOINT (AWS S3
// itself) they sign file storage requests — unsigned requests are refused
// by a private bucket. Explicit keys, or another S3-compatible endpoint,
// keep their own credentials.
func TestFilesFromEnvRoleCredentials(t *testing.T) {
	role := map[string]string{
		"BASE_FILES": "s3", "S3_BUCKET": "b", "AWS_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "rolesecret", "AWS_SESSION_TOKEN": "tok",
	}
	with := func(extra map[string]string) config.Files {
		env := map[string]string{}
		for k, v := range role {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		fc, err := config.FilesFromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return fc
	}
	if fc := with(nil); fc.S3AccessKey != "ASIAROLE" || fc.S3SecretKey != "rolesecret" || fc.S3SessionToken != "tok" || fc.S3Region != "eu-west-1" {
		t.Errorf("role credentials not used: %+v", fc)
	}
	if fc := with(map[string]string{"S3_ACCESS_KEY": "AKIA", "S3_SECRET_KEY": "s"}); fc.S3AccessKey != "AKIA" || fc.S3SessionToken != "" {
		t.Errorf("explicit keys overridden: %+v", fc)
	}
	if fc := with(map[string]string{"S3_ENDPOINT": "https://storage.googleapis.com"}); fc.S3AccessKey != "" || fc.S3SessionToken != "" {
		t.Errorf("AWS role credentials sent to another endpoint: %+v", fc)
	}
	if _, err := config.FilesFromEnv(func(k string) string { return map[string]string{"S3_FORCE_PATH_STYLE": "maybe"}[k] }); err == nil {
		t.Error("S3_FORCE_PATH_STYLE=maybe accepted")
	}
}

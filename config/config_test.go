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
		cfg.DefaultOrg != "default" || cfg.IAMClientID != "base" || cfg.Files != "local" {
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

package main

import (
	"io"
	"strings"
	"testing"
)

// TestServeRefusesHalfSetScheduler: BASE_SCHEDULER_AUDIENCE without
// BASE_SCHEDULER_EMAIL (or the reverse) is a misconfiguration; base serve
// must say so at start instead of silently running without the scheduler's
// access to /v1/crons.
func TestServeRefusesHalfSetScheduler(t *testing.T) {
	env := map[string]string{"BASE_DIR": t.TempDir(), "BASE_SCHEDULER_AUDIENCE": "https://api.example"}
	cfg := ConfigFromEnv(func(k string) string { return env[k] })
	err := NewMain(cfg, io.Discard).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "BASE_SCHEDULER_EMAIL") {
		t.Fatalf("Run = %v, want the half-set scheduler error", err)
	}
}

// TestServeRefusesBadNumbers: malformed counts in the environment stop
// base serve at start, naming the variable, rather than being ignored.
func TestServeRefusesBadNumbers(t *testing.T) {
	for k, v := range map[string]string{"BASE_REALTIME_WRITERS": "0", "BASE_TRUSTED_PROXY_HOPS": "x", "S3_FORCE_PATH_STYLE": "maybe"} {
		env := map[string]string{"BASE_DIR": t.TempDir(), k: v}
		cfg := ConfigFromEnv(func(k string) string { return env[k] })
		if err := NewMain(cfg, io.Discard).Run(t.Context()); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: Run = %v", k, v, err)
		}
	}
	env := map[string]string{"BASE_REALTIME_WRITERS": "2", "BASE_TRUSTED_PROXY_HOPS": "1"}
	cfg := ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.EnvErr != nil || cfg.RealtimeWriters != 2 || cfg.TrustedProxyHops != 1 {
		t.Errorf("valid values: %+v", cfg)
	}
}

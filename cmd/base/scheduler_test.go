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

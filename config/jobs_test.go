package config_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/jobs"
)

func TestSchedulerFromEnv(t *testing.T) {
	cfg, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scheduler != (config.Scheduler{Issuer: "https://accounts.google.com"}) || cfg.Scheduler.Enabled() {
		t.Errorf("default scheduler: %+v", cfg.Scheduler)
	}
	cfg, err = config.FromEnv(env(map[string]string{"BASE_SCHEDULER_ISSUER": "https://iss.example/", "BASE_SCHEDULER_AUDIENCE": "https://base.example",
		"BASE_SCHEDULER_EMAIL": "sched@p.iam.gserviceaccount.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (config.Scheduler{Issuer: "https://iss.example", Audience: "https://base.example", Email: "sched@p.iam.gserviceaccount.com"}); cfg.Scheduler != want || !cfg.Scheduler.Enabled() {
		t.Errorf("scheduler = %+v, want %+v", cfg.Scheduler, want)
	}
	for _, half := range []map[string]string{{"BASE_SCHEDULER_AUDIENCE": "https://base.example"}, {"BASE_SCHEDULER_EMAIL": "s@x"}} {
		if _, err := config.FromEnv(env(half)); err == nil || !strings.Contains(err.Error(), "BASE_SCHEDULER_") {
			t.Errorf("FromEnv(%v) = %v, want an error naming BASE_SCHEDULER_*", half, err)
		}
	}
}

// TestDeploymentCronsWithScheduler is the Cloud Run path end to end: the
// environment names a scheduler issuer (a local one standing in for
// Google), OpenDeployment wires the built-in jobs and the crons routes,
// and a POST with the scheduler's ID token runs the SQLite optimize job.
func TestDeploymentCronsWithScheduler(t *testing.T) {
	iss := testsrv.DevIssuer(t)

	dir := t.TempDir()
	cfg, err := config.FromEnv(env(map[string]string{"BASE_DIR": dir, "BASE_SCHEDULER_ISSUER": iss.Issuer(),
		"BASE_SCHEDULER_AUDIENCE": "https://base.example.run.app", "BASE_SCHEDULER_EMAIL": "sched@p.iam.gserviceaccount.com"}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := config.OpenDeployment(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Jobs.List(); len(got) != 1 || got[0].ID != jobs.StoreOptimizeID {
		t.Fatalf("jobs = %+v, want the store optimize job", got)
	}
	do := func(method, path, tok string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, path, nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		d.Handler.ServeHTTP(w, r)
		return w
	}
	// Create an org with data, so there is a WAL to checkpoint.
	if w := do("GET", "/v1/health", ""); w.Code != 200 {
		t.Fatal(w.Code)
	}
	tok, err := iss.Mint(map[string]any{"sub": "1", "aud": "https://base.example.run.app", "email": "sched@p.iam.gserviceaccount.com", "email_verified": true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := iss.Mint(map[string]any{"sub": "1", "aud": "https://elsewhere.example", "email": "sched@p.iam.gserviceaccount.com"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if w := do("POST", "/v1/crons/"+jobs.StoreOptimizeID, bad); w.Code != http.StatusUnauthorized {
		t.Errorf("token for another audience: %d %s", w.Code, w.Body)
	}
	if w := do("GET", "/v1/crons", tok); w.Code != 200 || !strings.Contains(w.Body.String(), `"id":"__baseStoreOptimize__"`) {
		t.Errorf("GET /v1/crons: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/v1/crons/"+jobs.StoreOptimizeID, tok); w.Code != http.StatusNoContent {
		t.Fatalf("POST /v1/crons/%s: %d %s", jobs.StoreOptimizeID, w.Code, w.Body)
	}
	if w := do("POST", "/v1/crons/__nope__", tok); w.Code != http.StatusNotFound {
		t.Errorf("unknown job: %d %s", w.Code, w.Body)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "orgs"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), "-wal") {
			if fi, _ := e.Info(); fi != nil && fi.Size() != 0 {
				t.Errorf("%s is %d bytes after the optimize job", e.Name(), fi.Size())
			}
		}
	}
}

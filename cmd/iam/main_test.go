package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/internal/testsrv"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    func(Config) bool
		wantErr string
	}{
		{"defaults", nil, func(c Config) bool {
			return c.Store == "sqlite" && c.Dir == "./iam_data" && c.HTTP == "127.0.0.1:8000" && !c.IAM.BalanceAPI
		}, ""},
		{"postgres", map[string]string{"BASE_STORE": "postgres", "BASE_STORE_URL": "postgres://u@h/db", "IAM_BALANCE_API": "true"}, func(c Config) bool {
			return c.Store == "postgres" && c.StoreURL == "postgres://u@h/db" && c.IAM.BalanceAPI
		}, ""},
		{"BASE_DIR fallback", map[string]string{"BASE_DIR": "/data"}, func(c Config) bool { return c.Dir == "/data" }, ""},
		{"IAM_DIR wins", map[string]string{"BASE_DIR": "/data", "IAM_DIR": "/iam"}, func(c Config) bool { return c.Dir == "/iam" }, ""},
		{"platform admin", map[string]string{"IAM_ADMIN_ORG": "ops", "IAM_ADMIN_USER": "root", "IAM_ADMIN_PASSWORD": "pw", "IAM_ADMIN_EMAIL": "r@x.test"}, func(c Config) bool {
			return c.IAM.Admin == iam.BootstrapAdmin{Org: "ops", Username: "root", Password: "pw", Email: "r@x.test"}
		}, ""},
		{"unknown store", map[string]string{"BASE_STORE": "mysql"}, nil, "BASE_STORE"},
		{"bad argon2", map[string]string{"IAM_ARGON2": "1,2"}, nil, "IAM_ARGON2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.want(c) {
				t.Fatalf("ConfigFromEnv = %+v, %v", c, err)
			}
		})
	}
}

// runMain starts Main on a free port and returns its origin; it stops when
// the test ends.
func runMain(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.HTTP = fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	origin := "http://" + cfg.HTTP
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(origin + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return origin
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("iam did not answer on %s: %v", origin, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %d %q", u, resp.StatusCode, b)
	}
	return m
}

// TestRunOnEveryStore runs the command over SQLite and over PostgreSQL; on
// PostgreSQL two processes' worth of Mains share the store, so the second
// serves the signing key the first created.
func TestRunOnEveryStore(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			env := map[string]string{"BASE_STORE": kind, "IAM_DIR": t.TempDir(), "IAM_ARGON2": "64,1,1"}
			if kind == "postgres" {
				env["BASE_STORE_URL"] = testsrv.Postgres(t).URL
			}
			cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			origin := runMain(t, cfg)
			if doc := getJSON(t, origin+iam.PathDiscovery); doc["issuer"] != origin {
				t.Fatalf("issuer %v, want %s", doc["issuer"], origin)
			}
			jwks := getJSON(t, origin+iam.PathJWKS)
			if kind != "postgres" {
				return
			}
			cfg.Dir = t.TempDir() // nothing on disk is shared
			other := runMain(t, cfg)
			a, _ := json.Marshal(jwks)
			b, _ := json.Marshal(getJSON(t, other+iam.PathJWKS))
			if string(a) != string(b) || !strings.Contains(string(a), `"kid"`) {
				t.Fatalf("instances on one PostgreSQL serve different keys:\n%s\n%s", a, b)
			}
		})
	}
}

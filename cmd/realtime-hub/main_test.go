package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/internal/testsrv"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestListenAddr: the deployments set different variables — ECS sets
// BASE_HTTP, Cloud Run sets PORT — and the hub must listen where they
// route traffic, not on loopback.
func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "127.0.0.1:8091"},
		{map[string]string{"PORT": "8080"}, "0.0.0.0:8080"},
		{map[string]string{"BASE_HTTP": "0.0.0.0:8091", "PORT": "8080"}, "0.0.0.0:8091"},
		{map[string]string{"BASE_HUB_HTTP": "127.0.0.1:9", "BASE_HTTP": "0.0.0.0:8091"}, "127.0.0.1:9"},
	} {
		tc.env["BASE_REDIS_URL"] = "redis://127.0.0.1:6379"
		cfg, err := ConfigFromEnv(env(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTP != tc.want {
			t.Errorf("%v: HTTP = %q, want %q", tc.env, cfg.HTTP, tc.want)
		}
	}
}

// TestWritersFromEnv: BASE_REALTIME_WRITERS sets the hub's writer
// goroutines; anything but a positive integer is refused.
func TestWritersFromEnv(t *testing.T) {
	for _, tc := range []struct {
		val     string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{"3", 3, false},
		{"0", 0, true},
		{"two", 0, true},
	} {
		cfg, err := ConfigFromEnv(env(map[string]string{"BASE_REDIS_URL": "redis://127.0.0.1:6379", "BASE_REALTIME_WRITERS": tc.val}))
		if (err != nil) != tc.wantErr || (err == nil && cfg.Writers != tc.want) {
			t.Errorf("BASE_REALTIME_WRITERS=%q: Writers %d, err %v; want %d, error %v", tc.val, cfg.Writers, err, tc.want, tc.wantErr)
		}
	}
}

// TestRunOnPostgres: the standalone hub of the AWS and GCP deployments
// reads schemas and rules from the same PostgreSQL as the API; it must
// start on it and answer its health check.
func TestRunOnPostgres(t *testing.T) {
	pg := testsrv.Postgres(t)
	rd := testsrv.StartRedis(t)
	cfg, err := ConfigFromEnv(env(map[string]string{
		"BASE_HUB_HTTP":  "127.0.0.1:0",
		"BASE_STORE":     "postgres",
		"BASE_STORE_URL": pg.URL,
		"BASE_REDIS_URL": rd.URL(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	defer m.Close()
	deadline := time.Now().Add(10 * time.Second)
	for m.Addr() == "" {
		select {
		case err := <-errc:
			t.Fatalf("run: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("hub did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := http.Get("http://" + m.Addr() + "/v1/realtime")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /v1/realtime: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

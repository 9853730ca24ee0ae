// Command base-lambda runs the Base API on AWS Lambda (provided.al2023,
// arm64 or x86_64). One binary answers API Gateway HTTP APIs, REST APIs,
// ALB target groups and Function URLs, and EventBridge schedules. It is
// configured by the environment of spec/base-v1.md §8; BASE_DIR defaults
// to /tmp/base_data, the only writable directory on Lambda.
//
// Build:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc \
//	  -trimpath -ldflags='-s -w' -o bootstrap ./cmd/base-lambda
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	lambdaadapter "github.com/hanzoai/base/adapters/lambda"
	"github.com/hanzoai/base/config"
)

func main() {
	m, err := NewMain(os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "base-lambda: %v\n", err)
		os.Exit(1)
	}
	a, err := m.Open(context.Background())
	if err != nil {
		m.Logger.Error("base-lambda: start failed", "err", err)
		os.Exit(1)
	}
	// lambda.Start runs the Runtime API loop and never returns; the
	// process is frozen and ended by Lambda.
	lambda.Start(a)
}

// Main wires the Lambda function: configuration, logger, handler, adapter.
type Main struct {
	Config config.Config
	Logger *slog.Logger

	closer io.Closer
}

// NewMain reads the configuration through getenv and returns a Main that
// logs JSON lines to logw, each line of an invocation carrying its
// awsRequestId.
func NewMain(getenv func(string) string, logw io.Writer) (*Main, error) {
	env := func(k string) string {
		if v := getenv(k); v != "" || k != "BASE_DIR" {
			return v
		}
		return "/tmp/base_data"
	}
	cfg, err := config.FromEnv(env)
	if err != nil {
		return nil, err
	}
	h := slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: cfg.LogLevel})
	return &Main{Config: cfg, Logger: slog.New(lambdaadapter.LogHandler(h))}, nil
}

// Open builds the handler and the job registry and returns the adapter to
// hand to lambda.Start.
func (m *Main) Open(ctx context.Context) (*lambdaadapter.Adapter, error) {
	d, err := config.OpenDeployment(ctx, m.Config, m.Logger)
	if err != nil {
		return nil, err
	}
	m.closer = d
	return lambdaadapter.New(lambdaadapter.Config{
		Handler: d.Handler,
		Logger:  m.Logger,
		// EventBridge schedules run the same jobs GET /v1/crons lists.
		Scheduler: lambdaadapter.JobScheduler{Jobs: d.Jobs, Logger: m.Logger},
	})
}

// Close releases the store.
func (m *Main) Close() error {
	if m.closer != nil {
		return m.closer.Close()
	}
	return nil
}

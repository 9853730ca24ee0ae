// Package function registers Base as the Cloud Functions (2nd gen) HTTP
// function "Base" with functions-framework-go. Deploying from source needs
// a function package at the root of a Go module: create one that imports
// this package for its side effect (see infra/terraform/README.md) and
// deploy it with entry point "Base". The configuration comes from the
// environment of spec/base-v1.md §8, as for cmd/base-cloudrun.
package function

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/hanzoai/base/adapters/cloudrun"
	"github.com/hanzoai/base/config"
)

// EntryPoint is the function's name (the --entry-point of a deployment).
const EntryPoint = "Base"

// init registers the function: functions-framework-go discovers
// functions only through registration at package initialization, so this
// is the one place Base uses init. The handler itself is built on the
// first request.
func init() {
	var level slog.Level // BASE_LOG_LEVEL; unset or invalid: info (config.FromEnv reports the invalid)
	level.UnmarshalText([]byte(os.Getenv("BASE_LOG_LEVEL")))
	log := slog.New(cloudrun.LogHandler(os.Stdout, os.Getenv("GOOGLE_CLOUD_PROJECT"), level))
	functions.HTTP(EntryPoint, cloudrun.Function(func(ctx context.Context) (http.Handler, error) {
		cfg, err := config.FromEnv(func(k string) string {
			if v := os.Getenv(k); v != "" || k != "BASE_DIR" {
				return v
			}
			return "/tmp/base_data"
		})
		if err != nil {
			return nil, err
		}
		h, _, err := config.Open(ctx, cfg, log)
		return h, err
	}, log))
}

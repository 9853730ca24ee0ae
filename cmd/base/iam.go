package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hanzoai/base/iam"
)

// embeddedIAM starts the embedded IAM in the background, so opening its
// database and key ring does not delay the server's first answer (cold
// start). Its HTTP routes and its in-process JWKS client wait for it.
type embeddedIAM struct {
	ready chan struct{}
	srv   *iam.Server
	err   error
	once  sync.Once
}

// startIAM begins iam.New(cfg); fail is called if it fails, so the caller
// can stop serving.
func startIAM(ctx context.Context, cfg iam.Config, fail func(error)) *embeddedIAM {
	e := &embeddedIAM{ready: make(chan struct{})}
	go func() {
		// Several processes starting together on a fresh data directory
		// race to create the IAM's tables; a loser retries on the schema
		// the winner committed.
		for attempt := 0; ; attempt++ {
			e.srv, e.err = iam.New(ctx, cfg)
			if e.err == nil || attempt == 4 || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
		}
		close(e.ready)
		if e.err != nil {
			fail(fmt.Errorf("embedded IAM: %w", e.err))
		}
	}()
	return e
}

// wait returns the started server, or why it is not there.
func (e *embeddedIAM) wait(ctx context.Context) (*iam.Server, error) {
	select {
	case <-e.ready:
		return e.srv, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ServeHTTP serves the IAM's routes once it has started.
func (e *embeddedIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv, err := e.wait(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":503,"message":"The identity service is not available.","data":{}}`)
		return
	}
	srv.Handler().ServeHTTP(w, r)
}

// client is an HTTP client answered in-process by the IAM (the verifier's
// JWKS fetches), waiting for it to start.
func (e *embeddedIAM) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		srv, err := e.wait(r.Context())
		if err != nil {
			return nil, err
		}
		return srv.LocalClient().Transport.RoundTrip(r)
	})}
}

// Close stops the IAM once it has started.
func (e *embeddedIAM) Close() {
	e.once.Do(func() {
		<-e.ready
		if e.srv != nil {
			e.srv.Close()
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

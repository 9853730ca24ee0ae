package auth

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DiscoveringVerifier verifies tokens of an IAM known only by its origin:
// the first Verify runs OpenID discovery and builds a [Verifier] from the
// answer (issuer, jwks_uri). While discovery fails, tokens are refused with
// ErrKeyFetch and discovery is retried at most once per RetryInterval, so
// an IAM that is down when Base starts is picked up when it comes back,
// without a restart. It is safe for concurrent use.
type DiscoveringVerifier struct {
	endpoint string
	base     Config // Issuer/JWKSURL empty: filled from discovery unless set
	client   *http.Client
	retry    time.Duration

	mu       sync.Mutex
	v        *Verifier
	disc     Discovery
	lastTry  time.Time
	lastErr  error
	inFlight chan struct{}
}

// DefaultDiscoveryRetry is the minimum time between two discovery attempts.
const DefaultDiscoveryRetry = 5 * time.Second

// NewDiscovering returns a verifier for the IAM at endpoint. cfg supplies
// everything but what discovery provides; a non-empty cfg.Issuer overrides
// the discovered issuer and a non-empty cfg.JWKSURL the discovered jwks_uri.
// It does no I/O.
func NewDiscovering(endpoint string, cfg Config) *DiscoveringVerifier {
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	return &DiscoveringVerifier{endpoint: endpoint, base: cfg, client: client, retry: DefaultDiscoveryRetry}
}

// Document returns the discovery document, running discovery if it has not
// succeeded yet (subject to the retry interval).
func (d *DiscoveringVerifier) Document(ctx context.Context) (Discovery, error) {
	if _, err := d.verifier(ctx); err != nil {
		return Discovery{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.disc, nil
}

// Verify discovers the IAM if needed, then verifies token (see
// [Verifier.Verify]).
func (d *DiscoveringVerifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	v, err := d.verifier(ctx)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, token)
}

// verifier returns the built Verifier, running discovery when it is due.
// Concurrent callers share one attempt.
func (d *DiscoveringVerifier) verifier(ctx context.Context) (*Verifier, error) {
	d.mu.Lock()
	if d.v != nil {
		v := d.v
		d.mu.Unlock()
		return v, nil
	}
	now := time.Now()
	if wait := d.inFlight; wait != nil {
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("discover %s: %w: %w", d.endpoint, ErrKeyFetch, ctx.Err())
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.v != nil {
			return d.v, nil
		}
		return nil, d.lastErr
	}
	if !d.lastTry.IsZero() && now.Sub(d.lastTry) < d.retry {
		err := d.lastErr
		d.mu.Unlock()
		return nil, err
	}
	d.lastTry = now
	done := make(chan struct{})
	d.inFlight = done
	d.mu.Unlock()

	v, disc, err := d.discover(ctx)

	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight = nil
	close(done)
	if err != nil {
		d.lastErr = fmt.Errorf("discover %s: %w: %w", d.endpoint, ErrKeyFetch, err)
		return nil, d.lastErr
	}
	d.v, d.disc = v, disc
	return v, nil
}

func (d *DiscoveringVerifier) discover(ctx context.Context) (*Verifier, Discovery, error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultFetchTimeout)
	defer cancel()
	disc, err := Discover(dctx, d.client, d.endpoint)
	if err != nil {
		return nil, Discovery{}, err
	}
	cfg := d.base
	if cfg.Issuer == "" {
		cfg.Issuer = disc.Issuer
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = disc.JWKSURI
	}
	v, err := New(ctx, cfg)
	if err != nil {
		return nil, Discovery{}, err
	}
	return v, disc, nil
}

package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// errFetch marks errors of a JWKS fetch (wrapped with the cause).
var errFetch = errors.New("fetch jwks")

// maxJWKSBytes bounds a JWKS response body.
const maxJWKSBytes = 1 << 20

// keySnapshot is an immutable view of the keys fetched from the JWKS URL.
type keySnapshot struct {
	byKID     map[string]jwkset.JWK
	all       []jwkset.JWK
	fetchedAt time.Time
}

// flight is one JWKS fetch in progress; done is closed when it ends.
type flight struct {
	done chan struct{}
	err  error
}

// keyStore is the key storage behind keyfunc: static keys first, then the
// keys of a lazily fetched JWKS. It implements jwkset.Storage; only KeyRead
// and KeyReadAll are used by keyfunc, the other methods act on the static set.
//
// Fetch policy: the first lookup fetches the JWKS (concurrent lookups share
// the fetch); later, a lookup of an unknown kid, or any lookup once the cache
// is older than maxAge, triggers a refetch, but at most one fetch starts per
// minInterval window. A lookup never waits for a rate-limited fetch: it
// fails with jwkset.ErrKeyNotFound (or errFetch when nothing is cached).
type keyStore struct {
	jwkset.Storage // static keys (KeyWrite, JSON, … act on them)

	static      map[string]jwkset.JWK
	staticAll   []jwkset.JWK
	url         string
	client      *http.Client
	now         func() time.Time
	minInterval time.Duration
	maxAge      time.Duration
	timeout     time.Duration

	snap atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	inflight    *flight   // guarded by mu
	lastAttempt time.Time // guarded by mu
	attempted   bool      // guarded by mu
	lastErr     error     // guarded by mu
}

var _ jwkset.Storage = (*keyStore)(nil)

func newKeyStore(static map[string]crypto.PublicKey, url string, client *http.Client, now func() time.Time, minInterval, maxAge, timeout time.Duration) (*keyStore, error) {
	s := &keyStore{
		Storage:     jwkset.NewMemoryStorage(),
		static:      make(map[string]jwkset.JWK, len(static)),
		url:         url,
		client:      client,
		now:         now,
		minInterval: minInterval,
		maxAge:      maxAge,
		timeout:     timeout,
	}
	for kid, pub := range static {
		if pub == nil {
			return nil, fmt.Errorf("static key %q: nil key", kid)
		}
		j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		if err != nil {
			return nil, fmt.Errorf("static key %q: %w", kid, err)
		}
		if err := s.Storage.KeyWrite(context.Background(), j); err != nil {
			return nil, fmt.Errorf("static key %q: %w", kid, err)
		}
		s.static[kid] = j
		s.staticAll = append(s.staticAll, j)
	}
	return s, nil
}

// KeyRead returns the key with the given kid (see the fetch policy above).
func (s *keyStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	if j, ok := s.static[kid]; ok {
		return j, nil
	}
	if s.url == "" {
		return jwkset.JWK{}, fmt.Errorf("%w %q", jwkset.ErrKeyNotFound, kid)
	}
	snap := s.snap.Load()
	if snap != nil {
		if j, ok := snap.byKID[kid]; ok {
			if s.now().Sub(snap.fetchedAt) > s.maxAge {
				s.refresh(ctx, false) // stale-while-revalidate: do not wait
			}
			return j, nil
		}
	}
	if err := s.refresh(ctx, true); err != nil && snap == nil {
		return jwkset.JWK{}, err
	}
	if snap = s.snap.Load(); snap != nil {
		if j, ok := snap.byKID[kid]; ok {
			return j, nil
		}
	}
	return jwkset.JWK{}, fmt.Errorf("%w %q", jwkset.ErrKeyNotFound, kid)
}

// KeyReadAll returns every trusted key, fetching the JWKS first if it has
// never been fetched. It serves tokens without a kid.
func (s *keyStore) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	all := append([]jwkset.JWK(nil), s.staticAll...)
	if s.url == "" {
		return all, nil
	}
	snap := s.snap.Load()
	if snap == nil {
		if err := s.refresh(ctx, true); err != nil {
			if len(all) > 0 {
				return all, nil
			}
			return nil, err
		}
		snap = s.snap.Load()
	} else if s.now().Sub(snap.fetchedAt) > s.maxAge {
		s.refresh(ctx, false)
	}
	if snap != nil {
		all = append(all, snap.all...)
	}
	return all, nil
}

// refresh starts a JWKS fetch unless one is in flight or the rate limit
// forbids it, and waits for the (new or in-flight) fetch when wait is set.
// It returns the fetch error, or an errFetch error when rate limited with
// nothing cached, or ctx's error if ctx ends first; nil otherwise.
func (s *keyStore) refresh(ctx context.Context, wait bool) error {
	s.mu.Lock()
	f := s.inflight
	if f == nil {
		now := s.now()
		if s.attempted && now.Sub(s.lastAttempt) < s.minInterval {
			err := s.lastErr
			s.mu.Unlock()
			if err != nil && s.snap.Load() == nil {
				return fmt.Errorf("%w: rate limited after: %w", errFetch, err)
			}
			return nil
		}
		f = &flight{done: make(chan struct{})}
		s.inflight, s.lastAttempt, s.attempted = f, now, true
		// The fetch outlives the request that started it: other requests
		// may be waiting for it.
		go s.fetch(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	if !wait {
		return nil
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errFetch, ctx.Err())
	}
}

// fetch downloads and installs the JWKS, then completes f.
func (s *keyStore) fetch(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.download(ctx)
	if err == nil {
		s.snap.Store(snap)
	} else {
		err = fmt.Errorf("%w %s: %w", errFetch, s.url, err)
	}
	s.mu.Lock()
	s.inflight, s.lastErr = nil, err
	s.mu.Unlock()
	f.err = err
	close(f.done)
}

// download fetches and parses the JWKS. Keys with use "enc", and keys the
// library cannot represent, are skipped; a set with no usable key is an error.
func (s *keyStore) download(ctx context.Context) (*keySnapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	snap := &keySnapshot{byKID: make(map[string]jwkset.JWK, len(set.Keys)), fetchedAt: s.now()}
	var firstErr error
	for _, raw := range set.Keys {
		j, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		m := j.Marshal()
		if m.USE == jwkset.UseEnc {
			continue
		}
		switch m.KTY {
		case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
		default:
			continue // symmetric keys are never trusted
		}
		snap.all = append(snap.all, j)
		if m.KID != "" {
			snap.byKID[m.KID] = j
		}
	}
	if len(snap.all) == 0 && len(set.Keys) > 0 {
		return nil, fmt.Errorf("no usable key: %w", firstErr)
	}
	return snap, nil
}

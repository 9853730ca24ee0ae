package auth

import (
	"sync"
	"time"
)

// Verified tokens are cached so a client sending the same token on every
// request pays for one signature check, not one per request. An entry lives
// until the token's exp or tokenCacheTTL, whichever is first, so the cache
// never extends a token's life. An entry is bound to the JWKS snapshot it
// was verified against: a refetched key set (rotation, revocation) or a
// stale one (due for refresh) sends the token through full verification
// again, so a key removed from the JWKS stops authenticating exactly as it
// would without the cache.
const (
	tokenCacheTTL  = 2 * time.Minute
	tokenCacheSize = 16384
)

type cachedToken struct {
	claims map[string]any
	until  time.Time
	keys   *keySnapshot // JWKS snapshot at verification; nil = static keys
}

// tokenCache is a bounded map of verified tokens; when full, expired
// entries are dropped and, if none were, an arbitrary half is.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]cachedToken
}

func (c *tokenCache) get(token string, now time.Time, keys *keySnapshot, stale bool) (map[string]any, bool) {
	c.mu.RLock()
	e, ok := c.m[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || stale || e.keys != keys {
		return nil, false
	}
	return e.claims, true
}

func (c *tokenCache) put(token string, claims map[string]any, now time.Time, keys *keySnapshot) {
	until := now.Add(tokenCacheTTL)
	if exp, ok := claims["exp"].(float64); ok {
		if t := time.Unix(int64(exp), 0); t.Before(until) {
			until = t
		}
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedToken)
	}
	if len(c.m) >= tokenCacheSize {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < tokenCacheSize/2 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[token] = cachedToken{claims: claims, until: until, keys: keys}
}

// current returns the JWKS snapshot in use and whether it is due for a
// refresh.
func (s *keyStore) current(now time.Time) (*keySnapshot, bool) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, false
	}
	return snap, now.Sub(snap.fetchedAt) > s.maxAge
}

package handler

import (
	"container/list"
	"sync"

	"github.com/hanzoai/base/records"
)

// schemaCacheSize bounds the schema snapshots the handler keeps: one per
// recently used org (about 10 KiB each for a bootstrapped org). Unbounded,
// the cache grew RSS by that much for every org ever served (issue 5:
// "RSS flat in the number of orgs"); an evicted org reloads its
// collections on its next request, as a cold org does anyway.
const schemaCacheSize = 1024

// schemaCache maps org → its last loaded *records.Schema, least recently
// used out first beyond max entries. It is safe for concurrent use.
type schemaCache struct {
	mu  sync.Mutex
	max int // 0: schemaCacheSize
	m   map[string]*list.Element
	lru list.List // of *schemaEntry; front is most recent
}

type schemaEntry struct {
	org string
	s   *records.Schema
}

// Load returns org's cached schema.
func (c *schemaCache) Load(org string) (*records.Schema, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[org]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*schemaEntry).s, true
}

// Store caches s as org's schema, evicting the least recently used orgs
// beyond the bound.
func (c *schemaCache) Store(org string, s *records.Schema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*list.Element{}
	}
	if e, ok := c.m[org]; ok {
		e.Value.(*schemaEntry).s = s
		c.lru.MoveToFront(e)
		return
	}
	c.m[org] = c.lru.PushFront(&schemaEntry{org: org, s: s})
	limit := c.max
	if limit <= 0 {
		limit = schemaCacheSize
	}
	for c.lru.Len() > limit {
		old := c.lru.Remove(c.lru.Back()).(*schemaEntry)
		delete(c.m, old.org)
	}
}

// Len reports how many orgs have a cached schema.
func (c *schemaCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

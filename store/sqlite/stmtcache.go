package sqlite

import (
	"container/list"
	"context"
	"database/sql"
	"sync"
)

// stmtCacheSize bounds the prepared statements kept per pool of one org.
// SQL texts are generated from collection definitions with every value
// bound, so a working set of a few dozen texts covers an org's traffic.
const stmtCacheSize = 64

// stmtCache keeps prepared statements of one *sql.DB by SQL text, least
// recently used evicted. Parsing and planning a statement cost about as
// much as running a typical indexed query in SQLite; reusing them removes
// that from every request. database/sql prepares a cached Stmt on each
// pooled connection as it is used, and re-prepares transparently.
type stmtCache struct {
	db *sql.DB

	mu  sync.Mutex
	m   map[string]*list.Element // of *stmtEntry
	lru list.List
}

type stmtEntry struct {
	query string
	stmt  *sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*list.Element)}
}

// get returns the prepared statement for query, preparing it on a miss.
// Statements that fail to prepare are not cached.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	if e, ok := c.m[query]; ok {
		c.lru.MoveToFront(e)
		st := e.Value.(*stmtEntry).stmt
		c.mu.Unlock()
		return st, nil
	}
	c.mu.Unlock()

	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[query]; ok { // prepared concurrently: keep the first
		st.Close()
		c.lru.MoveToFront(e)
		return e.Value.(*stmtEntry).stmt, nil
	}
	c.m[query] = c.lru.PushFront(&stmtEntry{query: query, stmt: st})
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		c.lru.Remove(old)
		ent := old.Value.(*stmtEntry)
		delete(c.m, ent.query)
		// database/sql defers closing a statement's connection-level
		// handle until no query on that connection uses it.
		ent.stmt.Close()
	}
	return st, nil
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*stmtEntry).stmt.Close()
	}
	c.m = map[string]*list.Element{}
	c.lru.Init()
}

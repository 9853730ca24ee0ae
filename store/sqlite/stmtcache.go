package sqlite

import (
	"container/list"
	"context"
	"database/sql"
	"strings"
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
	query   string
	stmt    *sql.Stmt
	refs    int  // callers between get and done; guarded by stmtCache.mu
	evicted bool // out of the cache: close when refs drops to 0
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*list.Element)}
}

// get returns the prepared statement for query, preparing it on a miss,
// and a done func the caller must call once the statement has been used
// (a query's Rows keep the statement alive by themselves). Statements that
// fail to prepare are not cached.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, func(), error) {
	c.mu.Lock()
	if e, ok := c.m[query]; ok {
		c.lru.MoveToFront(e)
		ent := e.Value.(*stmtEntry)
		ent.refs++
		c.mu.Unlock()
		return ent.stmt, func() { c.done(ent) }, nil
	}
	c.mu.Unlock()

	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[query]; ok { // prepared concurrently: keep the first
		st.Close()
		c.lru.MoveToFront(e)
		ent := e.Value.(*stmtEntry)
		ent.refs++
		return ent.stmt, func() { c.done(ent) }, nil
	}
	ent := &stmtEntry{query: query, stmt: st, refs: 1}
	c.m[query] = c.lru.PushFront(ent)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		c.lru.Remove(old)
		oe := old.Value.(*stmtEntry)
		delete(c.m, oe.query)
		oe.evicted = true
		if oe.refs == 0 {
			oe.stmt.Close()
		}
	}
	return st, func() { c.done(ent) }, nil
}

// done ends one use of ent, closing it if it was evicted meanwhile.
func (c *stmtCache) done(ent *stmtEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ent.refs--
	if ent.evicted && ent.refs == 0 {
		ent.stmt.Close()
	}
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		// In-flight uses fail cleanly ("statement is closed"): the handle
		// closes only when no one holds it.
		e.Value.(*stmtEntry).stmt.Close()
	}
	c.m = map[string]*list.Element{}
	c.lru.Init()
}

// cacheable reports whether query is plain DML worth keeping prepared;
// schema changes and pragmas run once and are not cached.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return strings.EqualFold(q[:4], "WITH")
}

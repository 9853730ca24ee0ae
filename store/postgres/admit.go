package postgres

import (
	"hash/maphash"
	"sync"
)

// Only hot reads become named prepared statements (cache.go). Preparing
// costs a round trip of its own (Parse/Describe) on every connection that
// runs the statement, and pgx's per-connection cache of 512 statements
// evicts with another (Deallocate): a read run once, as most reads of
// most orgs are when thousands of orgs share a store (the cold-org
// benchmark touches 10,000 orgs once each), would take three round trips
// instead of one. So a store counts the executions of its cacheable
// reads and prepares a read only once it has run admitHits times within
// the current and the previous window of admitWindow executions.
const (
	// admitWindow is the number of counted executions after which the
	// older window is dropped. With two windows kept, a store holds at
	// most 2×8192 counters (a few hundred KB), and a read counts as hot
	// when it comes back a few times within the last 8,192–16,384 reads:
	// about a second or two of a busy instance, long enough for one org's
	// repeated reads by id and the schema version read of every request
	// to qualify, short enough that a crawl over thousands of orgs does
	// not.
	admitWindow = 8192
	// admitHits is the number of executions in the window that make a
	// read hot. Unnamed, a point read costs PostgreSQL ~70 µs of parse
	// and plan each time; prepared, one extra round trip per connection.
	// Two executions would admit every org's reads on its second request
	// (a user opening a record and then saving it); three wants a read
	// that keeps coming, which pays for the Parse within a few executions
	// on each of the pool's connections.
	admitHits = 3
)

// admission decides which reads are hot. It is safe for concurrent use.
type admission struct {
	seed maphash.Seed

	mu        sync.Mutex
	n         int               // executions counted in cur
	cur, prev map[uint64]uint32 // executions per statement hash
}

func newAdmission() *admission {
	return &admission{
		seed: maphash.MakeSeed(),
		cur:  make(map[uint64]uint32),
		prev: make(map[uint64]uint32),
	}
}

// admit counts one execution of query (the SQL text as sent) and reports
// whether query has now run admitHits times in this window and the
// previous one. Keeping the previous window means a statement that was
// hot stays admitted across a window change instead of running unnamed
// again until it is counted anew. Statements are told apart by a 64-bit
// hash: a collision only admits a cold statement early.
func (a *admission) admit(query string) bool {
	h := maphash.String(a.seed, query)
	a.mu.Lock()
	if a.n >= admitWindow {
		a.prev, a.cur = a.cur, a.prev
		clear(a.cur)
		a.n = 0
	}
	a.n++
	c := a.cur[h] + 1
	a.cur[h] = c
	hot := c+a.prev[h] >= admitHits
	a.mu.Unlock()
	return hot
}

package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
)

// TestManyInstances runs three stores (as three Base processes would) on
// one database: they race to bootstrap the same new org, then write
// read-modify-write counters and unique rows concurrently through all
// three; no update may be lost and a schema change made through one is
// seen by the others.
func TestManyInstances(t *testing.T) {
	url := testsrv.PostgresURL(t)
	prefix := fmt.Sprintf("mi%d_", prefixes.Add(1))
	var stores []*postgres.Store
	for range 3 {
		s, err := postgres.Open(postgres.Config{URL: url, SchemaPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	ctx := context.Background()

	// Racing bootstraps of one new org.
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := stores[i%3].Acquire(ctx, "shared")
			if err != nil {
				errs <- err
				return
			}
			db.Release()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	dbs := make([]store.DB, 3)
	for i, s := range stores {
		db, err := s.Acquire(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Release()
		dbs[i] = db
	}
	v0, err := store.SchemaVersion(ctx, dbs[1])
	if err != nil {
		t.Fatal(err)
	}
	c := &base.Collection{ID: "pbc_counters", Name: "counters", Type: base.TypeBase, Fields: []*base.Field{
		base.RecordIDField(),
		{ID: "n", Name: "n", Type: base.FieldNumber},
		{ID: "k", Name: "k", Type: base.FieldText},
	}, Indexes: []string{"CREATE UNIQUE INDEX idx_k ON counters (k)"}}
	tx, err := dbs[0].Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateCollection(ctx, tx, dbs[0].Dialect(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO "counters" ("id", "n", "k") VALUES ('c', 0, 'c')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Another instance sees the schema change on its next statement.
	if v, err := store.SchemaVersion(ctx, dbs[1]); err != nil || v != v0+1 {
		t.Fatalf("instance 2 schema version = %d (%v), want %d", v, err, v0+1)
	}
	if _, err := store.FindCollection(ctx, dbs[2], "counters"); err != nil {
		t.Fatalf("instance 3: %v", err)
	}

	const workers, each = 4, 25
	errs = make(chan error, 3*workers*each)
	var lost atomic.Int64
	for i := range 3 {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := stores[i].Acquire(ctx, "shared")
				if err != nil {
					errs <- err
					return
				}
				defer db.Release()
				for j := range each {
					tx, err := db.Begin(ctx)
					if err != nil {
						errs <- err
						return
					}
					var n int64
					err = tx.QueryRowContext(ctx, `SELECT "n" FROM "counters" WHERE "id" = ?`, "c").Scan(&n)
					if err == nil {
						_, err = tx.ExecContext(ctx, `UPDATE "counters" SET "n" = ? WHERE "id" = ?`, n+1, "c")
					}
					// Every worker also claims a key that one other
					// worker claims too: exactly one insert may win.
					key := fmt.Sprintf("k%d-%d", w, j)
					if err == nil {
						_, ierr := tx.ExecContext(ctx, `INSERT INTO "counters" ("id", "n", "k") VALUES (?, 0, ?)`, fmt.Sprintf("r%d%d%d", i, w, j), key)
						if ierr != nil {
							if !db.Dialect().IsUniqueViolation(ierr) {
								err = ierr
							} else {
								// The loser rolls back its counter bump too.
								lost.Add(1)
								tx.Rollback()
								continue
							}
						}
					}
					if err != nil {
						tx.Rollback()
						errs <- err
						return
					}
					if err := tx.Commit(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n, keys int
	if err := dbs[0].QueryRowContext(ctx, `SELECT "n" FROM "counters" WHERE "id" = 'c'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].QueryRowContext(ctx, `SELECT COUNT(*) FROM "counters" WHERE "id" != 'c'`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if l := lost.Load(); int(l)+keys != 3*workers*each {
		t.Errorf("keys %d + unique violations %d != %d transactions", keys, l, 3*workers*each)
	}
	if keys != workers*each {
		t.Errorf("unique keys = %d, want %d", keys, workers*each)
	}
	// Committed transactions = keys inserted; each bumped the counter once.
	if n != keys {
		t.Errorf("counter = %d, want %d (one per committed transaction): lost updates", n, keys)
	}
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hanzoai/base/store"
)

// Optimize does the periodic maintenance of the store (the scheduled job
// __baseStoreOptimize__): ANALYZE of every table of every bootstrapped org
// schema of this store's prefix, one statement per schema, so the planner
// has statistics for orgs that autovacuum's thresholds have not reached
// yet (small or newly imported tables). ANALYZE takes no lock that blocks
// reads or writes. VACUUM is left to autovacuum.
//
// Optimize goes on past a failing schema and returns every failure
// joined; it stops when ctx is done.
func (s *Store) Optimize(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("optimize: %w", store.ErrClosed)
	}
	tables, err := s.orgTables(ctx)
	if err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	schemas := make([]string, 0, len(tables))
	for sc := range tables {
		schemas = append(schemas, sc)
	}
	sort.Strings(schemas)
	var errs []error
	for _, sc := range schemas {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("optimize: %w", err))...)
		}
		names := make([]string, len(tables[sc]))
		for i, t := range tables[sc] {
			names[i] = quoteIdent(sc) + "." + quoteIdent(t)
		}
		if _, err := s.db.ExecContext(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
			errs = append(errs, fmt.Errorf("optimize: analyze schema %s: %w", sc, err))
		}
	}
	return errors.Join(errs...)
}

// orgTables returns the tables of the bootstrapped org schemas of this
// store (prefix match, support schema excluded), by schema.
func (s *Store) orgTables(ctx context.Context) (map[string][]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT n.nspname, c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND obj_description(n.oid, 'pg_namespace') = ?
		ORDER BY 1, 2`, bootstrapVersion)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var sc, t string
		if err := rows.Scan(&sc, &t); err != nil {
			return nil, err
		}
		if strings.HasPrefix(sc, s.cfg.SchemaPrefix) && sc != s.support {
			out[sc] = append(out[sc], t)
		}
	}
	return out, rows.Err()
}

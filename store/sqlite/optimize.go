package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hanzoai/base"
)

// Optimize does the periodic maintenance of every org file under Dir/orgs
// (the scheduled job __baseStoreOptimize__): PRAGMA optimize=0x10002 (every
// table, as SQLite advises for a fresh connection), so the query planner's
// statistics follow the data, then PRAGMA wal_checkpoint(TRUNCATE), which
// copies the WAL into the database and truncates the -wal file to zero
// bytes.
//
// Each org is opened through the store, so the handle rules hold: the
// maintenance holds the org's writer (in-process writers wait for it, as
// for any write), and an org that was not open before is closed again
// afterwards rather than left idle. A checkpoint that another process's
// reader keeps from completing is not an error (it is retried next time);
// it is logged. Optimize goes on past a failing org and returns every
// failure joined; it stops when ctx is done.
func (s *Store) Optimize(ctx context.Context) error {
	orgs, err := s.orgFiles()
	if err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	var errs []error
	for _, org := range orgs {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("optimize: %w", err))...)
		}
		if err := s.optimizeOrg(ctx, org); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// orgFiles lists the orgs that have a database file, sorted.
func (s *Store) orgFiles() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var orgs []string
	for _, e := range ents {
		org, ok := strings.CutSuffix(e.Name(), ".db")
		if ok && e.Type().IsRegular() && base.ValidOrg(org) {
			orgs = append(orgs, org)
		}
	}
	sort.Strings(orgs)
	return orgs, nil
}

// optimizeOrg runs the maintenance of one org with its writer held.
func (s *Store) optimizeOrg(ctx context.Context, org string) error {
	wasOpen, _ := s.pool.Has(org)
	d, err := s.Acquire(ctx, org)
	if err != nil {
		return fmt.Errorf("optimize %q: %w", org, err)
	}
	e, h := d.(*db).e, d.(*db).h
	defer func() {
		d.Release()
		if !wasOpen {
			// The maintenance of an org nobody uses must not leave it
			// open until the idle timeout.
			s.pool.CloseIfIdle(e)
		}
	}()
	select {
	case h.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("optimize %q: %w", org, ctx.Err())
	}
	defer func() { <-h.wsem }()
	// One connection for both statements, outside any transaction: a
	// checkpoint cannot run inside one.
	conn, err := h.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("optimize %q: %w", org, mapErr(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		return fmt.Errorf("optimize %q: %w", org, mapErr(err))
	}
	var busy, walFrames, checkpointed int
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &walFrames, &checkpointed); err != nil {
		return fmt.Errorf("optimize %q: checkpoint: %w", org, mapErr(err))
	}
	if busy != 0 {
		s.log.Warn("sqlite: checkpoint incomplete (a reader holds the WAL); retried next run",
			"org", org, "walFrames", walFrames, "checkpointed", checkpointed)
	} else {
		s.log.Debug("sqlite: org optimized", "org", org, "checkpointed", checkpointed)
	}
	return nil
}

package main

import (
	"fmt"
	"log/slog"

	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/libsql"
	"github.com/hanzoai/base/store/postgres"
	"github.com/hanzoai/base/store/sqlite"
)

// openStore opens the store driver cfg.Store names; only cmd picks drivers,
// with an explicit switch. postgres and libsql read cfg.StoreURL
// (BASE_STORE_URL; see postgres.ParseURL and libsql.ParseURL).
func openStore(cfg Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store {
	case "sqlite", "":
		st, err := sqlite.Open(sqlite.Config{Dir: cfg.Dir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	case "postgres":
		if cfg.StoreURL == "" {
			return nil, fmt.Errorf("BASE_STORE=postgres needs BASE_STORE_URL=postgres://...")
		}
		pc, err := postgres.ParseURL(cfg.StoreURL)
		if err != nil {
			return nil, err
		}
		st, err := postgres.Open(pc)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	case "libsql":
		if cfg.StoreURL == "" {
			return nil, fmt.Errorf("BASE_STORE=libsql needs BASE_STORE_URL, a URL template with {org}")
		}
		lc, err := libsql.ParseURL(cfg.StoreURL)
		if err != nil {
			return nil, err
		}
		st, err := libsql.Open(lc)
		if err != nil {
			return nil, fmt.Errorf("open libsql store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("BASE_STORE=%q is not supported (want sqlite, postgres or libsql)", cfg.Store)
	}
}

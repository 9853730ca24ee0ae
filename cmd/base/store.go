package main

import (
	"fmt"
	"log/slog"

	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/sqlite"
)

// openStore opens the store driver cfg.Store names; only cmd picks drivers,
// with an explicit switch.
func openStore(cfg Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store {
	case "sqlite", "":
		st, err := sqlite.Open(sqlite.Config{Dir: cfg.Dir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("BASE_STORE=%q is not supported (want sqlite)", cfg.Store)
	}
}

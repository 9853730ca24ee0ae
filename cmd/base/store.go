package main

import (
	"log/slog"

	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/store"
)

// openStore opens the store driver cfg.Store names (config.OpenStore: the
// one explicit driver switch every main shares).
func openStore(cfg Config, log *slog.Logger) (store.Store, error) {
	return config.OpenStore(cfg.Store, cfg.StoreURL, cfg.Dir, log)
}

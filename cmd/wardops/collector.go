package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/store"
)

func runCollector(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return serveCollector(ctx, cfg, st, log)
}

// serveCollector runs the collector until ctx ends. runAll calls it beside the others.
func serveCollector(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) error {
	return errors.New("collector: not built yet")
}

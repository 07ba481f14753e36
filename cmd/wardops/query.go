package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/store"
)

func runQuery(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return serveQuery(ctx, cfg, st, log)
}

// serveQuery runs the query until ctx ends. runAll calls it beside the others.
func serveQuery(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) error {
	return errors.New("query: not built yet")
}

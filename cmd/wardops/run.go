package main

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/wardops/wardops/config"
)

// runAll runs the collector and the query service in one process on one pool; the first to fail
// stops the other.
func runAll(ctx context.Context, cfg *config.Config, _ []string, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveCollector(ctx, cfg, st, log.With("component", "collector")) })
	g.Go(func() error { return serveQuery(ctx, cfg, st, log.With("component", "query")) })
	return g.Wait()
}

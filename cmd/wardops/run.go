package main

import (
	"context"
	"log/slog"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/store"
)

// runAll runs the collector, the query service and the alerter in one process on one pool; the
// first to fail stops the others.
func runAll(ctx context.Context, cfg *config.Config, _ []string, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return serveAll(ctx, cfg, st, log)
}

// serveAll runs every component on one store until ctx ends or one fails.
func serveAll(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveCollector(ctx, cfg, st, log.With("component", "collector")) })
	g.Go(func() error { return serveQuery(ctx, cfg, st, log.With("component", "query")) })
	g.Go(func() error {
		reg := prometheus.NewRegistry()
		return serveAlerter(ctx, cfg, st, reg, log.With("component", "alerter"))
	})
	return g.Wait()
}

// redactURL drops the password from a database URL for printing.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<unparsable URL>"
	}
	return p.Redacted()
}

package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/query"
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

// serveQuery runs the query service until ctx ends. runAll calls it beside the others.
func serveQuery(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) error {
	profiles, err := inventory.LoadProfiles(cfg.ProfilesDir)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfoCollector())
	o := queryOptions(cfg)
	if o.TLS, err = serverTLS(ctx, cfg, log); err != nil {
		return err
	}
	o.Store, o.Logger, o.Registry, o.Version, o.Profiles = st, log, reg, version, profileExpander(profiles)
	srv, err := query.New(o)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// queryOptions picks the query service's settings out of the configuration.
func queryOptions(cfg *config.Config) query.Options {
	return query.Options{
		Listen:            cfg.Listen,
		VMQueryURL:        cfg.VMQueryURL,
		PingInterval:      cfg.PingInterval,
		CacheTTL:          cfg.CacheTTL,
		CacheBuildShare:   cfg.CacheBuildShare,
		RequireReadToken:  cfg.RequireReadToken,
		AlertmanagerURLs:  cfg.AlertmanagerURLs,
		RateLimit:         cfg.RateLimit,
		RateLimitLoopback: cfg.RateLimitLocal,
		TrustedProxies:    cfg.TrustedProxies,
		AllowedHosts:      cfg.AllowedHosts,
		Targets:           targetPolicy(cfg),
	}
}

// profileExpander expands profiles for the API's device writes through the importer's own
// validation, so a device created over HTTP gets exactly the items an import would give it.
func profileExpander(ps inventory.Profiles) query.Expander {
	return func(names []string) ([]model.ItemTemplate, error) {
		list := make([]any, len(names)) // the YAML shape Build accepts
		for i, n := range names {
			list[i] = n
		}
		doc := &inventory.Document{Rows: []inventory.Row{{Line: 1, Branch: "api", Name: "api", IP: "127.0.0.1",
			SNMPVersion: "2c", SNMPProfiles: list}}}
		_, devs, err := inventory.Build(doc, ps)
		if err != nil {
			return nil, err
		}
		return devs[0].Items, nil
	}
}

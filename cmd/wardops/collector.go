package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sync/errgroup"

	"github.com/wardops/wardops/collector"
	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/collector/snmp"
	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/retention"
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
	if cfg.VMURL == "" {
		return fmt.Errorf("%w: WARDOPS_VM_URL (or --vm-url) is required by the collector", config.ErrUsage)
	}
	// The tenant is logged because a write to the wrong one succeeds and shows nothing anywhere.
	log.Info("pushing samples to VictoriaMetrics", "url", cfg.VMURL, "tenant", cfg.VMTenant)
	eng, err := icmp.New(cfg.ICMPEngine, log.With("part", "icmp"), cfg.ICMPMode)
	if err != nil {
		return err
	}
	defer eng.Close()
	tlsConf, err := serverTLS(ctx, cfg, log)
	if err != nil {
		return err
	}
	set := metrics.NewSet()
	registerBuildInfo(set)
	poller, err := snmp.NewPoller(snmp.Options{Timeout: cfg.SNMPTimeout, Retries: cfg.SNMPRetries, Log: log.With("part", "snmp"), Metrics: set})
	if err != nil {
		return err
	}
	help := map[string]string{buildInfoName: buildInfoHelp}
	for k, v := range retention.Help {
		help[k] = v
	}
	g, ctx := errgroup.WithContext(ctx)
	if !cfg.RetentionOff {
		job, err := retentionJob(cfg, st, log.With("part", "retention"), set)
		if err != nil {
			return err
		}
		g.Go(func() error { return job.Run(ctx) })
	}
	g.Go(func() error { return runCollectorLoop(ctx, cfg, st, log, eng, poller, set, help, tlsConf) })
	return g.Wait()
}

func runCollectorLoop(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger, eng icmp.Engine, poller *snmp.Poller, set *metrics.Set, help map[string]string, tlsConf *tls.Config) error {
	return collector.Run(ctx, collector.Options{
		Schedule: collector.SchedulerOptions{
			Fleet:           st,
			Engine:          eng,
			SNMP:            poller,
			PingInterval:    cfg.PingInterval,
			PingCount:       cfg.PingCount,
			EchoInterval:    cfg.PingEcho,
			PingTimeout:     cfg.PingTimeout,
			SNMPInterval:    cfg.SNMPInterval,
			ProbeWorkers:    cfg.ProbeWorkers,
			SNMPWorkers:     cfg.SNMPWorkers,
			InventoryReload: cfg.InventoryReload,
			Targets:         targetPolicy(cfg),
		},
		VM:           sink.VMOptions{URL: cfg.VMURL, ReplaySpan: cfg.VMReplaySpan, Options: sink.Options{Batch: cfg.PushBatch, Interval: cfg.PushInterval}},
		Pings:        sink.PingResultsOptions{Store: st, Options: sink.Options{Batch: cfg.PushBatch, Interval: cfg.PushInterval}},
		SNMPStates:   st,
		Listen:       cfg.CollectorListen,
		PprofListen:  cfg.PprofListen,
		TLS:          tlsConf,
		AllowedHosts: cfg.AllowedHosts,
		// Collectors on one database share its fleet; alone, this one owns every device.
		Group: &collector.MembershipOptions{Store: st, ID: cfg.CollectorID, Zone: cfg.CollectorZone, Lease: cfg.CollectorLease},
		// Samples and rows wait here while their backend is down; a restart replays them.
		DataDir:      cfg.DataDir,
		SpoolMaxSize: cfg.SpoolMaxSize,
		Log:          log,
		Metrics:      set,
		Help:         help,
	})
}

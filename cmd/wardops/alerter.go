package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/wardops/wardops/alerting"
	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/store"
)

func runAlerter(ctx context.Context, cfg *config.Config, _ []string, log *slog.Logger) error {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return serveAlerter(ctx, cfg, st, reg, log)
}

// serveAlerter runs alerting, and its /metrics on WARDOPS_ALERTER_LISTEN, until ctx ends. Several
// may run against one database: one leads, the others stand by.
func serveAlerter(ctx context.Context, cfg *config.Config, st *store.Store, reg *prometheus.Registry, log *slog.Logger) error {
	reg.MustRegister(buildInfoCollector())
	ln, err := net.Listen("tcp", cfg.AlerterListen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s for the alerter's /metrics: %w", cfg.AlerterListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("alerter /metrics server on %s: %w", cfg.AlerterListen, err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error {
		err := alerting.Run(gctx, alertingOptions(cfg, st, reg, log))
		if err == nil && ctx.Err() == nil {
			err = errors.New("alerting stopped")
		}
		return err
	})
	log.Info("alerter metrics listening", "addr", ln.Addr().String())
	return g.Wait()
}

func alertingOptions(cfg *config.Config, st *store.Store, reg prometheus.Registerer, log *slog.Logger) alerting.Options {
	return alerting.Options{
		Store:          st,
		VMURL:          cfg.VMQueryURL,
		Alertmanagers:  cfg.AlertmanagerURLs,
		PingInterval:   cfg.PingInterval,
		DownInterval:   cfg.AlertDownInterval,
		EvalInterval:   cfg.AlertEvalInterval,
		ResendInterval: cfg.AlertResendInterval,
		ResolvedResend: cfg.AlertResolvedResend,
		Timeout:        cfg.AlertmanagerTimeout,
		GroupWait:      cfg.AlertmanagerGroupWait,
		InventoryEvery: 5 * time.Second,
		ExternalURL:    cfg.ExternalURL,
		Registry:       reg,
		Log:            log,
	}
}

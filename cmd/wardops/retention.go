package main

import (
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/retention"
	"github.com/wardops/wardops/store"
)

// retentionJob builds the retention job from the maintenance settings: the collector runs it on
// its schedule, `wardops maintenance` once.
func retentionJob(cfg *config.Config, st *store.Store, log *slog.Logger, set *metrics.Set) (*retention.Job, error) {
	return retention.New(retention.Options{
		Store:          st,
		PingRetention:  time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		AlertRetention: time.Duration(cfg.AlertRetentionDays) * 24 * time.Hour,
		Hour:           cfg.RetentionAt.Hour,
		Minute:         cfg.RetentionAt.Minute,
		Zone:           cfg.RetentionZone,
		Log:            log,
		Metrics:        set,
	})
}

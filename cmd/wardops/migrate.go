package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"os"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/store"
)

func storeOptions(cfg *config.Config) store.Options {
	return store.Options{
		URL:               string(cfg.DatabaseURL),
		MaxConns:          int32(cfg.DBMaxConns),
		ConnectTimeout:    cfg.DBConnectTimeout,
		MaxConnLifetime:   cfg.DBMaxConnLifetime,
		HealthCheckPeriod: cfg.DBHealthCheckPeriod,
		StatementTimeout:  cfg.DBStatementTimeout,
		IdleInTxTimeout:   cfg.DBIdleInTxTimeout,
	}
}

// openStore connects and applies pending migrations, as every service does at start-up.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	st, _, err := openStoreKeys(ctx, cfg, log)
	return st, err
}

func openStoreKeys(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, *seal.Keyring, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return nil, nil, err
	}
	keys, err := secretKeys(cfg)
	if err != nil {
		return nil, nil, err
	}
	o := storeOptions(cfg)
	o.Keys = keys
	st, err := store.Open(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "versions", applied)
	}
	if err := sealOrWarn(ctx, st, keys, log); err != nil {
		st.Close()
		return nil, nil, err
	}
	if _, err := st.EnsurePingPartitions(ctx, time.Now().AddDate(0, 0, -1), 9); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, keys, nil
}

func runMigrate(ctx context.Context, cfg *config.Config, _ []string, log *slog.Logger) error {
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	keys, err := secretKeys(cfg)
	if err != nil {
		return err
	}
	o := storeOptions(cfg)
	o.Keys = keys
	st, err := store.Open(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	// Rows from before encryption at rest are sealed here, so a migrated database holds no
	// plaintext secret once a key is configured.
	if err := sealOrWarn(ctx, st, keys, log); err != nil {
		return err
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Printf("schema is up to date at version %d\n", v)
		return nil
	}
	fmt.Printf("applied migrations %v; schema at version %d\n", applied, v)
	return nil
}

func runMaintenance(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	switch {
	case len(args) == 1 && args[0] == "rotate-key":
		return rotateKey(ctx, cfg, log, os.Stdout)
	case len(args) > 0:
		return fmt.Errorf("%w: usage: wardops maintenance [rotate-key]", config.ErrUsage)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	// The same job the collector schedules, under the same lock: a cron run and a collector's
	// daily run never overlap.
	job, err := retentionJob(cfg, st, log, nil)
	if err != nil {
		return err
	}
	r, err := job.RunOnce(ctx)
	if err != nil {
		return err
	}
	if r.Skipped {
		fmt.Println("skipped: another wardops instance is running retention")
		return nil
	}
	fmt.Printf("created %d partition(s); deleted %d alert(s) resolved past %d days; dropped %d past %d days: %v\n",
		r.PartitionsCreated, r.AlertRows, cfg.AlertRetentionDays, len(r.PingPartitions), cfg.RetentionDays, r.PingPartitions)
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
)

// runImport reads one CSV or YAML inventory file and imports it in one transaction. Every bad line
// is listed; nothing is written unless the whole file is good.
func runImport(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: usage: wardops import [--dry-run] FILE.csv|FILE.yaml", config.ErrUsage)
	}
	stats, err := importFile(ctx, cfg, args[0], log)
	if err != nil {
		return err
	}
	verb := "imported"
	if cfg.DryRun {
		verb = "dry run, nothing written; would have imported"
	}
	fmt.Printf("%s %s: %d branch(es) created, %d device(s) created, %d updated, %d unchanged; %d item(s) upserted, %d removed\n",
		verb, args[0], stats.BranchesCreated, stats.DevicesCreated, stats.DevicesUpdated, stats.DevicesUnchanged, stats.ItemsUpserted, stats.ItemsDeleted)
	return nil
}

func importFile(ctx context.Context, cfg *config.Config, path string, log *slog.Logger) (model.ImportStats, error) {
	format := "csv"
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		format = "yaml"
	case ".csv":
	default:
		return model.ImportStats{}, fmt.Errorf("%w: %s: the file name must end in .csv, .yaml or .yml", config.ErrUsage, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return model.ImportStats{}, fmt.Errorf("cannot open inventory: %w", err)
	}
	defer f.Close()
	profiles, err := inventory.LoadProfiles(cfg.ProfilesDir)
	if err != nil {
		return model.ImportStats{}, err
	}
	doc, err := inventory.Parse(f, format)
	if err != nil {
		return model.ImportStats{}, fmt.Errorf("%s: %w", path, err)
	}
	creds, devs, err := inventory.Build(doc, profiles)
	if err == nil {
		err = inventory.CheckTargets(devs, targetPolicy(cfg))
	}
	if err != nil {
		return model.ImportStats{}, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.DryRun && cfg.DatabaseURL == "" {
		return model.ImportStats{DevicesCreated: len(devs)}, nil
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return model.ImportStats{}, err
	}
	defer st.Close()
	stats, err := st.ImportInventory(ctx, creds, devs, cfg.DryRun)
	var le *model.LinesError
	if errors.As(err, &le) {
		return stats, fmt.Errorf("%s: %w", path, le)
	}
	return stats, err
}

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wardops/wardops/config"
)

func runSim(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	return errors.New("sim: not built yet")
}

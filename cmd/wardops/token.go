package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/wardops/wardops/config"
)

func runToken(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	return errors.New("token: not built yet")
}

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

const auditUsage = "usage: wardops audit verify"

// runAudit handles `wardops audit verify`: it recomputes the audit log's hash chain and fails
// naming the first row that does not fit.
func runAudit(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	return auditCommand(ctx, cfg, args, log, os.Stdout)
}

func auditCommand(ctx context.Context, cfg *config.Config, args []string, _ *slog.Logger, out io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return fmt.Errorf("%w: %s", config.ErrUsage, auditUsage)
	}
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	// Only reads: no migrations, so an auditor's read-only role can run it.
	st, err := store.Open(ctx, storeOptions(cfg))
	if err != nil {
		return err
	}
	defer st.Close()
	n, head, err := st.VerifyAudit(ctx)
	var ce *model.ChainError
	if errors.As(err, &ce) {
		fmt.Fprintf(out, "audit chain BROKEN after %d good rows: seq %d: %s\n", n, ce.Seq, ce.Reason)
		return err
	}
	if err != nil {
		return err
	}
	// The head hash printed here is what to keep elsewhere: it is the one thing that also shows
	// the newest rows being cut off.
	fmt.Fprintf(out, "audit chain ok: %d rows, head %s\n", n, hex.EncodeToString(head))
	return nil
}

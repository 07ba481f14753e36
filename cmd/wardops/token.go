package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/query"
)

// runToken handles `wardops token create --name NAME --scope read|write|admin`. The token is
// printed once, as the last line, and only its SHA-256 is stored.
func runToken(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	return tokenCommand(ctx, cfg, args, log, os.Stdout)
}

func tokenCommand(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger, out io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("%w: usage: wardops token create --name NAME --scope read|write|admin", config.ErrUsage)
	}
	fs := flag.NewFlagSet("wardops token create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "token name (unique)")
	scope := fs.String("scope", "read", "read, write or admin")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: token create: %w", config.ErrUsage, err)
	}
	if *name == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: token create needs --name NAME and no other arguments", config.ErrUsage)
	}
	if !query.ValidScope(*scope) {
		return fmt.Errorf("%w: --scope=%q: must be read, write or admin", config.ErrUsage, *scope)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := query.NewToken()
	if err != nil {
		return err
	}
	t, err := st.CreateToken(ctx, *name, *scope, query.HashToken(secret))
	if err != nil {
		return err
	}
	if t.ID == 0 {
		return errors.New("token not stored")
	}
	fmt.Fprintf(out, "created token %q (id %d, scope %s); it is shown once, store it now:\n", t.Name, t.ID, t.Scope)
	fmt.Fprintln(out, secret)
	return nil
}

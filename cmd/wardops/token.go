package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/query"
)

// runToken handles `wardops token create|list|revoke`. A created token is printed once, as the
// last line, and only its SHA-256 is stored.
func runToken(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error {
	return tokenCommand(ctx, cfg, args, log, os.Stdout)
}

const tokenUsage = "usage: wardops token create --name NAME --scope read|write|admin | token list | token revoke --name NAME"

func tokenCommand(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", config.ErrUsage, tokenUsage)
	}
	switch args[0] {
	case "create":
	case "list":
		return listTokens(ctx, cfg, args[1:], log, out)
	case "revoke":
		return revokeToken(ctx, cfg, args[1:], log, out)
	default:
		return fmt.Errorf("%w: %s", config.ErrUsage, tokenUsage)
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

func listTokens(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger, out io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: token list takes no arguments", config.ErrUsage)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, err := st.ListTokens(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-24s %-6s %-20s %s\n", "NAME", "SCOPE", "CREATED", "LAST USED")
	for _, t := range ts {
		used := "never"
		if t.LastUsedAt != nil {
			used = t.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(out, "%-24s %-6s %-20s %s\n", t.Name, t.Scope, t.CreatedAt.UTC().Format(time.RFC3339), used)
	}
	return nil
}

// revokeToken revokes by name. The query service caches a looked-up token for one second, so a
// revoked token is refused within a second (README, Security).
func revokeToken(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger, out io.Writer) error {
	fs := flag.NewFlagSet("wardops token revoke", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "token name")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: token revoke: %w", config.ErrUsage, err)
	}
	if *name == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: token revoke needs --name NAME and no other arguments", config.ErrUsage)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeToken(ctx, *name); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked token %q\n", *name)
	return nil
}

// Command wardops is the network-monitoring collector, query service and tooling in one binary.
// Each subcommand lives in its own file and does one thing: parse, then call one Run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/wardops/wardops/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, cfg *config.Config, args []string, log *slog.Logger) error
}

func commands() map[string]command {
	return map[string]command{
		"migrate":     {"apply database migrations", runMigrate},
		"import":      {"import inventory from CSV or YAML: import [--dry-run] FILE", runImport},
		"collector":   {"run the ICMP/SNMP collector", runCollector},
		"query":       {"run the REST API and NOC page", runQuery},
		"alerter":     {"evaluate alert rules and notify Alertmanager (one leads, others stand by)", runAlerter},
		"run":         {"run every component in one process", runAll},
		"dev":         {"private PostgreSQL + VictoriaMetrics under ./var, demo fleet, every component", runDev},
		"maintenance": {"create ping_results partitions ahead and drop those past retention; maintenance rotate-key re-seals SNMP secrets under the current key", runMaintenance},
		"token":       {"manage API tokens: token create --name NAME --scope read|write|admin", runToken},
		"audit":       {"check the audit log's hash chain: audit verify", runAudit},
		"healthcheck": {"exit 0 if URL answers 2xx (container healthchecks): healthcheck URL", runHealthcheck},
		"sim":         {"fleet simulator: SNMP agents on 127.0.0.0/8 addresses", runSim},
		"version": {"print the version", func(context.Context, *config.Config, []string, *slog.Logger) error {
			fmt.Println("wardops", version)
			return nil
		}},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		return 2
	}
	name := args[0]
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "wardops: unknown command %q\n", name)
		usage(stderr, cmds)
		return 2
	}
	cfg, rest, err := config.Parse(name, args[1:], os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wardops %s: %v\n", name, err)
		return 2
	}
	if cfg.Check {
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, cfg, rest, log); err != nil {
		fmt.Fprintf(stderr, "wardops %s: %v\n", name, err)
		if errors.Is(err, config.ErrUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: wardops COMMAND [flags]  (wardops COMMAND -h lists the flags and their WARDOPS_* variables)")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

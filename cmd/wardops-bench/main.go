// Command wardops-bench is the collector benchmark (`make bench-collector`, `make bench-soak`,
// `make bench-scale`): wardops against fping, blackbox_exporter and snmp_exporter on the same
// loopback fleet, and collectors sharing one. See package bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wardops/wardops/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == "alerting" {
		return runAlerting(ctx, args[1:], stdout, stderr)
	}
	o, verbose, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wardops-bench: %v\n", err)
		return 2
	}
	lvl := slog.LevelInfo
	if verbose {
		lvl = slog.LevelDebug
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	o.Out = stdout
	switch {
	case o.ScaleSize > 0:
		_, err = bench.Scale(ctx, o)
	case o.SoakDuration > 0:
		_, err = bench.Soak(ctx, o)
	default:
		_, err = bench.Run(ctx, o)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wardops-bench: %v\n", err)
		return 1
	}
	return 0
}

func parse(args []string, stderr io.Writer) (bench.Options, bool, error) {
	fs := flag.NewFlagSet("wardops-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "875,10000,100000", "fleet sizes to measure")
	snmpSizes := fs.String("snmp-sizes", "875,10000", "sizes that also get the SNMP runs (one simulator socket per device)")
	engines := fs.String("engines", "probing,shared", "wardops ICMP engines, measured in turn")
	pipelines := fs.String("pipelines", "", "subset of fping,wardops,blackbox,snmp,snmp-wardops (snmp without the peer) (default: all)")
	snmpProfiles := fs.String("snmp-profiles", "if-mib,if-mib-full", "wardops SNMP profiles measured in turn on SNMP fleets")
	base := fs.String("base", "127.30.0.1", "first device address (127.0.0.0/8 only)")
	var collectorEnv multi
	fs.Var(&collectorEnv, "collector-env", "extra KEY=VALUE for the collector, repeatable (e.g. WARDOPS_PROBE_WORKERS=2048)")
	verbose := fs.Bool("v", false, "debug logging")
	o := bench.Options{}
	fs.IntVar(&o.Cycles, "cycles", 2, "measured cycles per pipeline, after one warm-up cycle")
	fs.DurationVar(&o.Interval, "interval", 30*time.Second, "probe and scrape interval")
	fs.DurationVar(&o.Warmup, "warmup", 0, "warm-up before measuring (default: one interval)")
	fs.IntVar(&o.SNMPPort, "snmp-port", 1161, "UDP port of the simulated SNMP agents")
	fs.IntVar(&o.FreshSample, "fresh-sample", 64, "devices whose probe→queryable delay is tracked")
	fs.DurationVar(&o.Timeout, "timeout", 40*time.Minute, "hard bound on the run (the soak adds its duration)")
	fs.StringVar(&o.PostgresURL, "pg-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL maintenance database; bench databases are created and dropped beside it")
	fs.StringVar(&o.WardopsBin, "wardops-bin", "", "wardops binary (default: build ./cmd/wardops)")
	fs.StringVar(&o.GoBin, "go", "go", "go tool used to build wardops")
	fs.StringVar(&o.VMBin, "victoria-metrics", "/usr/bin/victoria-metrics", "VictoriaMetrics single-node binary")
	fs.StringVar(&o.VMAgentBin, "vmagent", "/usr/bin/vmagent", "vmagent binary")
	fs.StringVar(&o.FpingBin, "fping", "fping", "fping binary")
	fs.StringVar(&o.BlackboxBin, "blackbox", "prometheus-blackbox-exporter", "blackbox_exporter binary")
	fs.StringVar(&o.SNMPExporterBin, "snmp-exporter", "prometheus-snmp-exporter", "snmp_exporter binary")
	fs.StringVar(&o.OutDir, "out", "var/bench", "results and logs directory")
	fs.DurationVar(&o.SoakDuration, "soak", 0, "soak mode: run one collector this long instead of the benchmark")
	fs.IntVar(&o.SoakSize, "soak-size", 10000, "soak fleet size")
	fs.StringVar(&o.SoakEngine, "soak-engine", "shared", "soak ICMP engine")
	fs.DurationVar(&o.SoakEvery, "soak-every", time.Minute, "soak sampling period")
	fs.IntVar(&o.ScaleSize, "scale-size", 0, "scale mode: this many devices (ping and if-mib SNMP) on one collector, then shared by --scale-collectors, one of them killed")
	fs.DurationVar(&o.ScaleDuration, "scale-duration", 300*time.Second, "scale: measured window per setup (whole ping intervals; one SNMP interval covers every poll)")
	fs.DurationVar(&o.ScaleSNMPInterval, "scale-snmp-interval", 300*time.Second, "scale: if-mib poll interval (--interval is the ping interval)")
	fs.IntVar(&o.ScaleCollectors, "scale-collectors", 3, "scale: collectors sharing the fleet in the second setup")
	if err := fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Sizes, err = ints(*sizes); err != nil {
		return o, false, fmt.Errorf("--sizes: %w", err)
	}
	if o.SNMPSizes, err = ints(*snmpSizes); err != nil {
		return o, false, fmt.Errorf("--snmp-sizes: %w", err)
	}
	if o.Base, err = netip.ParseAddr(*base); err != nil || !netip.MustParsePrefix("127.0.0.0/8").Contains(o.Base) {
		return o, false, fmt.Errorf("--base %q: must be an address in 127.0.0.0/8", *base)
	}
	if o.Cycles < 1 || o.Interval <= 0 || o.SoakSize < 1 || o.SoakEvery <= 0 {
		return o, false, errors.New("--cycles, --interval, --soak-size and --soak-every must be positive")
	}
	if o.ScaleSize > 0 && (o.ScaleDuration < o.Interval || o.ScaleSNMPInterval <= 0 || o.ScaleCollectors < 2) {
		return o, false, errors.New("--scale-duration must be at least one --interval, --scale-snmp-interval positive and --scale-collectors at least 2")
	}
	o.Engines = list(*engines)
	o.Pipelines = list(*pipelines)
	o.SNMPProfiles = list(*snmpProfiles)
	o.CollectorEnv = collectorEnv
	return o, *verbose, nil
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func ints(s string) ([]int, error) {
	var out []int
	for _, p := range list(s) {
		n, err := strconv.Atoi(strings.ReplaceAll(p, "_", ""))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad size %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// runAlerting is `wardops-bench alerting --sizes 875,10000,100000` (`make bench-alerting`).
func runAlerting(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wardops-bench alerting", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "875,10000,100000", "fleet sizes")
	pg := fs.String("pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL maintenance database URL")
	timeout := fs.Duration("timeout", 15*time.Minute, "hard bound on the run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 17 {
			fmt.Fprintf(stderr, "wardops-bench alerting: bad size %q\n", s)
			return 2
		}
		ns = append(ns, n)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err := bench.RunAlerting(ctx, bench.AlertingOptions{Sizes: ns, PGAdmin: *pg, Out: stdout,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(stderr, "wardops-bench alerting: %v\n", err)
		return 1
	}
	return 0
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/internal/seal"
)

// Options configure Run and Soak. cmd/wardops-bench fills them from flags.
type Options struct {
	Sizes     []int         // fleet sizes to measure
	SNMPSizes []int         // sizes that also get the SNMP runs (the simulator holds one socket per device)
	Cycles    int           // measured cycles per pipeline, after one warm-up cycle
	Interval  time.Duration // ping / SNMP / scrape interval (30 s)
	Warmup    time.Duration // 0: one interval
	Engines   []string      // wardops ICMP engines to measure in turn
	Pipelines []string      // subset of fping, wardops, blackbox, snmp, snmp-wardops (empty: all)
	// SNMPProfiles are the wardops profiles measured on SNMP fleets (empty: if-mib, if-mib-full).
	SNMPProfiles []string
	Base         netip.Addr    // first device address, in 127.0.0.0/8
	SNMPPort     int           // UDP port of the simulated agents
	FreshSample  int           // devices whose probe→queryable delay is tracked
	Timeout      time.Duration // hard bound on the whole run

	PostgresURL  string   // maintenance database URL (databases are created beside it)
	CollectorEnv []string // extra KEY=VALUE for the collector (e.g. WARDOPS_PROBE_WORKERS=2048)
	WardopsBin   string   // "" builds ./cmd/wardops
	GoBin        string
	OutDir       string // results and per-run logs (./var/bench)

	// Peer and server binaries.
	VMBin, VMAgentBin, FpingBin, BlackboxBin, SNMPExporterBin string

	SoakDuration time.Duration // Soak only
	SoakSize     int
	SoakEngine   string
	SoakEvery    time.Duration

	ScaleSize         int           // Scale only: devices shared by the collectors
	ScaleDuration     time.Duration // measured window per setup, in whole ping intervals
	ScaleSNMPInterval time.Duration // if-mib poll interval (Interval is the ping interval)
	ScaleCollectors   int           // collectors of the shared setup (one of them is killed)

	Log *slog.Logger
	Out io.Writer // tables are printed here as each size finishes
}

// bench is one invocation's shared state: the work directory, VictoriaMetrics, PostgreSQL.
type bench struct {
	o       Options
	log     *slog.Logger
	work    string
	wardops string
	vm      *victoria
	pg      postgres
	cs      *children
	// secretKey seals the fleet's SNMP communities on import and unseals them in the collector:
	// wardops stores SNMP secrets only encrypted. A fresh key per run, like the tests'.
	secretKey string
}

// setup validates the options, builds wardops and starts VictoriaMetrics. The returned cleanup
// stops every child and removes VictoriaMetrics' data; call it even on error.
func setup(ctx context.Context, o Options) (*bench, func(), error) {
	if o.Log == nil || o.Out == nil {
		return nil, func() {}, errors.New("bench: Log and Out are required")
	}
	if !netip.MustParsePrefix("127.0.0.0/8").Contains(o.Base) {
		return nil, func() {}, fmt.Errorf("bench: base %s is outside 127.0.0.0/8", o.Base)
	}
	if o.Warmup <= 0 {
		o.Warmup = o.Interval
	}
	if err := raiseFDLimit(); err != nil {
		o.Log.Warn("exporters may run out of file descriptors at large sizes", "err", err)
	}
	// Absolute: vmagent resolves file_sd paths against its config file's directory.
	out, err := filepath.Abs(o.OutDir)
	if err != nil {
		return nil, func() {}, fmt.Errorf("cannot resolve %s: %w", o.OutDir, err)
	}
	o.OutDir = out
	stamp := time.Now().Format("20060102-150405")
	b := &bench{o: o, log: o.Log, work: filepath.Join(o.OutDir, "run-"+stamp), pg: postgres{admin: o.PostgresURL}}
	b.cs = &children{log: o.Log}
	if b.secretKey, err = seal.NewEntry("bench"); err != nil {
		return nil, func() {}, fmt.Errorf("cannot make the run's secret key: %w", err)
	}
	if err := os.MkdirAll(b.work, 0o755); err != nil {
		return nil, func() {}, fmt.Errorf("cannot create %s: %w", b.work, err)
	}
	vmData, err := os.MkdirTemp("", "wardops-bench-vm-")
	if err != nil {
		return nil, func() {}, fmt.Errorf("cannot create victoria-metrics data dir: %w", err)
	}
	cleanup := func() {
		b.cs.stopAll()
		os.RemoveAll(vmData)
	}
	if b.wardops, err = b.buildWardops(ctx); err != nil {
		return nil, cleanup, err
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return nil, cleanup, fmt.Errorf("psql is required (apt-get install -y postgresql-client): %w", err)
	}
	if err := b.pg.psql(ctx, "SELECT 1"); err != nil {
		return nil, cleanup, fmt.Errorf("PostgreSQL is required at %s: %w", o.PostgresURL, err)
	}
	if b.vm, err = startVictoria(ctx, b.cs, o.VMBin, b.work, vmData, o.Log); err != nil {
		return nil, cleanup, err
	}
	b.log.Info("victoria-metrics started", "url", b.vm.url, "work", b.work)
	return b, cleanup, nil
}

// Run measures every size and returns the tables, also written to OutDir/collector-<time>.txt.
func Run(ctx context.Context, o Options) ([]*Table, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	b, cleanup, err := setup(ctx, o)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	o = b.o
	var tables []*Table
	var report strings.Builder
	fmt.Fprintf(&report, "wardops collector benchmark, %s, %d CPU(s); %s\n", time.Now().Format(time.RFC3339), runtime.NumCPU(), b.work)
	for _, size := range o.Sizes {
		t, err := b.runSize(ctx, size)
		if t != nil {
			tables = append(tables, t)
			t.Write(o.Out)
			t.Write(&report)
		}
		if err != nil {
			return tables, err
		}
	}
	path := filepath.Join(o.OutDir, "collector-"+filepath.Base(b.work)[4:]+".txt")
	if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
		return tables, fmt.Errorf("cannot write %s: %w", path, err)
	}
	_ = os.WriteFile(filepath.Join(o.OutDir, "collector-latest.txt"), []byte(report.String()), 0o644)
	fmt.Fprintf(o.Out, "\nwritten to %s\n", path)
	return tables, nil
}

func (b *bench) want(p string) bool {
	return len(b.o.Pipelines) == 0 || slices.Contains(b.o.Pipelines, p)
}

// runSize measures every pipeline on one fleet, one after another so none competes with
// another for the two cores. An error returned ends the whole run (Ctrl-C, timeout, setup);
// a pipeline that cannot be measured becomes a row with its reason.
func (b *bench) runSize(ctx context.Context, size int) (*Table, error) {
	t := &Table{Size: size, Interval: b.o.Interval, Cycles: b.o.Cycles}
	f, err := newFleet(b.o.Base, size)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, fmt.Sprintf("n%d", size))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", dir, err)
	}
	side := map[string]int{"victoria-metrics": b.vm.child.pid()}
	add := func(r *Result) {
		b.log.Info("measured", "pipeline", r.Pipeline, "size", size, "probes", r.Probes, "cpu", r.CPU, "err", r.Err)
		t.Results = append(t.Results, r)
	}
	if b.want("fping") {
		add(b.runFping(ctx, f, dir))
	}
	if err := ctx.Err(); err != nil {
		return t, err
	}
	if b.want("wardops") {
		if err := b.runEngines(ctx, f, dir, side, add); err != nil {
			return t, err
		}
	}
	if b.want("blackbox") {
		add(b.runExporter(ctx, f, dir, exporterRun{
			name: "blackbox_exporter + vmagent", kind: "ping", bin: b.o.BlackboxBin, config: blackboxYML, cfgFlag: "--config.file",
			job: "blackbox", module: "icmp", path: "/probe",
			notes: []string{"1 echo per probe (wardops and fping send 3): figures are per probe, not per echo"},
		}, side))
	}
	if err := ctx.Err(); err != nil {
		return t, err
	}
	if !slices.Contains(b.o.SNMPSizes, size) {
		t.Notes = append(t.Notes, fmt.Sprintf("SNMP not measured at %s devices (sizes with SNMP: --snmp-sizes)", thousands(size)))
		return t, nil
	}
	if b.want("snmp") || b.want("snmp-wardops") {
		if err := b.runSNMP(ctx, t, f, dir, side, add); err != nil {
			return t, err
		}
	}
	return t, nil
}

// runEngines imports the ping fleet and measures every engine on it, one after another.
func (b *bench) runEngines(ctx context.Context, f *fleet, dir string, side map[string]int, add func(*Result)) error {
	db := fmt.Sprintf("wardops_bench_%d_%d_ping", os.Getpid(), f.size)
	defer b.dropDB(ctx, db)
	url, err := b.importFleet(ctx, f, dir, db, "")
	if err != nil {
		return err
	}
	for _, e := range b.o.Engines {
		add(b.runWardops(ctx, f, dir, url, e, "ping", "", side))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// dropDB drops a benchmark database, also after Ctrl-C.
func (b *bench) dropDB(ctx context.Context, db string) {
	if err := b.pg.drop(context.WithoutCancel(ctx), db); err != nil {
		b.log.Warn("cannot drop benchmark database", "db", db, "err", err)
	}
}

// defaultSNMPProfiles are the wardops profiles measured on the SNMP fleet: if-mib, the
// operator's default, and if-mib-full, which reads what snmp_exporter's stock if_mib module reads.
var defaultSNMPProfiles = []string{"if-mib", "if-mib-full"}

// runSNMP starts the simulator for the fleet and measures wardops (first engine) with each of
// snmpProfiles and snmp_exporter + vmagent against it. The simulator's CPU is reported beside,
// never counted.
func (b *bench) runSNMP(ctx context.Context, t *Table, f *fleet, dir string, side map[string]int, add func(*Result)) error {
	cs := &children{log: b.log}
	defer cs.stopAll()
	sim, err := b.startSim(ctx, cs, dir, f)
	if err != nil {
		t.Notes = append(t.Notes, fmt.Sprintf("SNMP not measured: %v", err))
		return ctx.Err()
	}
	side = map[string]int{"victoria-metrics": side["victoria-metrics"], "simulator": sim.pid()}
	engine := "probing"
	if len(b.o.Engines) > 0 {
		engine = b.o.Engines[0]
	}
	profiles := b.o.SNMPProfiles
	if len(profiles) == 0 {
		profiles = defaultSNMPProfiles
	}
	for _, profile := range profiles {
		db := fmt.Sprintf("wardops_bench_%d_%d_%s", os.Getpid(), f.size, strings.ReplaceAll(profile, "-", "_"))
		url, err := b.importFleet(ctx, f, dir, db, profile)
		if err != nil {
			return err
		}
		r := b.runWardops(ctx, f, dir, url, engine, "snmp", profile, side)
		b.dropDB(ctx, db)
		add(r)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if !b.want("snmp") {
		return nil // snmp-wardops: the collector alone, as at 100,000 devices where the peer cannot keep up
	}
	add(b.runExporter(ctx, f, dir, exporterRun{
		name: "snmp_exporter + vmagent", kind: "snmp", bin: b.o.SNMPExporterBin, config: snmpYML, cfgFlag: "--config.file",
		job: "snmp", module: "if_mib", path: "/snmp", port: b.o.SNMPPort,
		notes: []string{"snmp_exporter 0.21, stock module if_mib (bench/testdata/snmp.yml: interfaces group + ifXTable, the columns of the if-mib-full profile)"},
	}, side))
	return ctx.Err()
}

// startSim runs `wardops sim` for the fleet as its own process and waits until its last device
// answers an SNMP GET (the simulator binds every address before it answers any).
func (b *bench) startSim(ctx context.Context, cs *children, dir string, f *fleet) (*child, error) {
	c, err := cs.start("simulator", filepath.Join(dir, "simulator.log"), b.baseEnv(), b.wardops, "sim",
		"--sim-base", f.addrs[0].String(), "--sim-count", fmt.Sprint(f.size), "--sim-port", fmt.Sprint(b.o.SNMPPort),
		"--sim-community", "public")
	if err != nil {
		return nil, err
	}
	last := f.addrs[len(f.addrs)-1]
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if done, _ := c.exited(); done {
			return nil, c.failure()
		}
		if snmpAnswers(last, b.o.SNMPPort) {
			return c, nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("simulator: %s:%d did not answer in 2m; log %s", last, b.o.SNMPPort, c.log)
}

// snmpAnswers reports whether addr:port answers a v2c GET of sysUpTime.0.
func snmpAnswers(addr netip.Addr, port int) bool {
	g := &gosnmp.GoSNMP{Target: addr.String(), Port: uint16(port), Community: "public", Version: gosnmp.Version2c,
		Timeout: time.Second, Retries: 0}
	if err := g.Connect(); err != nil {
		return false
	}
	defer g.Conn.Close()
	_, err := g.Get([]string{".1.3.6.1.2.1.1.3.0"})
	return err == nil
}

// importFleet creates a database and imports the fleet into it with `wardops import`, every
// device with the SNMP profile given ("": ping only).
func (b *bench) importFleet(ctx context.Context, f *fleet, dir, db string, profile string) (string, error) {
	url, err := b.pg.create(ctx, db)
	if err != nil {
		return "", err
	}
	kind := "ping"
	if profile != "" {
		kind = profile
	}
	csv := filepath.Join(dir, "fleet-"+kind+".csv")
	if err := f.writeCSV(csv, b.o.SNMPPort, profile); err != nil {
		return "", err
	}
	start := time.Now()
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, b.wardops, "import", csv)
	cmd.Env = append(b.baseEnv(), "WARDOPS_DATABASE_URL="+url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cannot import %s: %w: %s", csv, err, strings.TrimSpace(string(out)))
	}
	b.log.Info("fleet imported", "devices", f.size, "snmp", profile, "took", time.Since(start).Round(time.Millisecond))
	return url, nil
}

// buildWardops builds ./cmd/wardops into the work directory unless a binary was given.
func (b *bench) buildWardops(ctx context.Context) (string, error) {
	if b.o.WardopsBin != "" {
		return b.o.WardopsBin, nil
	}
	bin, err := filepath.Abs(filepath.Join(b.work, "wardops"))
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s: %w", b.work, err)
	}
	out, err := exec.CommandContext(ctx, b.o.GoBin, "build", "-o", bin, "./cmd/wardops").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cannot build ./cmd/wardops (run from the repository root): %w: %s", err, out)
	}
	return bin, nil
}

// baseEnv is the environment without any WARDOPS_* variable of the caller's shell, so a
// developer's settings cannot leak into the measured processes, plus the run's secret key.
func (b *bench) baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARDOPS_") {
			env = append(env, kv)
		}
	}
	return append(env, "WARDOPS_SECRET_KEY="+b.secretKey)
}

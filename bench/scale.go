package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// scaleProfile is the SNMP profile every device of the scale fleet gets: the operator's default.
const scaleProfile = "if-mib"

// scaleEngine is the ICMP engine of the scale collectors: the default, the only one that keeps
// 100,000 devices on a 30 s cycle.
const scaleEngine = "shared"

// Scale runs `make bench-scale`: ScaleSize devices polled for ping every Interval and if-mib every
// ScaleSNMPInterval, first by one collector, then shared by ScaleCollectors collectors on the same
// database; after the shared window one collector is SIGKILLed and the hand-over is measured. The
// fleet is imported and the simulator started once; each setup gets a VictoriaMetrics of its own,
// so neither pays for series the other registered. The report is also written under OutDir.
func Scale(ctx context.Context, o Options) (*ScaleReport, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.ScaleCollectors < 2 {
		return nil, fmt.Errorf("bench: --scale-collectors %d: the hand-over needs at least 2", o.ScaleCollectors)
	}
	b, cleanup, err := setup(ctx, o)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	o = b.o
	f, err := newFleet(o.Base, o.ScaleSize)
	if err != nil {
		return nil, err
	}
	cycles := max(1, int(o.ScaleDuration/o.Interval))
	rep := &ScaleReport{Size: f.size, Interval: o.Interval, SNMPInterval: o.ScaleSNMPInterval, Warmup: o.Warmup,
		Window: time.Duration(cycles) * o.Interval, CPUs: runtime.NumCPU(), Lease: "10s (the default)"}
	for _, kv := range o.CollectorEnv {
		if v, ok := strings.CutPrefix(kv, "WARDOPS_COLLECTOR_LEASE="); ok {
			rep.Lease = v
		}
	}
	if o.ScaleDuration%o.Interval != 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("--scale-duration %s rounded down to %d whole ping intervals", o.ScaleDuration, cycles))
	}
	if rep.Window < o.ScaleSNMPInterval {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the %s window is shorter than the SNMP interval (%s): each device has at most one poll slot in it, so 'devices polled' is not the whole fleet by design",
			rep.Window, o.ScaleSNMPInterval))
	}
	b.log.Info("scale benchmark", "devices", f.size, "collectors", o.ScaleCollectors, "window", rep.Window,
		"expected_minutes", rep.expectedDuration().Minutes())

	db := fmt.Sprintf("wardops_bench_%d_scale", os.Getpid())
	defer b.dropDB(ctx, db)
	url, err := b.importFleet(ctx, f, b.work, db, scaleProfile)
	if err != nil {
		return nil, err
	}
	sims := &children{log: b.log}
	defer sims.stopAll()
	sim, err := b.startSim(ctx, sims, b.work, f)
	if err != nil {
		return nil, err
	}
	sc := &scaleRun{b: b, f: f, dbURL: url, sim: sim, cycles: cycles}
	for _, n := range []int{1, o.ScaleCollectors} {
		s, err := sc.setup(ctx, n, n > 1)
		if s != nil {
			rep.Setups = append(rep.Setups, s)
		}
		if err != nil {
			rep.write(b, o)
			return rep, err
		}
	}
	return rep, rep.write(b, o)
}

// write prints the report and saves it beside the other benchmarks' results.
func (r *ScaleReport) write(b *bench, o Options) error {
	var out strings.Builder
	fmt.Fprintf(&out, "wardops scale benchmark, %s; %s\n", time.Now().Format(time.RFC3339), b.work)
	r.Write(&out)
	fmt.Fprint(o.Out, out.String())
	path := filepath.Join(o.OutDir, "scale-"+filepath.Base(b.work)[4:]+".txt")
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	_ = os.WriteFile(filepath.Join(o.OutDir, "scale-latest.txt"), []byte(out.String()), 0o644)
	fmt.Fprintf(o.Out, "written to %s\n", path)
	return nil
}

// scaleRun is what the setups of one scale run share: the fleet, its database and the simulator.
type scaleRun struct {
	b      *bench
	f      *fleet
	dbURL  string
	sim    *child
	cycles int
}

// member is one collector of a setup, with the counters read at the window's start.
type member struct {
	id  string
	run *collectorRun
}

// setup measures n collectors on the fleet over the window and, with kill, SIGKILLs one of them
// afterwards and measures the hand-over. Every child it starts is stopped when it returns.
func (sc *scaleRun) setup(ctx context.Context, n int, kill bool) (*ScaleSetup, error) {
	b, o := sc.b, sc.b.o
	s := &ScaleSetup{Collectors: n, ExpectedProbes: float64(sc.f.size * sc.cycles),
		ExpectedPolls: float64(sc.f.size) * float64(time.Duration(sc.cycles)*o.Interval) / float64(o.ScaleSNMPInterval)}
	dir := filepath.Join(b.work, fmt.Sprintf("scale-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", dir, err)
	}
	vmData, err := os.MkdirTemp("", "wardops-bench-vm-")
	if err != nil {
		return nil, fmt.Errorf("cannot create victoria-metrics data dir: %w", err)
	}
	cs := &children{log: b.log}
	defer func() { cs.stopAll(); os.RemoveAll(vmData) }()
	vm, err := startVictoria(ctx, cs, o.VMBin, dir, vmData, b.log)
	if err != nil {
		return nil, err
	}
	var ms []member
	for i := range n {
		id := fmt.Sprintf("scale-%d-%c", n, 'a'+i)
		run, err := b.startCollector(ctx, cs, dir, id, sc.dbURL, scaleEngine, "",
			"WARDOPS_COLLECTOR_ID="+id,
			"WARDOPS_VM_URL="+vm.url,
			"WARDOPS_SNMP_INTERVAL="+o.ScaleSNMPInterval.String())
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{id: id, run: run})
	}
	// Each collector loads the whole inventory again whenever the group changes, before it
	// filters its share; at 100,000 devices with SNMP items three joins take a minute or more on
	// two cores already busy probing.
	if err := waitShared(ctx, ms, sc.f.size, n, 4*time.Minute); err != nil {
		return s, err
	}
	b.log.Info("collectors share the fleet", "collectors", n)

	pids := make([]int, len(ms))
	for i, m := range ms {
		pids[i] = m.run.child.pid()
	}
	var ends []groupCount
	w := &window{
		pids: pids, side: map[string]int{"victoria-metrics": vm.child.pid(), "simulator": sc.sim.pid()},
		interval: o.Interval, warmup: o.Warmup, cycles: sc.cycles, perCycle: sc.f.size,
		log:     b.log.With("setup", fmt.Sprintf("%d collector(s)", n), "size", sc.f.size),
		counted: vmCounted(vm, "count_over_time", "wardops_ping_up"),
		hist: func(ctx context.Context) (map[string]float64, error) {
			g, err := readGroup(ctx, ms)
			if err != nil {
				return nil, err
			}
			ends = append(ends, g)
			return g.lag["icmp"], nil
		},
		fresh: newFreshness(vm, "wardops_ping_up", "", "ip", sc.f.sample(o.FreshSample), b.log),
	}
	m, err := w.run(ctx)
	if err != nil {
		return s, err
	}
	s.Start, s.End = m.start, m.end
	s.CPU, s.Cycles, s.PingLag, s.Fresh = m.cpu, m.cycles, m.lag, m.fresh
	s.Side = m.side
	for _, p := range pids {
		rss, err := peakRSS(p)
		if err != nil {
			return s, err
		}
		s.PeakRSS = append(s.PeakRSS, rss)
	}
	if len(ends) >= 2 {
		first, last := ends[0], ends[len(ends)-1]
		s.Probes = last.probes["icmp"] - first.probes["icmp"]
		s.Polls = last.probes["snmp"] - first.probes["snmp"]
		s.SkippedProbes = last.skipped["icmp"] - first.skipped["icmp"]
		s.SkippedPolls = last.skipped["snmp"] - first.skipped["snmp"]
		s.SNMPLag, _ = vmQuantiles(first.lag["snmp"], last.lag["snmp"], 0.5, 0.99)
		s.Owned = last.owned
	}
	s.Notes = append(s.Notes, w.fresh.note()...)
	if err := sleep(ctx, pingRowsSettle); err != nil {
		return s, err
	}
	if s.Ping, err = sc.pingGaps(ctx, s.Start, s.End); err != nil {
		return s, err
	}
	if s.PolledDevices, err = polledDevices(ctx, vm, s.Start, s.End); err != nil {
		s.Notes = append(s.Notes, "SNMP devices polled not counted: "+err.Error())
	}
	if !kill {
		return s, nil
	}
	s.Kill, err = sc.handOver(ctx, ms, vm)
	return s, err
}

// pingRowsSettle is how long after a window's end its ping_results rows are read: the collector
// batches them (about a second) and COPYs them behind the probes.
const pingRowsSettle = 10 * time.Second

// groupCount is the collectors' own counters at one instant, summed over the group, by kind.
type groupCount struct {
	probes, skipped map[string]float64
	lag             map[string]map[string]float64 // scheduler lag buckets, summed over collectors
	targets         map[string]float64
	owned           []float64 // wardops_collector_owned_devices per collector
	members         []float64 // wardops_collector_members per collector
}

// readGroup scrapes every collector of ms once.
func readGroup(ctx context.Context, ms []member) (groupCount, error) {
	g := groupCount{probes: map[string]float64{}, skipped: map[string]float64{}, targets: map[string]float64{},
		lag: map[string]map[string]float64{"icmp": {}, "snmp": {}}}
	for _, m := range ms {
		if done, _ := m.run.child.exited(); done {
			return g, m.run.child.failure()
		}
		ps, err := scrape(ctx, m.run.metricsURL)
		if err != nil {
			return g, err
		}
		for _, k := range []string{"icmp", "snmp"} {
			l := map[string]string{"kind": k}
			v, _ := ps.sum("wardops_collector_probes_total", l)
			g.probes[k] += v
			v, _ = ps.sum("wardops_collector_probes_skipped_total", l)
			g.skipped[k] += v
			v, _ = ps.sum("wardops_collector_targets", l)
			g.targets[k] += v
			for r, c := range ps.lagBuckets(l) {
				g.lag[k][r] += c
			}
		}
		owned, _ := ps.sum("wardops_collector_owned_devices", nil)
		members, _ := ps.sum("wardops_collector_members", nil)
		g.owned = append(g.owned, owned)
		g.members = append(g.members, members)
	}
	return g, nil
}

// shared reports whether the group has settled: every collector sees n members and the
// collectors' targets add up to the fleet, once for ping and once for SNMP.
func (g groupCount) shared(size, n int) bool {
	for _, m := range g.members {
		if int(m) != n {
			return false
		}
	}
	return int(g.targets["icmp"]) == size && int(g.targets["snmp"]) == size
}

// waitShared waits until the collectors have settled on n members that together schedule every
// device exactly once.
func waitShared(ctx context.Context, ms []member, size, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var g groupCount
	for time.Now().Before(deadline) {
		var err error
		if g, err = readGroup(ctx, ms); err == nil && g.shared(size, n) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	return fmt.Errorf("%d collector(s) did not settle on the fleet in %s: members %v, targets %v of %d each", n, limit, g.members, g.targets, size)
}

// handOver SIGKILLs the second collector of ms and follows the survivors: when their targets cover
// the fleet again (rebalance), when every device has a ping result and a sample newer than the kill
// (fresh), then, two intervals after the kill, every device's ping_results around it.
func (sc *scaleRun) handOver(ctx context.Context, ms []member, vm *victoria) (*HandOver, error) {
	b, o := sc.b, sc.b.o
	victim, survivors := ms[1], append(append([]member(nil), ms[:1]...), ms[2:]...)
	before, err := readGroup(ctx, ms)
	if err != nil {
		return nil, err
	}
	h := &HandOver{Victim: victim.id, Moved: before.owned[1]}
	victim.run.child.kill()
	h.At = time.Now()
	b.log.Info("collector killed", "id", victim.id, "devices", h.Moved)

	// Two intervals after the kill every device must have been probed again (the promise); the
	// gap analysis needs the rows of that span, and one interval more bounds a slow hand-over.
	settle := h.At.Add(2*o.Interval + pingRowsSettle)
	deadline := h.At.Add(3*o.Interval + pingRowsSettle)
	var lastStore time.Time
	for time.Now().Before(deadline) {
		if err := sleep(ctx, time.Second); err != nil {
			return h, err
		}
		now := time.Now()
		if h.Rebalance == 0 {
			if g, err := readGroup(ctx, survivors); err == nil && g.shared(sc.f.size, len(survivors)) {
				h.Rebalance = now.Sub(h.At)
				b.log.Info("rebalanced", "after", h.Rebalance)
			}
		}
		// PostgreSQL and VictoriaMetrics are asked every other second: at 100,000 devices each
		// answer reads a few hundred thousand rows or series.
		if now.Sub(lastStore) >= 2*time.Second && (h.FreshPG == 0 || h.FreshVM == 0) {
			lastStore = now
			if h.FreshPG == 0 {
				if n, err := sc.devicesSince(ctx, h.At); err == nil && n >= sc.f.size {
					h.FreshPG = time.Since(h.At)
				}
			}
			if h.FreshVM == 0 {
				if n, err := samplesSince(ctx, vm, h.At); err == nil && n >= sc.f.size {
					h.FreshVM = time.Since(h.At)
				}
			}
		}
		if h.Rebalance > 0 && h.FreshPG > 0 && h.FreshVM > 0 && now.After(settle) {
			break
		}
	}
	if err := sleep(ctx, time.Until(settle)); err != nil {
		return h, err
	}
	if h.Probe, err = sc.freshAfter(ctx, h.At, h.At.Add(2*o.Interval)); err != nil {
		return h, err
	}
	// The span starts two intervals before the kill so every device's last probe by its old
	// owner is in it, and ends two intervals after, the promise's bound.
	if h.Ping, err = sc.pingGaps(ctx, h.At.Add(-2*o.Interval), h.At.Add(2*o.Interval)); err != nil {
		return h, err
	}
	return h, nil
}

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// collectorRun is one `wardops collector` child with its /metrics address.
type collectorRun struct {
	child      *child
	metricsURL string
}

// startCollector runs `wardops collector` on dbURL with the given engine. kind "snmp" stretches the
// ping interval to a day so the window's CPU is SNMP's (the few pings that still fall in it are
// counted and reported); kind "" keeps both intervals as extra sets them. extra KEY=VALUE pairs
// override the defaults here, and the user's --collector-env overrides both.
func (b *bench) startCollector(ctx context.Context, cs *children, dir, name, dbURL, engine, kind string, extra ...string) (*collectorRun, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	data := filepath.Join(dir, name+"-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", data, err)
	}
	env := append(b.baseEnv(),
		"WARDOPS_DATABASE_URL="+dbURL,
		"WARDOPS_VM_URL="+b.vm.url,
		"WARDOPS_PING_INTERVAL="+b.o.Interval.String(),
		"WARDOPS_SNMP_INTERVAL="+b.o.Interval.String(),
		"WARDOPS_COLLECTOR_LISTEN="+addr,
		"WARDOPS_ICMP_ENGINE="+engine,
		"WARDOPS_DATA_DIR="+data,
		"WARDOPS_LOG_LEVEL=warn",
	)
	if kind == "snmp" {
		env = append(env, "WARDOPS_PING_INTERVAL=24h")
	}
	env = append(env, extra...)
	env = append(env, b.o.CollectorEnv...) // last wins: the user's overrides
	c, err := cs.start(name, filepath.Join(dir, name+".log"), env, b.wardops, "collector")
	if err != nil {
		return nil, err
	}
	run := &collectorRun{child: c, metricsURL: "http://" + addr + "/metrics"}
	if err := waitHTTP(ctx, c, run.metricsURL, time.Minute); err != nil {
		return nil, err
	}
	return run, nil
}

// waitTargets waits until the collector has scheduled want targets of kind (the inventory is
// loaded), so the warm-up starts with the whole fleet.
func (run *collectorRun) waitTargets(ctx context.Context, kind string, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var have float64
	for time.Now().Before(deadline) {
		if done, _ := run.child.exited(); done {
			return run.child.failure()
		}
		ps, err := scrape(ctx, run.metricsURL)
		if err == nil {
			have, _ = ps.sum("wardops_collector_targets", map[string]string{"kind": kindLabel(kind)})
			if int(have) >= want {
				return nil
			}
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	if have == 0 && kind == "snmp" {
		return fmt.Errorf("the collector scheduled no SNMP targets in %s: is an SNMP poller wired into `wardops collector` (cmd/wardops/collector.go)?", limit)
	}
	return fmt.Errorf("the collector scheduled %.0f of %d %s targets in %s", have, want, kind, limit)
}

// kindLabel maps the table's kinds to the collector's kind label.
func kindLabel(kind string) string {
	if kind == "ping" {
		return "icmp"
	}
	return "snmp"
}

// runWardops measures `wardops collector` on the fleet in dbURL, whose SNMP devices have profile.
// side holds processes measured but excluded (VictoriaMetrics, the simulator).
func (b *bench) runWardops(ctx context.Context, f *fleet, dir, dbURL, engine, kind, profile string, side map[string]int) *Result {
	name := "wardops " + engine
	if kind == "snmp" {
		name = "wardops " + profile + " (" + engine + ")"
	}
	r := &Result{Size: f.size, Pipeline: name, Kind: kind, Wardops: true, Expected: float64(f.size * b.o.Cycles),
		WantCycles: b.o.Cycles, Interval: b.o.Interval}
	cs := &children{log: b.log}
	defer cs.stopAll()
	run, err := b.startCollector(ctx, cs, dir, "collector-"+kind+profile+"-"+engine, dbURL, engine, kind)
	if err != nil {
		r.Err = err
		return r
	}
	if r.Err = run.waitTargets(ctx, kind, f.size, 2*time.Minute); r.Err != nil {
		return r
	}
	label := map[string]string{"kind": kindLabel(kind)}
	var own []ownCount
	metric := "wardops_ping_up"
	if kind == "snmp" {
		metric = "wardops_snmp_up" // one series per device and poll, like vmagent's up
	}
	w := &window{
		pids: []int{run.child.pid()}, side: side, interval: b.o.Interval, warmup: b.o.Warmup, cycles: b.o.Cycles,
		perCycle: f.size, log: b.log.With("pipeline", name, "size", f.size),
		// Counted in VictoriaMetrics by sample timestamp, like the peers, not by scraping the
		// collector every second: at 875 devices those scrapes alone were a tenth of its CPU.
		counted: vmCounted(b.vm, "count_over_time", metric),
		hist: func(ctx context.Context) (map[string]float64, error) {
			ps, err := scrape(ctx, run.metricsURL)
			if err != nil {
				return nil, err
			}
			// Read at the window's two ends: the collector's own count of what it did, which a
			// VictoriaMetrics that falls behind ingesting cannot understate.
			var c ownCount
			c.probes, _ = ps.sum("wardops_collector_probes_total", label)
			c.skipped, _ = ps.sum("wardops_collector_probes_skipped_total", label)
			own = append(own, c)
			return ps.lagBuckets(label), nil
		},
		fresh: newFreshness(b.vm, metric, "", "ip", f.sample(b.o.FreshSample), b.log),
	}
	m, err := w.run(ctx)
	if err != nil {
		r.Err = err
		return r
	}
	b.fill(r, m)
	r.Notes = append(r.Notes, w.fresh.note()...)
	if len(own) >= 2 {
		first, last := own[0], own[len(own)-1]
		r.Notes = append(r.Notes, fmt.Sprintf("the collector's own counters over the window: %.0f polls/probes done (%.0f expected), %.0f rounds skipped",
			last.probes-first.probes, r.Expected, last.skipped-first.skipped))
	}
	if kind == "snmp" {
		re := strings.Join(f.sample(b.o.FreshSample), "|")
		b.perPoll(ctx, r, m, `{__name__=~"wardops_snmp_.+",ip=~"`+re+`"}`, `wardops_snmp_up{ip=~"`+re+`"}`, "")
	}
	if ps, err := scrape(ctx, run.metricsURL); err == nil {
		r.Notes = append(r.Notes, collectorNotes(ps, kind)...)
		if kind == "snmp" {
			req, _ := ps.sum("wardops_collector_snmp_requests_total", nil)
			polls, _ := ps.sum("wardops_collector_snmp_polls_total", nil)
			if polls > 0 {
				// Since start: includes each device's first poll, which also walks the label columns.
				r.Requests = req / polls
			}
		}
	}
	return r
}

// collectorNotes lists the collector's own failure counters since its start, when not zero.
func collectorNotes(ps promSet, kind string) []string {
	l := map[string]string{"kind": kindLabel(kind)}
	var parts []string
	for _, c := range []struct{ name, what string }{
		{"wardops_collector_probe_failures_total", "device did not answer"},
		{"wardops_collector_probe_errors_total", "probe errors"},
		{"wardops_collector_probes_skipped_total", "rounds skipped (previous probe still running)"},
	} {
		if v, _ := ps.sum(c.name, l); v > 0 {
			parts = append(parts, fmt.Sprintf("%.0f %s", v, c.what))
		}
	}
	for _, c := range []struct{ name, what string }{
		{"wardops_collector_push_dropped_blocks_total", "push blocks dropped"},
		{"wardops_collector_ping_results_dropped_total", "ping_results rows dropped"},
	} {
		if v, _ := ps.sum(c.name, nil); v > 0 {
			parts = append(parts, fmt.Sprintf("%.0f %s", v, c.what))
		}
	}
	if kind == "snmp" {
		if v, _ := ps.sum("wardops_collector_probes_total", map[string]string{"kind": "icmp"}); v > 0 {
			parts = append(parts, fmt.Sprintf("%.0f ping probe(s) also ran (24h ping interval during the SNMP run) and are in its CPU", v))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{"since start: " + strings.Join(parts, "; ")}
}

// fill copies a window's measurement into a result, with the excluded processes' CPU as a note.
func (b *bench) fill(r *Result, m *measurement) {
	r.Probes, r.CPU, r.PeakRSS, r.Cycles, r.Lag, r.Fresh = m.probes, m.cpu, m.rss, m.cycles, m.lag, m.fresh
	if r.Probes < 0.95*r.Expected {
		r.Notes = append(r.Notes, fmt.Sprintf("completed %.0f of %.0f expected probes (%.0f%%)", r.Probes, r.Expected, 100*r.Probes/r.Expected))
	}
	var side []string
	for n, c := range m.side {
		side = append(side, fmt.Sprintf("%s %.2f CPU-s", n, c.Seconds()))
	}
	sort.Strings(side)
	if len(side) > 0 {
		r.Notes = append(r.Notes, "excluded, measured over the same window: "+strings.Join(side, ", "))
	}
}

// perPoll fills a result's samples per poll (and, with requestsSel, SNMP requests per poll) from
// VictoriaMetrics, over the window, for the devices the freshness sampler tracks: every sample the
// pipeline wrote for them (samplesSel), divided by their polls (pollsSel, one up sample per poll).
// A sample of devices, not the fleet: counting every series of 10,000 devices (over three
// million) in one query would cost VictoriaMetrics more than the window it measures.
func (b *bench) perPoll(ctx context.Context, r *Result, m *measurement, samplesSel, pollsSel, requestsSel string) {
	win := m.end.Sub(m.start).Milliseconds()
	q := func(expr string) (float64, error) {
		res, err := b.vm.queryAt(ctx, fmt.Sprintf(expr, win), m.end)
		if err != nil || len(res) == 0 {
			return 0, fmt.Errorf("cannot count %q: %v", expr, err)
		}
		v, _ := res[0].value()
		return v, nil
	}
	polls, err := q(`sum(count_over_time(` + pollsSel + `[%dms]))`)
	if err == nil && polls > 0 {
		var samples float64
		if samples, err = q(`sum(count_over_time(` + samplesSel + `[%dms]))`); err == nil {
			r.SamplesPerPoll = samples / polls
		}
	}
	if err == nil && requestsSel != "" && polls > 0 {
		var req float64
		if req, err = q(`sum(sum_over_time(` + requestsSel + `[%dms]))`); err == nil {
			r.Requests = req / polls
		}
	}
	if err != nil {
		r.Notes = append(r.Notes, "samples per poll not counted: "+err.Error())
	}
}

// ownCount is the collector's own probe counters at one instant.
type ownCount struct{ probes, skipped float64 }

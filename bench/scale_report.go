package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ScaleReport is what `make bench-scale` measured: one setup per collector count, the last with the
// hand-over after a SIGKILL.
type ScaleReport struct {
	Size         int
	Interval     time.Duration // ping
	SNMPInterval time.Duration
	Warmup       time.Duration
	Window       time.Duration
	CPUs         int
	Lease        string // the collectors' WARDOPS_COLLECTOR_LEASE
	Setups       []*ScaleSetup
	Notes        []string
}

// ScaleSetup is one setup's window: n collectors sharing the fleet.
type ScaleSetup struct {
	Collectors     int
	Start, End     time.Time
	Probes, Polls  float64 // done in the window, by the collectors' own counters
	ExpectedProbes float64
	ExpectedPolls  float64
	SkippedProbes  float64 // rounds skipped because the previous one still ran
	SkippedPolls   float64
	Ping           PingGaps // from ping_results, over the window
	PolledDevices  int      // devices with an SNMP poll in the window (VictoriaMetrics)
	Cycles         []time.Duration
	PingLag        []float64 // p50, p99 upper bucket bounds, seconds
	SNMPLag        []float64
	Fresh          []time.Duration // ping probe→queryable, sampled devices
	CPU            time.Duration   // all collectors
	Side           map[string]time.Duration
	PeakRSS        []uint64  // per collector, bytes
	Owned          []float64 // devices per collector at the window's end
	Kill           *HandOver
	Notes          []string
}

// PingGaps is every device's ping_results over a span, judged probe by probe.
type PingGaps struct {
	Span     time.Duration
	Devices  int     // devices with a probe in the span
	Probes   float64 // rows in the span
	Doubles  float64 // consecutive probes of one device less than half an interval apart
	Missed   float64 // slots with no probe: gaps over 1.5 intervals, the span's edges, devices never probed
	Complete int     // devices probed in every interval of the span and never twice
}

// HandOver is what followed the SIGKILL of one collector of a shared setup.
type HandOver struct {
	Victim    string
	Moved     float64 // devices it owned
	At        time.Time
	Rebalance time.Duration // until the survivors' targets covered the fleet again (0: never)
	FreshPG   time.Duration // until every device had a ping_results row newer than the kill, visible
	FreshVM   time.Duration // until every device had a wardops_ping_up sample newer than the kill, queryable
	Probe     FreshAfter    // the same by the probes' own timestamps
	Ping      PingGaps      // two intervals either side of the kill
}

// FreshAfter is, by probe timestamp, how long after an instant each device was probed again.
type FreshAfter struct {
	Devices  int // probed again within the span
	P50, Max time.Duration
}

// sqlTime is t as a PostgreSQL timestamptz literal.
func sqlTime(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02T15:04:05.000000Z") + "'::timestamptz"
}

// psqlFields runs a one-row query and returns its fields as numbers.
func (sc *scaleRun) psqlFields(ctx context.Context, sql string, want int) ([]float64, error) {
	out, err := sc.b.pg.query(ctx, sc.dbURL, sql)
	if err != nil {
		return nil, err
	}
	fs := strings.Split(out, "|")
	if len(fs) != want {
		return nil, fmt.Errorf("cannot read %q from PostgreSQL: want %d fields", out, want)
	}
	vs := make([]float64, want)
	for i, f := range fs {
		if f == "" {
			continue // NULL: an aggregate over no rows
		}
		if vs[i], err = strconv.ParseFloat(f, 64); err != nil {
			return nil, fmt.Errorf("cannot read field %q from PostgreSQL: %w", f, err)
		}
	}
	return vs, nil
}

// pingGaps judges every device's probes in [from, to) from ping_results, one query for the fleet.
// Rows from two intervals before from are read too, so each device's first gap in the span is
// measured from its previous probe.
func (sc *scaleRun) pingGaps(ctx context.Context, from, to time.Time) (PingGaps, error) {
	iv := sc.b.o.Interval.Seconds()
	a, t0, end := sqlTime(from.Add(-2*sc.b.o.Interval)), sqlTime(from), sqlTime(to)
	ivs := strconv.FormatFloat(iv, 'f', 3, 64)
	// gap: seconds since the device's previous probe. A gap over 1.5 intervals missed
	// round(gap/iv)-1 slots; at the span's end more than 1.2 intervals since the last probe means
	// its slot passed unprobed (the margin covers batch-window jitter and rows still landing).
	sql := `WITH r AS (
  SELECT device_id, "timestamp" AS ts,
    extract(epoch FROM "timestamp" - lag("timestamp") OVER (PARTITION BY device_id ORDER BY "timestamp")) AS gap
  FROM ping_results WHERE "timestamp" >= ` + a + ` AND "timestamp" < ` + end + `
), d AS (
  SELECT device_id,
    count(*) FILTER (WHERE ts >= ` + t0 + `) AS probes,
    count(*) FILTER (WHERE ts >= ` + t0 + ` AND gap < ` + ivs + `/2) AS doubles,
    coalesce(sum(round(gap / ` + ivs + `) - 1) FILTER (WHERE ts >= ` + t0 + ` AND gap > 1.5*` + ivs + `), 0)
      + CASE WHEN min(ts) >= ` + t0 + ` THEN floor(extract(epoch FROM min(ts) - ` + t0 + `) / ` + ivs + `) ELSE 0 END
      + CASE WHEN extract(epoch FROM ` + end + ` - max(ts)) > 1.2*` + ivs + `
          THEN floor(extract(epoch FROM ` + end + ` - max(ts)) / ` + ivs + `) ELSE 0 END AS missed
  FROM r GROUP BY device_id
)
SELECT count(*), count(*) FILTER (WHERE probes > 0), sum(probes), sum(doubles), sum(missed),
  count(*) FILTER (WHERE probes > 0 AND doubles = 0 AND missed = 0) FROM d`
	vs, err := sc.psqlFields(ctx, sql, 6)
	if err != nil {
		return PingGaps{}, err
	}
	span := to.Sub(from)
	g := PingGaps{Span: span, Devices: int(vs[1]), Probes: vs[2], Doubles: vs[3], Missed: vs[4], Complete: int(vs[5])}
	// A device with no row at all missed every slot of the span.
	g.Missed += float64(sc.f.size-int(vs[0])) * math.Floor(span.Seconds()/iv)
	return g, nil
}

// devicesSince counts the devices with a ping_results row newer than t.
func (sc *scaleRun) devicesSince(ctx context.Context, t time.Time) (int, error) {
	vs, err := sc.psqlFields(ctx, `SELECT count(DISTINCT device_id) FROM ping_results WHERE "timestamp" > `+sqlTime(t), 1)
	if err != nil {
		return 0, err
	}
	return int(vs[0]), nil
}

// freshAfter is, by the probes' own timestamps, when each device was first probed in (t, end).
func (sc *scaleRun) freshAfter(ctx context.Context, t, end time.Time) (FreshAfter, error) {
	vs, err := sc.psqlFields(ctx, `SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY s), max(s) FROM (
  SELECT extract(epoch FROM min("timestamp") - `+sqlTime(t)+`) AS s FROM ping_results
  WHERE "timestamp" > `+sqlTime(t)+` AND "timestamp" < `+sqlTime(end)+` GROUP BY device_id) x`, 3)
	if err != nil {
		return FreshAfter{}, err
	}
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	return FreshAfter{Devices: int(vs[0]), P50: sec(vs[1]), Max: sec(vs[2])}, nil
}

// samplesSince counts the devices whose wardops_ping_up has a sample newer than t, queryable now.
func samplesSince(ctx context.Context, v *victoria, t time.Time) (int, error) {
	look := time.Since(t) + time.Minute
	res, err := v.query(ctx, fmt.Sprintf(`count(tlast_over_time(wardops_ping_up[%dms]) > %.3f)`, look.Milliseconds(), float64(t.UnixMilli())/1000))
	if err != nil || len(res) == 0 {
		return 0, err
	}
	n, _ := res[0].value()
	return int(n), nil
}

// polledDevices counts the devices with a wardops_snmp_up sample in [from, to).
func polledDevices(ctx context.Context, v *victoria, from, to time.Time) (int, error) {
	res, err := v.queryAt(ctx, fmt.Sprintf(`count(count_over_time(wardops_snmp_up[%dms]))`, to.Sub(from).Milliseconds()), to)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	n, _ := res[0].value()
	return int(n), nil
}

// expectedDuration is about how long the run takes, start-up of the children aside.
func (r *ScaleReport) expectedDuration() time.Duration {
	per := r.Warmup + r.Window + r.Interval/10 + pingRowsSettle + time.Minute // start, settle, stop
	return 2*per + 2*r.Interval + pingRowsSettle
}

// Write prints the setups side by side (completion, then cost), then the hand-over.
func (r *ScaleReport) Write(w io.Writer) {
	fmt.Fprintf(w, "\n== scale: %s devices on loopback, ping every %s, %s SNMP every %s; %s window after a %s warm-up; %d CPU(s) ==\n",
		thousands(r.Size), r.Interval, scaleProfile, r.SNMPInterval, r.Window, r.Warmup, r.CPUs)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "setup\tprobes/expected\tping_results rows\tdevices every interval\tdouble-probes\tmissed slots\tping cycle p50/max\tping lag p50/p99\tpolls/expected\tdevices polled\tpoll lag p50/p99\tskipped (ping/SNMP)\t")
	for _, s := range r.Setups {
		fmt.Fprintf(tw, "%s\t%.0f/%.0f\t%.0f\t%s of %s\t%.0f\t%.0f\t%s\t%s\t%.0f/%.0f\t%s\t%s\t%.0f/%.0f\t\n", s.name(),
			s.Probes, s.ExpectedProbes, s.Ping.Probes, thousands(s.Ping.Complete), thousands(r.Size), s.Ping.Doubles, s.Ping.Missed,
			cyclesText(s.Cycles, int(s.ExpectedProbes)/max(1, r.Size)), lag(s.PingLag),
			s.Polls, s.ExpectedPolls, thousands(s.PolledDevices), lag(s.SNMPLag), s.SkippedProbes, s.SkippedPolls)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "setup\tCPU-s\tcores\tCPU-s/1k probes ≤\tCPU-s/1k polls ≤\tpeak RSS MiB per collector\tdevices per collector\tprobe→queryable p50/p99\texcluded CPU-s\t")
	for _, s := range r.Setups {
		win := s.End.Sub(s.Start).Seconds()
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%.3f\t%.3f\t%s\t%s\t%s\t%s\t\n", s.name(), s.CPU.Seconds(), s.CPU.Seconds()/win,
			perK(s.CPU, s.Probes), perK(s.CPU, s.Polls), rssText(s.PeakRSS), ownedText(s.Owned), freshText(s.Fresh), sideText(s.Side))
	}
	tw.Flush()
	fmt.Fprintln(w, "probes, polls: the collectors' own counters over the window, summed. devices every interval, double-probes, missed slots:")
	fmt.Fprintln(w, "  every device's ping_results rows (one per probe, probe start time): two probes under half an interval apart are a")
	fmt.Fprintln(w, "  double; a gap over 1.5 intervals missed round(gap/interval)-1 slots. devices polled: with a wardops_snmp_up sample in the window.")
	fmt.Fprintln(w, "ping cycle: time to complete each fleet's worth of probes (VictoriaMetrics, by sample timestamp). lag: scheduler lag")
	fmt.Fprintln(w, "  histogram, bucket upper bounds, all collectors. CPU: user+system of the collectors only; each per-1k figure charges")
	fmt.Fprintln(w, "  all of it to that kind (one process does both; /proc cannot split it), so both are upper bounds: bench-collector")
	fmt.Fprintln(w, "  measures each kind alone. peak RSS: VmHWM at the window's end. excluded: measured beside, never counted.")
	for _, s := range r.Setups {
		if s.Kill != nil {
			s.Kill.write(w, r)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	for _, s := range r.Setups {
		for _, n := range s.Notes {
			fmt.Fprintf(w, "%s: %s\n", s.name(), n)
		}
	}
}

func (h *HandOver) write(w io.Writer, r *ScaleReport) {
	fmt.Fprintf(w, "\nhand-over: SIGKILL of %s (%s devices) at %s, collector lease %s\n", h.Victim, thousands(int(h.Moved)), h.At.UTC().Format("15:04:05"), r.Lease)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	never := func(d time.Duration) string {
		if d <= 0 {
			return fmt.Sprintf("not within %s", 3*r.Interval+pingRowsSettle)
		}
		return "+" + secs(d)
	}
	fmt.Fprintf(tw, "rebalance: survivors' ping and SNMP targets cover the fleet\t%s\t\n", never(h.Rebalance))
	fmt.Fprintf(tw, "every device probed again, by probe timestamp (p50 / last)\t+%s / +%s (%s of %s devices within 2 intervals)\t\n",
		secs(h.Probe.P50), secs(h.Probe.Max), thousands(h.Probe.Devices), thousands(r.Size))
	fmt.Fprintf(tw, "every device fresh: ping_results row visible in PostgreSQL\t%s\t\n", never(h.FreshPG))
	fmt.Fprintf(tw, "every device fresh: wardops_ping_up sample queryable in VictoriaMetrics\t%s\t\n", never(h.FreshVM))
	fmt.Fprintf(tw, "double-probes, 2 intervals either side of the kill\t%.0f\t\n", h.Ping.Doubles)
	fmt.Fprintf(tw, "slots missed in that span (the victim's devices whose slot fell inside the lease)\t%.0f\t\n", h.Ping.Missed)
	fmt.Fprintf(tw, "devices left out (no probe within 2 intervals after the kill)\t%s\t\n", thousands(r.Size-h.Probe.Devices))
	tw.Flush()
	fmt.Fprintln(w, "rebalance and fresh are polled every 1 s and 2 s: each is up to that much late.")
}

func (s *ScaleSetup) name() string {
	if s.Collectors == 1 {
		return "1 collector"
	}
	return fmt.Sprintf("%d collectors", s.Collectors)
}

func perK(cpu time.Duration, n float64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return cpu.Seconds() / n * 1000
}

func cyclesText(cs []time.Duration, want int) string {
	r := &Result{Cycles: cs, WantCycles: want}
	return r.cycleText()
}

func lag(q []float64) string { return (&Result{Lag: q}).lagText() }

func freshText(f []time.Duration) string { return (&Result{Fresh: f}).freshText() }

func rssText(rs []uint64) string {
	parts := make([]string, len(rs))
	for i, v := range rs {
		parts[i] = fmt.Sprintf("%.0f", float64(v)/(1<<20))
	}
	return strings.Join(parts, " / ")
}

func ownedText(os []float64) string {
	parts := make([]string, len(os))
	for i, v := range os {
		parts[i] = thousands(int(v))
	}
	return strings.Join(parts, " / ")
}

func sideText(side map[string]time.Duration) string {
	var parts []string
	for n, c := range side {
		parts = append(parts, fmt.Sprintf("%s %.1f", n, c.Seconds()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

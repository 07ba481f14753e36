package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// SoakSample is the collector's state at one moment of a soak.
type SoakSample struct {
	At         time.Duration
	RSS        uint64 // VmRSS, bytes
	Goroutines float64
	FDs        int
	Probes     float64
}

// SoakReport is a soak's samples and verdict.
type SoakReport struct {
	Size     int
	Engine   string
	Duration time.Duration
	Samples  []SoakSample
	Flat     bool
	Reasons  []string // why not flat
	Compared []string // first-third → last-third medians
}

// Soak thresholds: how much the end may exceed the baseline (the first sample after one warm-up
// interval) and still count as flat. RSS moves with GC pacing, so it gets the widest margin.
const (
	soakRSSGrowth       = 0.20
	soakRSSSlack        = 16 << 20
	soakGoroutineGrowth = 0.10
	soakGoroutineSlack  = 20
	soakFDGrowth        = 0.10
	soakFDSlack         = 10
)

// Soak runs one collector on SoakSize devices for SoakDuration, sampling RSS, goroutines (the
// lowest go_goroutines of a few /metrics reads) and open file descriptors every SoakEvery, and
// judges whether they stayed flat. The report is also written under OutDir.
func Soak(ctx context.Context, o Options) (*SoakReport, error) {
	ctx, cancel := context.WithTimeout(ctx, o.SoakDuration+o.Timeout)
	defer cancel()
	b, cleanup, err := setup(ctx, o)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	o = b.o
	f, err := newFleet(o.Base, o.SoakSize)
	if err != nil {
		return nil, err
	}
	db := fmt.Sprintf("wardops_bench_%d_soak", os.Getpid())
	defer b.dropDB(ctx, db)
	url, err := b.importFleet(ctx, f, b.work, db, "")
	if err != nil {
		return nil, err
	}
	run, err := b.startCollector(ctx, b.cs, b.work, "collector-soak", url, o.SoakEngine, "ping")
	if err != nil {
		return nil, err
	}
	defer run.child.stop(10 * time.Second) // before its database is dropped

	if err := run.waitTargets(ctx, "ping", f.size, 2*time.Minute); err != nil {
		return nil, err
	}
	rep := &SoakReport{Size: f.size, Engine: o.SoakEngine, Duration: o.SoakDuration}
	start := time.Now()
	for {
		s, err := soakSample(ctx, run, time.Since(start))
		if err != nil {
			return rep, err
		}
		rep.Samples = append(rep.Samples, s)
		b.log.Info("soak", "at", s.At.Round(time.Second), "rss_mib", s.RSS>>20, "goroutines", s.Goroutines, "fds", s.FDs, "probes", s.Probes)
		left := o.SoakDuration - time.Since(start)
		if left <= 0 {
			break
		}
		if err := sleep(ctx, min(o.SoakEvery, left)); err != nil {
			return rep, err
		}
	}
	rep.judge(o.Interval)
	var out strings.Builder
	rep.Write(&out)
	fmt.Fprint(o.Out, out.String())
	path := filepath.Join(o.OutDir, "soak-"+filepath.Base(b.work)[4:]+".txt")
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		return rep, fmt.Errorf("cannot write %s: %w", path, err)
	}
	fmt.Fprintf(o.Out, "written to %s\n", path)
	return rep, nil
}

// goroutineReads is how many /metrics reads, a second apart in all, make one goroutine sample.
const goroutineReads = 5

func soakSample(ctx context.Context, run *collectorRun, at time.Duration) (SoakSample, error) {
	pid := run.child.pid()
	if done, _ := run.child.exited(); done {
		return SoakSample{}, run.child.failure()
	}
	st, err := procStatus(pid)
	if err != nil {
		return SoakSample{}, err
	}
	fds, err := openFDs(pid)
	if err != nil {
		return SoakSample{}, err
	}
	// Probe goroutines come and go with the dispatch windows (tens to hundreds at 10,000 devices),
	// so one read lands anywhere in that swing: the lowest of a few reads over a second is the
	// standing count, the one a leak would raise.
	var g, p float64
	for i := range goroutineReads {
		if i > 0 {
			if err := sleep(ctx, time.Second/goroutineReads); err != nil {
				return SoakSample{}, err
			}
		}
		ps, err := scrape(ctx, run.metricsURL)
		if err != nil {
			return SoakSample{}, err
		}
		n, _ := ps.sum("go_goroutines", nil)
		if i == 0 || n < g {
			g = n
		}
		p, _ = ps.sum("wardops_collector_probes_total", map[string]string{"kind": "icmp"})
	}
	return SoakSample{At: at, RSS: st["VmRSS"], Goroutines: g, FDs: fds, Probes: p}, nil
}

// judge compares the median of the last third of the samples with the median of the first
// third, counting only samples taken at least one interval in (start-up allocations and the
// first round of sockets are not a leak). Medians, because goroutines and fds follow the probes
// in flight at the moment of sampling; a leak moves the whole last third.
func (r *SoakReport) judge(interval time.Duration) {
	var after []SoakSample
	for _, s := range r.Samples {
		if s.At >= interval {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		r.Reasons = []string{"too short to judge: fewer than two samples after the warm-up interval"}
		return
	}
	k := max(1, len(after)/3)
	med := func(ss []SoakSample, f func(SoakSample) float64) float64 {
		vs := make([]float64, len(ss))
		for i, s := range ss {
			vs[i] = f(s)
		}
		sort.Float64s(vs)
		if len(vs)%2 == 1 {
			return vs[len(vs)/2]
		}
		return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	first, last := after[:k], after[len(after)-k:]
	for _, c := range []struct {
		what          string
		f             func(SoakSample) float64
		growth, slack float64
		unit          float64
	}{
		{"RSS (MiB)", func(s SoakSample) float64 { return float64(s.RSS) }, soakRSSGrowth, soakRSSSlack, 1 << 20},
		{"goroutines", func(s SoakSample) float64 { return s.Goroutines }, soakGoroutineGrowth, soakGoroutineSlack, 1},
		{"open fds", func(s SoakSample) float64 { return float64(s.FDs) }, soakFDGrowth, soakFDSlack, 1},
	} {
		a, b := med(first, c.f), med(last, c.f)
		r.Compared = append(r.Compared, fmt.Sprintf("%s %.0f → %.0f", c.what, a/c.unit, b/c.unit))
		if b > a*(1+c.growth)+c.slack {
			r.Reasons = append(r.Reasons, fmt.Sprintf("%s grew %.0f → %.0f", c.what, a/c.unit, b/c.unit))
		}
	}
	r.Flat = len(r.Reasons) == 0
}

// Write prints the samples and the verdict.
func (r *SoakReport) Write(w io.Writer) {
	fmt.Fprintf(w, "\n== soak: %s devices, engine %s, %s ==\n", thousands(r.Size), r.Engine, r.Duration)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "at\tRSS MiB\tgoroutines\topen fds\tprobes\t")
	for _, s := range r.Samples {
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%d\t%.0f\t\n", s.At.Round(time.Second), float64(s.RSS)/(1<<20), s.Goroutines, s.FDs, s.Probes)
	}
	tw.Flush()
	fmt.Fprintf(w, "medians, first third → last third of the samples after one interval: %s\n", strings.Join(r.Compared, ", "))
	if r.Flat {
		fmt.Fprintf(w, "verdict: FLAT (allowed: RSS +%.0f%%+%d MiB, goroutines +%.0f%%+%d, fds +%.0f%%+%d)\n",
			soakRSSGrowth*100, soakRSSSlack>>20, soakGoroutineGrowth*100, soakGoroutineSlack, soakFDGrowth*100, soakFDSlack)
		return
	}
	fmt.Fprintf(w, "verdict: NOT FLAT: %s\n", strings.Join(r.Reasons, "; "))
}

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
}

// Soak thresholds: how much the end may exceed the baseline (the first sample after one warm-up
// interval) and still count as flat. RSS moves with GC pacing, so it gets the widest margin.
const (
	soakRSSGrowth       = 0.20
	soakRSSSlack        = 16 << 20
	soakGoroutineGrowth = 0.10
	soakGoroutineSlack  = 20
	soakFDSlack         = 10
)

// Soak runs one collector on SoakSize devices for SoakDuration, sampling RSS, goroutines (the
// go_goroutines process metric of its /metrics) and open file descriptors every SoakEvery, and
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
	url, err := b.importFleet(ctx, f, b.work, db, false)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := b.pg.drop(context.WithoutCancel(ctx), db); err != nil {
			b.log.Warn("cannot drop benchmark database", "db", db, "err", err)
		}
	}()
	run, err := b.startCollector(ctx, b.cs, b.work, "collector-soak", url, o.SoakEngine, "ping")
	if err != nil {
		return nil, err
	}
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
	ps, err := scrape(ctx, run.metricsURL)
	if err != nil {
		return SoakSample{}, err
	}
	g, _ := ps.sum("go_goroutines", nil)
	p, _ := ps.sum("wardops_collector_probes_total", map[string]string{"kind": "icmp"})
	return SoakSample{At: at, RSS: st["VmRSS"], Goroutines: g, FDs: fds, Probes: p}, nil
}

// judge compares the last sample with the baseline: the first sample taken at least one interval
// in (start-up allocations and the first round of sockets are not a leak), else the first.
func (r *SoakReport) judge(interval time.Duration) {
	if len(r.Samples) == 0 {
		r.Reasons = []string{"no samples"}
		return
	}
	base := r.Samples[0]
	for _, s := range r.Samples {
		if s.At >= interval {
			base = s
			break
		}
	}
	end := r.Samples[len(r.Samples)-1]
	if float64(end.RSS) > float64(base.RSS)*(1+soakRSSGrowth)+soakRSSSlack {
		r.Reasons = append(r.Reasons, fmt.Sprintf("RSS grew %d → %d MiB", base.RSS>>20, end.RSS>>20))
	}
	if end.Goroutines > base.Goroutines*(1+soakGoroutineGrowth)+soakGoroutineSlack {
		r.Reasons = append(r.Reasons, fmt.Sprintf("goroutines grew %.0f → %.0f", base.Goroutines, end.Goroutines))
	}
	if end.FDs > base.FDs+soakFDSlack {
		r.Reasons = append(r.Reasons, fmt.Sprintf("open fds grew %d → %d", base.FDs, end.FDs))
	}
	if base.At == end.At {
		r.Reasons = append(r.Reasons, "too short to judge: one sample after the warm-up interval")
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
	if r.Flat {
		fmt.Fprintf(w, "verdict: FLAT (RSS within +%.0f%%+%d MiB, goroutines within +%.0f%%+%d, fds within +%d of the baseline after one interval)\n",
			soakRSSGrowth*100, soakRSSSlack>>20, soakGoroutineGrowth*100, soakGoroutineSlack, soakFDSlack)
		return
	}
	fmt.Fprintf(w, "verdict: NOT FLAT: %s\n", strings.Join(r.Reasons, "; "))
}

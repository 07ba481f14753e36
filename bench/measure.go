package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// window measures one running pipeline over whole cycles after a warm-up.
type window struct {
	pids     []int                                      // processes whose CPU and RSS are the pipeline's
	side     map[string]int                             // processes measured but excluded (simulator, VictoriaMetrics)
	probes   func(ctx context.Context) (float64, error) // cumulative completed probes, or nil and counted
	counted  func(ctx context.Context, t0, end time.Time, grace time.Duration) (float64, []point, error)
	fresh    *freshness // nil: no probe→queryable figure
	hist     func(ctx context.Context) (map[string]float64, error)
	interval time.Duration
	warmup   time.Duration
	cycles   int
	perCycle int // probes one cycle should complete (the fleet size)
	log      *slog.Logger
}

// measurement is what a window saw.
type measurement struct {
	start    time.Time // the window's first and last instants
	end      time.Time
	probes   float64
	elapsed  time.Duration
	cpu      time.Duration
	side     map[string]time.Duration
	rss      uint64
	cycles   []time.Duration // time to complete each cycle's worth of probes
	complete int             // cycles that completed within the window
	lag      []float64       // p50, p99 of the scheduler lag histogram, when there is one
	fresh    []time.Duration
}

// run waits out the warm-up, then measures cycles intervals: CPU from /proc at both ends, probes
// from the pipeline's counter read every second (probes) or, for pipelines that cannot be relied
// on to answer while they starve the machine, counted afterwards in VictoriaMetrics (counted).
func (w *window) run(ctx context.Context) (*measurement, error) {
	w.log.Info("warming up", "for", w.warmup)
	if err := sleep(ctx, w.warmup); err != nil {
		return nil, err
	}
	read := func(ctx context.Context) (float64, error) {
		if w.probes == nil {
			return 0, nil
		}
		return w.probes(ctx)
	}
	p0, err := retry(ctx, read)
	if err != nil {
		return nil, err
	}
	c0, err := cpuOf(w.pids)
	if err != nil {
		return nil, err
	}
	s0 := map[string]time.Duration{}
	for n, p := range w.side {
		if s0[n], err = procCPU(p); err != nil {
			return nil, err
		}
	}
	var h0 map[string]float64
	if w.hist != nil {
		if h0, err = retry(ctx, w.hist); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()

	// The freshness poller runs beside the counter loop and is stopped before run returns.
	fctx, stopFresh := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if w.fresh != nil {
		wg.Add(1)
		go func() { defer wg.Done(); w.fresh.run(fctx) }()
	}
	defer func() { stopFresh(); wg.Wait() }()

	w.log.Info("measuring", "cycles", w.cycles, "for", time.Duration(w.cycles)*w.interval)
	end := t0.Add(time.Duration(w.cycles) * w.interval)
	var series []point
	for time.Now().Before(end) {
		if err := sleep(ctx, min(time.Second, time.Until(end))); err != nil {
			return nil, err
		}
		if w.probes == nil {
			continue
		}
		// A pipeline starving the machine may not answer in time: that second is skipped, only
		// the snapshots at both ends must succeed.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		p, err := w.probes(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			w.log.Debug("counter not read", "err", err)
			continue
		}
		series = append(series, point{time.Since(t0), p - p0})
	}
	m := &measurement{start: t0, end: end, elapsed: time.Since(t0), side: map[string]time.Duration{}}
	c1, err := cpuOf(w.pids)
	if err != nil {
		return nil, err
	}
	for n, p := range w.side {
		c, err := procCPU(p)
		if err != nil {
			return nil, err
		}
		m.side[n] = c - s0[n]
	}
	if m.rss, err = rssOf(w.pids); err != nil {
		return nil, err
	}
	m.cpu = c1 - c0
	p1, err := retry(ctx, read)
	if err != nil {
		return nil, err
	}
	if w.hist != nil {
		h1, err := retry(ctx, w.hist)
		if err != nil {
			return nil, err
		}
		m.lag, _ = vmQuantiles(h0, h1, 0.5, 0.99)
	}
	stopFresh()
	wg.Wait()
	if w.fresh != nil {
		m.fresh = w.fresh.observations()
	}

	// A pipeline running exactly at the fleet's rate reaches its last k×perCycle a moment after
	// the window's end (jitter, 1 s sampling), so the count is followed a little longer for the
	// cycle times only: cost figures stay those of the window.
	grace := time.Second + w.interval/10
	if w.counted != nil {
		if err := sleep(ctx, time.Until(end.Add(grace))); err != nil {
			return nil, err
		}
		if m.probes, series, err = w.counted(ctx, t0, end, grace); err != nil {
			return nil, err
		}
	} else {
		m.probes = p1 - p0
		series = append(series, point{m.elapsed, m.probes})
		until := time.Now().Add(grace)
		for float64(w.cycles*w.perCycle) > series[len(series)-1].n && time.Now().Before(until) {
			if err := sleep(ctx, time.Second); err != nil {
				return nil, err
			}
			if p, err := w.probes(ctx); err == nil {
				series = append(series, point{time.Since(t0), p - p0})
			}
		}
	}
	m.cycles, m.complete = cycleTimes(series, float64(w.perCycle), w.cycles)
	return m, nil
}

// vmCounted counts a pipeline's probes in VictoriaMetrics by their samples' own timestamps:
// rollup ("sum_over_time" of a 1/0 series such as vmagent's up counts successes,
// "count_over_time" counts every probe) over the window gives the total, a 1 s step range query
// the per-second series for cycle times. Samples still queued when it runs are not counted: they
// were not queryable.
func vmCounted(v *victoria, rollup, selector string) func(ctx context.Context, t0, end time.Time, grace time.Duration) (float64, []point, error) {
	return func(ctx context.Context, t0, end time.Time, grace time.Duration) (float64, []point, error) {
		win := end.Sub(t0).Round(time.Millisecond)
		res, err := v.queryAt(ctx, fmt.Sprintf(`sum(%s(%s[%dms]))`, rollup, selector, win.Milliseconds()), end)
		if err != nil {
			return 0, nil, err
		}
		var total float64
		if len(res) > 0 {
			total, _ = res[0].value()
		}
		pts, err := v.queryRange(ctx, fmt.Sprintf(`sum(%s(%s[1s]))`, rollup, selector), t0.Add(time.Second), end.Add(grace), time.Second)
		if err != nil {
			return 0, nil, err
		}
		var series []point
		var cum float64
		for _, p := range pts {
			cum += p.v
			series = append(series, point{p.t.Sub(t0), cum})
		}
		if len(series) > 0 {
			v.log.Debug("counted in victoria-metrics", "selector", selector, "total", total, "points", len(series), "cumulative", series[len(series)-1].n)
		}
		return total, series, nil
	}
}

// retry calls f up to three times: a /metrics page of a process starving for CPU can miss
// one 10 s deadline.
func retry[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	var v T
	var err error
	for range 3 {
		if v, err = f(ctx); err == nil || ctx.Err() != nil {
			return v, err
		}
	}
	return v, err
}

// point is the probe counter, relative to the window's start, at one moment.
type point struct {
	at time.Duration
	n  float64
}

// cycleTimes turns the counter series into the time each cycle's worth of probes (perCycle)
// took: the k-th cycle ends when the counter first reaches k×perCycle. A pipeline that keeps up
// completes every cycle in one interval; one that falls behind takes longer or never finishes.
func cycleTimes(series []point, perCycle float64, cycles int) ([]time.Duration, int) {
	var out []time.Duration
	var last time.Duration
	k := 1
	for _, p := range series {
		for k <= cycles && p.n >= float64(k)*perCycle {
			out = append(out, p.at-last)
			last = p.at
			k++
		}
	}
	return out, len(out)
}

// freshness tracks, for a sample of devices, the delay between a sample's own timestamp (the
// probe's start) and the moment a query first returns it. Polling every 250 ms adds up to
// 250 ms to each figure.
type freshness struct {
	v     *victoria
	expr  string // returns one series per device, keyed by label key, valued by the sample's time
	key   string
	every time.Duration
	log   *slog.Logger

	mu   sync.Mutex
	obs  []time.Duration
	errs int
}

// newFreshness builds the query for metric's series of the sampled devices, matched on label key.
func newFreshness(v *victoria, metric, selector, key string, devices []string, log *slog.Logger) *freshness {
	re := strings.Join(devices, "|")
	expr := fmt.Sprintf(`max by (%s) (tlast_over_time(%s{%s%s=~"%s"}[2m]))`, key, metric, selector, key, re)
	return &freshness{v: v, expr: expr, key: key, every: 250 * time.Millisecond, log: log}
}

func (f *freshness) run(ctx context.Context) {
	last := map[string]float64{}
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		res, err := f.v.query(ctx, f.expr)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.mu.Lock()
			f.errs++
			f.mu.Unlock()
		}
		for _, s := range res {
			ts, ok := s.value()
			if !ok {
				continue
			}
			dev := s.Metric[f.key]
			prev, seen := last[dev]
			last[dev] = ts
			// The first sighting only seeds: when that sample arrived is unknown.
			if seen && ts > prev {
				d := now.Sub(time.UnixMilli(int64(math.Round(ts * 1000))))
				f.mu.Lock()
				f.obs = append(f.obs, d)
				f.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *freshness) observations() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.obs...)
}

// note explains a missing or partial probe→queryable figure.
func (f *freshness) note() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case len(f.obs) == 0 && f.errs > 0:
		return []string{fmt.Sprintf("probe→queryable: no observation, %d failed queries (victoria-metrics overloaded?)", f.errs)}
	case len(f.obs) == 0:
		return []string{"probe→queryable: no observation: no sampled series got a new sample during the window"}
	case f.errs > 0:
		return []string{fmt.Sprintf("probe→queryable: %d queries failed", f.errs)}
	}
	return nil
}

// quantile returns the q-quantile (nearest rank) of ds, or -1 when ds is empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

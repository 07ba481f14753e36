package collector

import (
	"io"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
)

// Probe kinds: the kind label of the probe metrics.
const (
	kindICMP = "icmp"
	kindSNMP = "snmp"
)

// kindMetrics are one probe kind's counters, all created at zero.
type kindMetrics struct {
	probes   *metrics.Counter             // probes run
	failures *metrics.Counter             // probes whose device did not answer (ICMP loss 1, SNMP poll error)
	errors   *metrics.Counter             // probes that failed on our side (socket, engine)
	skipped  *metrics.Counter             // rounds skipped because the previous probe still ran
	duration *metrics.PrometheusHistogram // probe wall time
	lag      *metrics.PrometheusHistogram // actual start - planned start
	targets  *metrics.Gauge
}

// LagBuckets are the scheduler-lag histogram's upper bounds: a healthy start is well under a
// millisecond, so the default buckets (from 5 ms) would put every probe in the first; 1 s is a
// bound of its own because a probe a second late is the one worth counting.
var LagBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// schedMetrics are the scheduler's self-metrics on an injected set (the ping writer's are in
// pingwriter.go).
type schedMetrics struct {
	kinds          map[string]*kindMetrics
	confirmations  *metrics.Counter
	reloads        *metrics.Counter
	reloadErrors   *metrics.Counter
	reloadsSkipped *metrics.Counter
	samples        *metrics.Counter
	refused        *metrics.Counter // devices skipped by the probe target policy, per reload
}

func newSchedMetrics(set *metrics.Set, targets func(kind string) int) *schedMetrics {
	m := &schedMetrics{
		kinds:          map[string]*kindMetrics{},
		confirmations:  set.NewCounter(`wardops_collector_icmp_confirmations_total`),
		reloads:        set.NewCounter(`wardops_collector_inventory_reloads_total`),
		reloadErrors:   set.NewCounter(`wardops_collector_inventory_reload_errors_total`),
		reloadsSkipped: set.NewCounter(`wardops_collector_inventory_reloads_skipped_total`),
		refused:        set.NewCounter(`wardops_collector_targets_refused_total`),
		samples:        set.NewCounter(`wardops_collector_samples_total`),
	}
	for _, k := range []string{kindICMP, kindSNMP} {
		k := k
		l := `{kind="` + k + `"}`
		m.kinds[k] = &kindMetrics{
			probes:   set.NewCounter(`wardops_collector_probes_total` + l),
			failures: set.NewCounter(`wardops_collector_probe_failures_total` + l),
			errors:   set.NewCounter(`wardops_collector_probe_errors_total` + l),
			skipped:  set.NewCounter(`wardops_collector_probes_skipped_total` + l),
			duration: set.NewPrometheusHistogram(`wardops_collector_probe_duration_seconds` + l),
			lag:      set.NewPrometheusHistogramExt(`wardops_collector_scheduler_lag_seconds`+l, LagBuckets),
			targets:  set.NewGauge(`wardops_collector_targets`+l, func() float64 { return float64(targets(k)) }),
		}
	}
	return m
}

// registerEngineStats exports an engine's own accuracy counters when it keeps them (the shared
// engine does; pro-bing offers no hook): replies that came too late or were dropped by a full
// receive buffer mean reported loss may not be real loss.
func registerEngineStats(set *metrics.Set, e icmp.Engine) {
	se, ok := e.(interface{ Stats() icmp.SharedStats })
	if !ok {
		return
	}
	counters := []struct {
		name string
		f    func(icmp.SharedStats) uint64
	}{
		{"wardops_collector_icmp_echoes_sent_total", func(s icmp.SharedStats) uint64 { return s.Sent }},
		{"wardops_collector_icmp_kernel_timestamped_total", func(s icmp.SharedStats) uint64 { return s.KernelTimed }},
		{"wardops_collector_icmp_late_replies_total", func(s icmp.SharedStats) uint64 { return s.Late }},
		{"wardops_collector_icmp_rcvbuf_drops_total", func(s icmp.SharedStats) uint64 { return s.RcvbufDrops }},
		{"wardops_collector_icmp_read_errors_total", func(s icmp.SharedStats) uint64 { return s.ReadErrors }},
		{"wardops_collector_icmp_replies_total", func(s icmp.SharedStats) uint64 { return s.Received }},
		{"wardops_collector_icmp_send_errors_total", func(s icmp.SharedStats) uint64 { return s.SendErrors }},
	}
	// The engine owns these counts; a writer reads them at scrape time and types them as counters
	// (a Gauge would be exposed as "gauge", which rate() and promtool both object to).
	set.RegisterMetricsWriter(func(w io.Writer) {
		st := se.Stats()
		for _, c := range counters {
			metrics.WriteCounterUint64(w, c.name, c.f(st))
		}
	})
}

package alerting

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/wardops/wardops/model"
)

// metrics are the alerter's own series. client_golang, like the query service: the alerter has a
// few dozen series, labelled by Alertmanager and stage, and histograms with chosen buckets, and
// the registry is injected; the collector's VictoriaMetrics/metrics set suits its hot per-probe
// path, which the alerter does not have.
type metrics struct {
	leader        prometheus.Gauge
	alerts        *prometheus.GaugeVec // by state and rule
	evalDuration  *prometheus.HistogramVec
	evalErrors    *prometheus.CounterVec
	pgQueries     prometheus.Counter
	vmQueries     *prometheus.CounterVec
	sent          *prometheus.CounterVec // by receiver
	failed        *prometheus.CounterVec
	queued        *prometheus.GaugeVec
	stage         *prometheus.HistogramVec
	probesRead    prometheus.Counter
	leaderChanges prometheus.Counter
}

var alertStates = []string{"firing", "pending", model.HoldSuppressed, model.HoldMaintenance, model.HoldFlapping,
	model.HoldUnsettled, model.HoldBlind}

// Stages of the path from a failed probe to Alertmanager.
const (
	stageProbeToOpen    = "probe_to_open"    // first failed probe → alert opened here
	stageOpenToAccepted = "open_to_accepted" // opened → Alertmanager answered 2xx
	stageProbeToAccept  = "probe_to_accepted"
)

func newMetrics(reg prometheus.Registerer, receivers []string) *metrics {
	f := promauto.With(reg)
	buckets := []float64{0.5, 1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300}
	m := &metrics{
		leader: f.NewGauge(prometheus.GaugeOpts{Name: "wardops_alerting_leader", Help: "1 while this process is the alerting leader"}),
		alerts: f.NewGaugeVec(prometheus.GaugeOpts{Name: "wardops_alerting_alerts",
			Help: "Open alerts by state (firing: notified; pending: the rule's for has not elapsed; else the reason they are held) and rule"},
			[]string{"state", "rule"}),
		evalDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "wardops_alerting_evaluation_duration_seconds",
			Help: "Wall time of one evaluation", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"loop"}),
		evalErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "wardops_alerting_evaluation_errors_total",
			Help: "Evaluations or rules that failed"}, []string{"loop"}),
		pgQueries: f.NewCounter(prometheus.CounterOpts{Name: "wardops_alerting_pg_queries_total", Help: "PostgreSQL round trips of the evaluator"}),
		vmQueries: f.NewCounterVec(prometheus.CounterOpts{Name: "wardops_alerting_vm_queries_total", Help: "VictoriaMetrics queries by result"}, []string{"result"}),
		sent: f.NewCounterVec(prometheus.CounterOpts{Name: "wardops_alerting_notifications_sent_total",
			Help: "Notifications accepted by each Alertmanager"}, []string{"alertmanager"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{Name: "wardops_alerting_notifications_failed_total",
			Help: "Notifications an Alertmanager did not accept (they stay queued)"}, []string{"alertmanager"}),
		queued: f.NewGaugeVec(prometheus.GaugeOpts{Name: "wardops_alerting_notifications_queued",
			Help: "Notifications waiting in the outbox for each Alertmanager"}, []string{"alertmanager"}),
		stage: f.NewHistogramVec(prometheus.HistogramOpts{Name: "wardops_alerting_stage_latency_seconds",
			Help: "Latency of each stage from a failed probe to Alertmanager", Buckets: buckets}, []string{"stage"}),
		probesRead:    f.NewCounter(prometheus.CounterOpts{Name: "wardops_alerting_probes_read_total", Help: "ping_results rows read by down detection"}),
		leaderChanges: f.NewCounter(prometheus.CounterOpts{Name: "wardops_alerting_leadership_acquired_total", Help: "Times this process became leader"}),
	}
	for _, l := range []string{"down", "rules"} {
		m.evalErrors.WithLabelValues(l)
	}
	for _, r := range []string{"ok", "no_data", "error"} {
		m.vmQueries.WithLabelValues(r)
	}
	for _, r := range receivers {
		m.sent.WithLabelValues(r)
		m.failed.WithLabelValues(r)
		m.queued.WithLabelValues(r)
	}
	for _, s := range []string{stageProbeToOpen, stageOpenToAccepted, stageProbeToAccept} {
		m.stage.WithLabelValues(s)
	}
	return m
}

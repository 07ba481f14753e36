package query

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the query service's own: built once per Server from the injected registry.
type metrics struct {
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	backendDuration *prometheus.HistogramVec
	backendErrors   *prometheus.CounterVec
	cache           *prometheus.CounterVec
	rateLimited     prometheus.Counter

	cacheHit, cacheMiss   prometheus.Counter
	routes                sync.Map // routeKey -> *routeMetrics, so a request costs no label hashing
	snapshotBuilds        *prometheus.CounterVec
	snapshotBuildErrors   prometheus.Counter
	snapshotBuildDuration prometheus.Histogram
	probeRows             prometheus.Counter
	outagesPlaced         prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	f := promauto.With(r)
	m := &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "wardops_query_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		requestDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wardops_query_http_request_duration_seconds", Help: "HTTP request latency by route, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		backendDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wardops_query_backend_duration_seconds", Help: "Backend query latency by backend and operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"backend", "op"}),
		backendErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "wardops_query_backend_errors_total", Help: "Failed backend queries by backend and operation.",
		}, []string{"backend", "op"}),
		cache: f.NewCounterVec(prometheus.CounterOpts{
			Name: "wardops_query_cache_requests_total", Help: "Fleet snapshot lookups: hit (a servable snapshot was there) or miss (the request waited for a build).",
		}, []string{"result"}),
		snapshotBuilds: f.NewCounterVec(prometheus.CounterOpts{
			Name: "wardops_query_snapshot_builds_total", Help: "Fleet snapshot builds by trigger: wait (a reader found no servable snapshot) or ahead (a reader found one about to expire).",
		}, []string{"trigger"}),
		snapshotBuildErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "wardops_query_snapshot_build_errors_total", Help: "Fleet snapshot builds that produced no snapshot (no inventory could be read).",
		}),
		snapshotBuildDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "wardops_query_snapshot_build_duration_seconds", Help: "Time of one fleet snapshot build; a snapshot's age stays below the cache TTL plus this.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		probeRows: f.NewCounter(prometheus.CounterOpts{
			Name: "wardops_query_probe_rows_read_total", Help: "ping_results rows read by snapshot builds: each build reads the rows that landed since the last one, and the first (and the first after a gap) every device's newest.",
		}),
		outagesPlaced: f.NewCounter(prometheus.CounterOpts{
			Name: "wardops_query_outages_placed_total", Help: "Down devices first seen failing whose outage start a build then read from ping_results.",
		}),
		rateLimited: f.NewCounter(prometheus.CounterOpts{
			Name: "wardops_query_rate_limited_total", Help: "Requests answered 429 by the per-client rate limit.",
		}),
	}
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	for _, t := range []string{"wait", "ahead"} {
		m.snapshotBuilds.WithLabelValues(t)
	}
	for _, b := range [][2]string{{"victoriametrics", "query"}, {"victoriametrics", "query_range"}, {"postgres", "inventory"},
		{"postgres", "alerts"}, {"postgres", "down_since"}, {"postgres", "probes"}} {
		m.backendErrors.WithLabelValues(b[0], b[1])
	}
	return m
}

// backend times one backend call: defer m.backend("postgres", "alerts")().
func (m *metrics) backend(backend, op string) func() {
	start := time.Now()
	return func() { m.backendDuration.WithLabelValues(backend, op).Observe(time.Since(start).Seconds()) }
}

func (m *metrics) backendError(backend, op string) {
	m.backendErrors.WithLabelValues(backend, op).Inc()
}

type routeKey struct {
	route, method string
	code          int
}

type routeMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) request(route, method string, code int, d time.Duration) {
	m.series(route, method, code).observe(d)
}

// series returns the request counter and histogram of one route, method and code, looked up in
// the vectors only the first time.
func (m *metrics) series(route, method string, code int) *routeMetrics {
	k := routeKey{route, method, code}
	v, ok := m.routes.Load(k)
	if !ok {
		c := strconv.Itoa(code)
		v, _ = m.routes.LoadOrStore(k, &routeMetrics{requests: m.requests.WithLabelValues(route, method, c),
			duration: m.requestDuration.WithLabelValues(route, method, c)})
	}
	return v.(*routeMetrics)
}

func (rm *routeMetrics) observe(d time.Duration) {
	rm.requests.Inc()
	rm.duration.Observe(d.Seconds())
}

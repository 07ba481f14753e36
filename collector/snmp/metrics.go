package snmp

import (
	"github.com/VictoriaMetrics/metrics"
)

// selfMetrics are the poller's own metrics in the collector's registry (served at /metrics).
// Every known label value is created up front so rates start at zero.
type selfMetrics struct {
	errors        map[string]*metrics.Counter
	pollsOK       *metrics.Counter
	pollsFailed   *metrics.Counter
	duration      *metrics.PrometheusHistogram
	requests      map[string]*metrics.Counter
	labelWalks    *metrics.Counter
	reboots       *metrics.Counter
	bulkFallbacks *metrics.Counter
	tooBig        *metrics.Counter
}

func newSelfMetrics(s *metrics.Set) *selfMetrics {
	m := &selfMetrics{
		errors:        map[string]*metrics.Counter{},
		requests:      map[string]*metrics.Counter{},
		pollsOK:       s.GetOrCreateCounter(`wardops_collector_snmp_polls_total{result="ok"}`),
		pollsFailed:   s.GetOrCreateCounter(`wardops_collector_snmp_polls_total{result="failed"}`),
		duration:      s.GetOrCreatePrometheusHistogram(`wardops_collector_snmp_poll_duration_seconds`),
		labelWalks:    s.GetOrCreateCounter(`wardops_collector_snmp_label_refreshes_total`),
		reboots:       s.GetOrCreateCounter(`wardops_collector_snmp_reboots_detected_total`),
		bulkFallbacks: s.GetOrCreateCounter(`wardops_collector_snmp_bulk_fallbacks_total`),
		tooBig:        s.GetOrCreateCounter(`wardops_collector_snmp_toobig_retries_total`),
	}
	for _, r := range reasons {
		m.errors[r] = s.GetOrCreateCounter(`wardops_collector_snmp_errors_total{reason="` + r + `"}`)
	}
	for _, t := range []string{"get", "getnext", "getbulk"} {
		m.requests[t] = s.GetOrCreateCounter(`wardops_collector_snmp_requests_total{type="` + t + `"}`)
	}
	return m
}

package main

import (
	"fmt"
	"runtime"

	vmmetrics "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// buildInfoName is exported by both /metrics endpoints, so a dashboard can show which version
// runs where and an upgrade shows up as a label change.
const buildInfoName = "wardops_build_info"

const buildInfoHelp = "Always 1; the labels carry the wardops version and the Go version it was built with."

// registerBuildInfo adds wardops_build_info to the collector's set.
func registerBuildInfo(set *vmmetrics.Set) {
	set.NewGauge(fmt.Sprintf(`%s{version=%q,goversion=%q}`, buildInfoName, version, runtime.Version()), func() float64 { return 1 })
}

// buildInfoCollector is wardops_build_info for the query service's registry.
func buildInfoCollector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: buildInfoName, Help: buildInfoHelp,
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	g.Set(1)
	return g
}

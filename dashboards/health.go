package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// selfDashboard is a health dashboard of one wardops component scraped as job: an instance
// variable, the version, and its process's CPU, memory and goroutines at the bottom.
func selfDashboard(uid, title, description, job string, panels func(sel string, d *dashboard.DashboardBuilder) *dashboard.DashboardBuilder, y uint32) *dashboard.DashboardBuilder {
	sel := `job="` + job + `", instance=~"$instance"`
	d := base(uid, title, description).
		WithVariable(labelVar("instance", "Instance", `wardops_build_info{job="`+job+`"}`, "instance", true)).
		WithPanel(stat.NewPanelBuilder().Title("Version").Description("wardops_build_info of each instance.").
			GridPos(pos(0, 0, 24, 3)).Datasource(ds).
			WithTarget(instantQ(`wardops_build_info{` + sel + `}`).LegendFormat("{{instance}} {{version}} ({{goversion}})").Format("time_series")).
			TextMode(common.BigValueTextModeName).GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeNone))
	d = panels(sel, d)
	return d.
		WithPanel(timeseries.NewPanelBuilder().Title("CPU").Description("CPU seconds per second of the process.").
			GridPos(pos(0, y, 8, 7)).Datasource(ds).
			WithTarget(rangeQ(`rate(process_cpu_seconds_total{`+sel+`}[$__rate_interval])`, "{{instance}}")).Unit("percentunit").Min(0)).
		WithPanel(timeseries.NewPanelBuilder().Title("Resident memory").GridPos(pos(8, y, 8, 7)).Datasource(ds).
			WithTarget(rangeQ(`process_resident_memory_bytes{`+sel+`}`, "{{instance}}")).Unit("bytes").Min(0)).
		WithPanel(timeseries.NewPanelBuilder().Title("Goroutines").GridPos(pos(16, y, 8, 7)).Datasource(ds).
			WithTarget(rangeQ(`go_goroutines{`+sel+`}`, "{{instance}}")).Unit("none").Min(0))
}

// quantiles are p50 and p99 of a Prometheus histogram, by the given labels.
func quantiles(p *timeseries.PanelBuilder, bucket, sel, by, legend string) *timeseries.PanelBuilder {
	for _, q := range []string{"0.5", "0.99"} {
		p = p.WithTarget(rangeQ(`histogram_quantile(`+q+`, sum by (le`+by+`) (rate(`+bucket+`{`+sel+`}[$__rate_interval])))`, legend+" p"+q[2:]))
	}
	return p
}

func ts(title, description, unit string, p dashboard.GridPos) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Description(description).GridPos(p).Datasource(ds).Unit(unit).Min(0)
}

func collectorHealth() *dashboard.DashboardBuilder {
	return selfDashboard(UIDCollector, "wardops / Collector", "The collector's own metrics, scraped by vmagent as job "+JobCollector+".", JobCollector,
		func(sel string, d *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
			return d.
				WithPanel(ts("Probes", "Probes per second by kind, and those whose device did not answer.", "ops", pos(0, 3, 12, 8)).
					WithTarget(rangeQ(`sum by (kind) (rate(wardops_collector_probes_total{`+sel+`}[$__rate_interval]))`, "{{kind}}")).
					WithTarget(rangeQ(`sum by (kind) (rate(wardops_collector_probe_failures_total{`+sel+`}[$__rate_interval]))`, "{{kind}} unanswered"))).
				WithPanel(ts("Targets", "Devices scheduled, by kind.", "none", pos(12, 3, 12, 8)).
					WithTarget(rangeQ(`sum by (kind) (wardops_collector_targets{`+sel+`})`, "{{kind}}"))).
				WithPanel(quantiles(ts("Scheduler lag", "How late probes start after their slot (p50, p99): the collector keeping up.", "s", pos(0, 11, 12, 8)),
					"wardops_collector_scheduler_lag_seconds_bucket", sel, ", kind", "{{kind}}")).
				WithPanel(quantiles(ts("Probe duration", "Wall time of one probe (p50, p99).", "s", pos(12, 11, 12, 8)),
					"wardops_collector_probe_duration_seconds_bucket", sel, ", kind", "{{kind}}")).
				WithPanel(ts("Push", "Bytes per second VictoriaMetrics and PostgreSQL accepted, and push errors.", "Bps", pos(0, 19, 12, 8)).
					WithTarget(rangeQ(`sum(rate(wardops_collector_push_sent_bytes_total{`+sel+`}[$__rate_interval]))`, "VictoriaMetrics")).
					WithTarget(rangeQ(`sum by (kind) (rate(wardops_collector_push_errors_total{`+sel+`}[$__rate_interval]))`, "errors ({{kind}})"))).
				WithPanel(quantiles(ts("Write latency", "Time to push a block to VictoriaMetrics and to write one to ping_results (p50, p99).", "s", pos(12, 19, 12, 8)),
					"wardops_collector_push_duration_seconds_bucket", sel, "", "VictoriaMetrics").
					WithTarget(rangeQ(`histogram_quantile(0.99, sum by (le) (rate(wardops_collector_ping_results_write_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "ping_results p99"))).
				WithPanel(ts("Queued and spooled", "Bytes waiting for VictoriaMetrics and PostgreSQL, and the spools' size on disk.", "bytes", pos(0, 27, 12, 8)).
					WithTarget(rangeQ(`sum(wardops_collector_push_queue_bytes{`+sel+`})`, "VictoriaMetrics queue")).
					WithTarget(rangeQ(`sum(wardops_collector_ping_results_queue_bytes{`+sel+`})`, "ping_results queue")).
					WithTarget(rangeQ(`sum by (spool) (wardops_spool_disk_bytes{`+sel+`})`, "spool {{spool}} on disk"))).
				WithPanel(ts("Dropped", "Blocks dropped for good, by reason: data lost.", "none", pos(12, 27, 12, 8)).
					WithTarget(rangeQ(`sum by (reason) (increase(wardops_collector_push_dropped_blocks_total{`+sel+`}[$__rate_interval]))`, "VictoriaMetrics {{reason}}")).
					WithTarget(rangeQ(`sum by (reason) (increase(wardops_spool_dropped_blocks_total{`+sel+`}[$__rate_interval]))`, "spool {{reason}}"))).
				WithPanel(quantiles(ts("SNMP poll duration", "Wall time of one device's SNMP poll (p50, p99).", "s", pos(0, 35, 12, 8)),
					"wardops_collector_snmp_poll_duration_seconds_bucket", sel, "", "poll")).
				WithPanel(ts("SNMP errors", "SNMP poll errors per second, by reason.", "ops", pos(12, 35, 12, 8)).
					WithTarget(rangeQ(`sum by (reason) (rate(wardops_collector_snmp_errors_total{`+sel+`}[$__rate_interval]))`, "{{reason}}"))).
				WithPanel(stat.NewPanelBuilder().Title("Next retention run").Description("When the daily ping_results and alert_history cleanup runs next.").
					GridPos(pos(0, 43, 8, 4)).Datasource(ds).
					WithTarget(instantQ(`max(wardops_retention_next_run_timestamp_seconds{` + sel + `}) * 1000`)).Unit("dateTimeAsIso").
					GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeNone)).
				WithPanel(ts("Retention", "Rows and partitions the retention job removed, and how long its last run took.", "none", pos(8, 43, 16, 4)).
					WithTarget(rangeQ(`sum by (table) (increase(wardops_retention_deleted_rows_total{`+sel+`}[$__rate_interval]))`, "{{table}} rows")).
					WithTarget(rangeQ(`sum(increase(wardops_retention_dropped_partitions_total{`+sel+`}[$__rate_interval]))`, "partitions")).
					WithTarget(rangeQ(`max(wardops_retention_last_duration_seconds{`+sel+`})`, "last run (s)")))
		}, 47)
}

func queryHealth() *dashboard.DashboardBuilder {
	return selfDashboard(UIDQuery, "wardops / Query service", "The query service's own metrics, scraped by vmagent as job "+JobQuery+".", JobQuery,
		func(sel string, d *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
			return d.
				WithPanel(ts("Requests", "HTTP requests per second by route and status code.", "reqps", pos(0, 3, 12, 8)).
					WithTarget(rangeQ(`sum by (route, code) (rate(wardops_query_http_requests_total{`+sel+`}[$__rate_interval]))`, "{{route}} {{code}}"))).
				WithPanel(quantiles(ts("Request latency", "HTTP request latency by route (p50, p99).", "s", pos(12, 3, 12, 8)),
					"wardops_query_http_request_duration_seconds_bucket", sel, ", route", "{{route}}")).
				WithPanel(quantiles(ts("Backend latency", "PostgreSQL and VictoriaMetrics query latency by operation (p50, p99).", "s", pos(0, 11, 12, 8)),
					"wardops_query_backend_duration_seconds_bucket", sel, ", backend, op", "{{backend}} {{op}}")).
				WithPanel(ts("Backend errors and rate limiting", "Failed backend queries and requests answered 429, per second.", "ops", pos(12, 11, 12, 8)).
					WithTarget(rangeQ(`sum by (backend, op) (rate(wardops_query_backend_errors_total{`+sel+`}[$__rate_interval]))`, "{{backend}} {{op}}")).
					WithTarget(rangeQ(`sum(rate(wardops_query_rate_limited_total{`+sel+`}[$__rate_interval]))`, "429"))).
				WithPanel(ts("Snapshot cache", "Fleet snapshot lookups per second: hit, stale or miss.", "ops", pos(0, 19, 24, 7)).
					WithTarget(rangeQ(`sum by (result) (rate(wardops_query_cache_requests_total{`+sel+`}[$__rate_interval]))`, "{{result}}")))
		}, 26)
}

func alerts() *dashboard.DashboardBuilder {
	return selfDashboard(UIDAlerts, "wardops / Alerts", "The alerter's own metrics, scraped by vmagent as job "+JobAlerter+
		": open alerts by state, notifications to Alertmanager and the latency from a failed probe to Alertmanager.", JobAlerter,
		func(sel string, d *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
			return d.
				WithPanel(ts("Open alerts", "Open alerts by state: firing (notified), pending, or the reason they are held (suppressed, maintenance, flapping).", "none", pos(0, 3, 12, 8)).
					WithTarget(rangeQ(`sum by (state) (wardops_alerting_alerts{`+sel+`})`, "{{state}}"))).
				WithPanel(ts("Leader", "1 on the alerter that evaluates; the others stand by.", "none", pos(12, 3, 12, 8)).
					WithTarget(rangeQ(`wardops_alerting_leader{`+sel+`}`, "{{instance}}"))).
				WithPanel(ts("Notifications", "Notifications Alertmanager accepted and refused per second, and those waiting in the outbox.", "none", pos(0, 11, 12, 8)).
					WithTarget(rangeQ(`sum by (alertmanager) (rate(wardops_alerting_notifications_sent_total{`+sel+`}[$__rate_interval]))`, "sent {{alertmanager}}")).
					WithTarget(rangeQ(`sum by (alertmanager) (rate(wardops_alerting_notifications_failed_total{`+sel+`}[$__rate_interval]))`, "failed {{alertmanager}}")).
					WithTarget(rangeQ(`sum by (alertmanager) (wardops_alerting_notifications_queued{`+sel+`})`, "queued {{alertmanager}}"))).
				WithPanel(quantiles(ts("Evaluation duration", "Wall time of one evaluation (p50, p99), by loop.", "s", pos(12, 11, 12, 8)),
					"wardops_alerting_evaluation_duration_seconds_bucket", sel, ", loop", "{{loop}}")).
				WithPanel(quantiles(ts("Notification latency", "Latency of each stage from a failed probe to Alertmanager (p50, p99).", "s", pos(0, 19, 24, 8)),
					"wardops_alerting_stage_latency_seconds_bucket", sel, ", stage", "{{stage}}"))
		}, 27)
}

package dashboards

// Scrape job names of wardops' own /metrics endpoints. The shipped vmagent config
// (deploy/vmagent/scrape.yml) uses them and the collector and query-service dashboards filter
// process metrics by them, so the three must agree; a test checks the config.
const (
	JobCollector = "wardops-collector"
	JobQuery     = "wardops-query"
	JobAlerter   = "wardops-alerter"
)

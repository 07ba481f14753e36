package model

// Names of the series the collector writes to VictoriaMetrics: a stable interface that the query
// service, the dashboards and alert rules read, so they are spelled here once. A name changes
// only with a deprecation note in the README.
const (
	MetricPingUp        = "wardops_ping_up"                 // 1 if any echo was answered
	MetricPingLoss      = "wardops_ping_loss_ratio"         // lost / sent, 0..1
	MetricPingRTT       = "wardops_ping_rtt_seconds"        // mean RTT of the answered echoes
	MetricPingRTTMin    = "wardops_ping_rtt_min_seconds"    // fastest echo
	MetricPingRTTMax    = "wardops_ping_rtt_max_seconds"    // slowest echo
	MetricPingRTTStdDev = "wardops_ping_rtt_stddev_seconds" // population standard deviation

	// MetricSNMPPrefix starts every SNMP item's series: wardops_snmp_<item>.
	MetricSNMPPrefix         = "wardops_snmp_"
	MetricSNMPUp             = "wardops_snmp_up"
	MetricSNMPPollDuration   = "wardops_snmp_poll_duration_seconds"
	MetricSNMPLastReboot     = "wardops_snmp_last_reboot_timestamp_seconds"
	MetricSNMPRebootDetected = "wardops_snmp_reboot_detected"
	MetricSNMPErrors         = "wardops_snmp_errors_total"
	MetricSNMPTableRows      = "wardops_snmp_table_rows" // rows each table of a profile returned

	// The IF-MIB columns the SNMP alert rules judge (profile if-mib).
	MetricIfOperStatus  = "wardops_snmp_ifOperStatus"
	MetricIfAdminStatus = "wardops_snmp_ifAdminStatus"
	MetricIfInErrors    = "wardops_snmp_ifInErrors"
	MetricIfOutErrors   = "wardops_snmp_ifOutErrors"
)

// PingMetrics are the ICMP series, in the order the collector writes them.
var PingMetrics = []string{MetricPingUp, MetricPingLoss, MetricPingRTT, MetricPingRTTMin, MetricPingRTTMax, MetricPingRTTStdDev}

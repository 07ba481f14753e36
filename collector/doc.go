// Package collector probes the fleet and ships what it measures: a scheduler spreads every enabled
// device's ICMP probe (and SNMP polls) across its interval by a stable hash (ICMP probes due in the
// same short window of the wall clock start together, about 64 at a time, so a small fleet costs a
// few wakeups per second instead of one per echo), a bounded pool of
// workers runs them through an icmp.Engine and an SNMPPoller, samples go to VictoriaMetrics stamped
// with the probe's own time (package push), and one ping_results row per probe goes to PostgreSQL.
//
// # Series written to VictoriaMetrics
//
// Metric names and labels are a stable interface: dashboards and alert rules depend on them.
//
//	| Metric                          | Type  | Meaning                                                |
//	|---------------------------------|-------|--------------------------------------------------------|
//	| wardops_ping_up                 | gauge | 1 if any echo of the probe was answered, else 0        |
//	| wardops_ping_loss_ratio         | gauge | lost echoes / sent echoes, 0..1                         |
//	| wardops_ping_rtt_seconds        | gauge | mean round-trip time of the answered echoes            |
//	| wardops_ping_rtt_min_seconds    | gauge | fastest answered echo                                  |
//	| wardops_ping_rtt_max_seconds    | gauge | slowest answered echo                                  |
//	| wardops_ping_rtt_stddev_seconds | gauge | population standard deviation of the answered echoes   |
//	| wardops_snmp_<item>             | any   | one SNMP item, raw (counters unconverted: use rate())  |
//
// Every series carries device_id, device, ip, branch, region and vendor; SNMP table series add their
// index and label columns (ifName...). RTT series are absent, not zero, for a probe with no reply.
// A probe that loses every echo is confirmed by a short burst before it is reported down, unless
// the device was already down. Timestamps are the time the probe's first echo left, in
// milliseconds, never the push time.
//
// # Self-metrics (served at WARDOPS_COLLECTOR_LISTEN /metrics)
//
//	wardops_collector_probes_total{kind}               probes run, kind icmp or snmp
//	wardops_collector_probe_failures_total{kind}       device did not answer (loss 1, poll error)
//	wardops_collector_probe_errors_total{kind}         the probe failed on our side (socket, send)
//	wardops_collector_probes_skipped_total{kind}       rounds skipped: the previous probe still ran
//	wardops_collector_probe_duration_seconds{kind}     probe wall time
//	wardops_collector_scheduler_lag_seconds{kind}      actual start - planned start (its window's opening for batched ICMP probes)
//	wardops_collector_targets{kind}                    scheduled targets
//	wardops_collector_icmp_confirmations_total         confirmation bursts sent
//	wardops_collector_icmp_{echoes_sent,replies,late_replies,send_errors,read_errors,
//	  rcvbuf_drops,kernel_timestamped}_total            the shared engine's accuracy counters
//	wardops_collector_inventory_reloads_total          and _reload_errors_total
//	wardops_collector_push_*                           VictoriaMetrics queue, latency, retries, drops
//	wardops_collector_ping_results_*                   rows, blocks written, retries, write errors,
//	                                                   dropped blocks by reason, queue blocks/bytes
//	wardops_spool_{blocks,bytes,disk_bytes}{spool}     on-disk spools (vm, ping_results)
//	wardops_spool_dropped_{blocks,bytes}_total{spool,reason}  cap, corrupt, too_large, disk_error
package collector

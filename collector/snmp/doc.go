// Package snmp polls devices over SNMP v1, v2c and v3 (USM authNoPriv/authPriv) with gosnmp and
// turns monitoring items into samples. The scheduler calls Poller.Poll once per device and
// interval; each Poll opens one UDP session to the device, is bounded by its own timeouts, and
// closes the session when it returns, so a dead device costs only its own poll.
//
// One poll is: a GET of every scalar item plus sysUpTime.0 (up to MaxOids per PDU), then one
// multi-column walk of every table column: GETBULK with one varbind per column, sized from the
// rows seen last time, so a cached if-mib poll is two requests (v3 adds engine discovery).
// SNMPv1, and agents whose GETBULK fails right after a successful GET, are walked with GETNEXT.
// Label columns (ifName, ifAlias, ifDescr, hrStorageDescr) are cached per device and walked
// again after a reboot, every LabelRefresh (30 min), or within a minute when a row had none.
//
// # Samples (the stable interface; the scheduler adds device_id, device, ip, branch, region, vendor)
//
//	wardops_snmp_<item>{index, <label columns>}  counter or gauge item, raw value (counters are
//	                                             not differentiated: use rate(); sysUpTime is in
//	                                             hundredths of a second, as on the wire)
//	wardops_snmp_<item>_info{value, [index...]} 1 for an info item; its text in label value
//	wardops_snmp_up                             1 if every request of the poll succeeded, else 0
//	wardops_snmp_poll_duration_seconds          wall time of the poll
//	wardops_snmp_last_reboot_timestamp_seconds  Unix time the device booted (poll time − sysUpTime),
//	                                            fixed until the next detected reboot, so a step
//	                                            marks a reboot and not a counter wrap
//	wardops_snmp_reboot_detected                1 on the poll that saw sysUpTime go back (a TimeTicks
//	                                            wrap after 497 days is not a reboot), else 0
//	wardops_snmp_errors_total{reason}           failures of this device since the collector started
//
// All samples of a poll carry the poll's start time in Unix milliseconds. A failed poll still
// returns up 0, the duration and the error counts.
//
// # Self-metrics (in the collector's metrics.Set, served at /metrics)
//
//	wardops_collector_snmp_errors_total{reason}   timeout, refused, auth, no_such_object,
//	                                              no_such_instance, error_status, bad_value,
//	                                              config, canceled, other
//	wardops_collector_snmp_polls_total{result}    ok, failed
//	wardops_collector_snmp_poll_duration_seconds  histogram
//	wardops_collector_snmp_requests_total{type}   get, getnext, getbulk
//	wardops_collector_snmp_label_refreshes_total  label-column walks
//	wardops_collector_snmp_reboots_detected_total
//	wardops_collector_snmp_bulk_fallbacks_total   devices switched from GETBULK to GETNEXT
//
// Communities and v3 passphrases never reach a log line or an error: gosnmp's own debug logger,
// which prints communities, is never installed.
//
// Cost, measured by BenchmarkPoll (simulator in a separate process, 300 devices, system + if-mib,
// 8 interfaces, labels cached): about 0.35 CPU-seconds per 1,000 v2c polls and 0.42 per 1,000 v3
// authPriv polls on this 2-core machine.
package snmp

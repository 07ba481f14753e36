// Package snmp polls devices over SNMP v1, v2c and v3 (USM authNoPriv/authPriv) with gosnmp and
// turns monitoring items into samples. The scheduler calls Poller.Poll once per device and
// interval; each Poll opens one UDP session to the device, is bounded by its own timeouts, and
// closes the session when it returns, so a dead device costs only its own poll.
//
// One poll is: a GET of every scalar item plus sysUpTime.0 (up to MaxOids per PDU), then one
// multi-column walk of every table column: GETBULK with one varbind per column, sized from the
// rows seen last time, so a cached if-mib poll is two requests (v3 adds engine discovery).
// SNMPv1, and agents whose GETBULK fails right after a successful GET, are walked with GETNEXT.
// A request asks for at most 500 varbinds (columns × max-repetitions); an agent that answers
// tooBig gets half as many, remembered per device, instead of losing GETBULK.
// Label columns (ifName, ifAlias, ifDescr, hrStorageDescr) are cached per device and walked
// again after a reboot, every LabelRefresh (30 min), or within a minute when a row had none.
//
// # Fallback columns and 32-bit counters
//
// A table item may name a fallback column (profile key fallback, model.ItemFallback): the poller
// reads it for the rows the item's own column did not return, per index, and exports the values
// under the item's name. if-mib uses it for the 64-bit ifXTable counters (ifHCInOctets,
// ifHCOutOctets, ifHCInUcastPkts, ifHCOutUcastPkts → ifInOctets, ifOutOctets, ifInUcastPkts,
// ifOutUcastPkts of ifTable), because SNMPv1 cannot carry Counter64 (RFC 2576 4.2.2.1: agents
// skip them) and RFC 1213 agents have no ifXTable, and for ifHighSpeed (Mbit/s) → ifSpeed (bit/s)
// ÷ divisor 1,000,000, so wardops_snmp_ifHighSpeed is Mbit/s either way (ifSpeed saturates at
// 4,294,967,295: a faster link without ifXTable reads 4294.967295). Counter samples of an item
// with a fallback carry counter_bits="64" or "32", from the varbind's type on the wire, so a
// 32-bit series never continues a 64-bit one and rate() never reads a width change as a reset.
//
// The rows that exist are the indexes any walked column of the fallback's table returned (ifTable:
// ifInErrors, ifOperStatus, ifDescr...). The walk costs nothing more when the item's column
// answered for every row: the fallback is then not read at all. Missing rows are fetched with one
// GET of exactly their fallback instances after the walk (up to MaxOids per PDU); a fallback that
// stood in for every row (v1, no ifXTable) is walked with the other columns from the next poll on,
// so such a device costs the same two requests as one with ifXTable. A fallback whose table no
// walked column belongs to is always walked, since only the walk can tell which rows exist.
//
// A 32-bit octet counter wraps after 2^32 bytes: 34,360 s ÷ (link speed in Mbit/s) at line rate,
// 34 s at 1 Gbit/s. rate() in VictoriaMetrics and Prometheus reads one wrap between two samples as
// a counter reset (the interval's increase is undercounted by 2^32 − the previous value, never
// negative); two wraps between samples hide 2^32 bytes. So the poll interval of a device with
// 32-bit counters must be shorter than the wrap time at its fastest link's speed: interval <
// 34,360 s ÷ Mbit/s (the default 60 s is enough up to about 570 Mbit/s).
//
// # Table coverage
//
// Every poll that walked its tables reports wardops_snmp_table_rows{profile,table}: the distinct
// indexes each table of each profile returned (its items' columns and the fallback values read
// from it), 0 included. A table with no row counts reason empty_table once per poll, unless a
// fallback filled its items from another table (ifXTable on an agent without it): that is the
// profile working, visible as table_rows{table="ifXTable"} 0 beside ifTable's rows. Table names
// come from the profile's tables key; an undeclared table is named by its OID.
//
// # Samples (the stable interface; the scheduler adds device_id, device, ip, branch, region, vendor)
//
//	wardops_snmp_<item>{index, <label columns>}  counter or gauge item, raw value (counters are
//	                                             not differentiated: use rate(); sysUpTime is in
//	                                             hundredths of a second, as on the wire); counters
//	                                             of an item with a fallback add counter_bits
//	wardops_snmp_<item>_info{value, [index...]} 1 for an info item; its text in label value
//	wardops_snmp_up                             1 if every request of the poll succeeded, else 0;
//	                                            missing objects and empty tables do not make it 0
//	                                            (they are counted in errors_total)
//	wardops_snmp_table_rows{profile, table}     rows each table of each profile returned
//	wardops_snmp_poll_duration_seconds          wall time of the poll
//	wardops_snmp_last_reboot_timestamp_seconds  Unix time the device booted (poll time − sysUpTime),
//	                                            fixed until the next detected reboot, so a step
//	                                            marks a reboot and not a counter wrap
//	wardops_snmp_reboot_detected                1 on the poll that saw sysUpTime go back (a TimeTicks
//	                                            wrap after 497 days is not a reboot), else 0
//	wardops_snmp_errors_total{reason}           failures of this device since the collector started
//	                                            (timeout, auth, no_such_object and empty_table
//	                                            always present, the others once they happen)
//
// All samples of a poll carry the poll's start time in Unix milliseconds. A failed poll still
// returns up 0, the duration and the error counts.
//
// # Self-metrics (in the collector's metrics.Set, served at /metrics)
//
//	wardops_collector_snmp_errors_total{reason}   timeout, refused, auth, no_such_object,
//	                                              no_such_instance, error_status, bad_value,
//	                                              empty_table, config, canceled, other
//	wardops_collector_snmp_polls_total{result}    ok, failed
//	wardops_collector_snmp_poll_duration_seconds  histogram
//	wardops_collector_snmp_requests_total{type}   get, getnext, getbulk
//	wardops_collector_snmp_label_refreshes_total  label-column walks
//	wardops_collector_snmp_reboots_detected_total
//	wardops_collector_snmp_bulk_fallbacks_total   devices switched from GETBULK to GETNEXT
//	wardops_collector_snmp_toobig_retries_total   requests asked again smaller after tooBig
//
// Communities and v3 passphrases never reach a log line or an error: gosnmp's own debug logger,
// which prints communities, is never installed.
//
// # Cost per sample
//
// PollLabelled (what the scheduler calls) puts the device labels in front of each series' own
// and keeps the resulting label slice per device and series, rebuilt only when the label columns
// are walked again or the device's labels change: a steady-state poll builds no label slice and
// no metric name. v1/v2c sessions reuse pooled gosnmp.GoSNMP values, so the 64 KiB receive buffer
// gosnmp's Connect allocates is allocated once per pool entry, not once per poll. What remains is
// mostly gosnmp's BER decoding, which allocates about 11 objects per varbind (OID string,
// boxed value, raw field) and cannot be avoided without a fork: about 80% of the poller's
// allocations. BenchmarkPoll (simulator in a child process, 300 devices, 8 interfaces) and the
// README's performance notes give the figures.
package snmp

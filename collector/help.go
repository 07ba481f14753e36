package collector

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// help is the HELP text of every metric family the collector's packages put on its /metrics.
// VictoriaMetrics/metrics writes "# HELP name" with no text, which promtool rejects and which
// tells an operator nothing, so metricsHandler fills the text in from here (and from
// Options.Help for the families registered outside the collector).
var help = map[string]string{
	"wardops_collector_icmp_confirmations_total":            "ICMP probes repeated at once to confirm a device that stopped answering.",
	"wardops_collector_icmp_echoes_sent_total":              "Echo requests the shared ICMP engine sent.",
	"wardops_collector_icmp_kernel_timestamped_total":       "Echo replies timed by the kernel's receive timestamp.",
	"wardops_collector_icmp_late_replies_total":             "Echo replies that arrived after their probe had given up.",
	"wardops_collector_icmp_rcvbuf_drops_total":             "Packets the kernel dropped because the ICMP socket's receive buffer was full.",
	"wardops_collector_icmp_read_errors_total":              "Errors reading the ICMP socket.",
	"wardops_collector_icmp_replies_total":                  "Echo replies the shared ICMP engine matched to a probe.",
	"wardops_collector_icmp_send_errors_total":              "Echo requests the kernel refused to send.",
	"wardops_collector_inventory_reload_errors_total":       "Inventory reloads that failed; the collector kept the previous inventory.",
	"wardops_collector_inventory_reloads_skipped_total":     "Inventory reloads skipped because nothing had changed.",
	"wardops_collector_inventory_reloads_total":             "Inventory reloads from PostgreSQL.",
	"wardops_collector_snmp_states_pending":                 "Devices whose latest SNMP poll waits to be written to snmp_states for the alerter.",
	"wardops_collector_snmp_states_write_errors_total":      "Writes of SNMP states to snmp_states that failed; the states were kept for the next write.",
	"wardops_collector_snmp_states_written_total":           "Devices' SNMP states written to snmp_states for the alerter.",
	"wardops_collector_ping_results_blocks_total":           "Blocks of ping_results rows queued for PostgreSQL.",
	"wardops_collector_ping_results_dropped_blocks_total":   "Blocks of ping_results rows dropped for good, by reason.",
	"wardops_collector_ping_results_dropped_bytes_total":    "Bytes of ping_results rows dropped for good.",
	"wardops_collector_ping_results_pending":                "ping_results rows waiting to be batched.",
	"wardops_collector_ping_results_queue_blocks":           "Blocks of ping_results rows queued (memory and spool).",
	"wardops_collector_ping_results_queue_bytes":            "Bytes of ping_results rows queued (memory and spool).",
	"wardops_collector_ping_results_retries_total":          "ping_results writes retried after an error.",
	"wardops_collector_ping_results_rows_total":             "ping_results rows produced by probes.",
	"wardops_collector_ping_results_write_duration_seconds": "Time to write one block of ping_results rows to PostgreSQL.",
	"wardops_collector_ping_results_write_errors_total":     "ping_results writes that failed.",
	"wardops_collector_ping_results_written_total":          "ping_results rows written to PostgreSQL.",
	"wardops_collector_probe_duration_seconds":              "Wall time of one probe, by kind (icmp, snmp).",
	"wardops_collector_probe_errors_total":                  "Probes that failed on the collector's side (socket, engine), by kind.",
	"wardops_collector_probe_failures_total":                "Probes whose device did not answer, by kind.",
	"wardops_collector_probes_skipped_total":                "Probe rounds skipped because the device's previous probe still ran, by kind.",
	"wardops_collector_probes_total":                        "Probes run, by kind.",
	"wardops_collector_push_blocks_total":                   "Blocks of samples queued for VictoriaMetrics.",
	"wardops_collector_push_dropped_blocks_total":           "Blocks of samples dropped for good, by reason.",
	"wardops_collector_push_dropped_bytes_total":            "Bytes of samples dropped for good.",
	"wardops_collector_push_duration_seconds":               "Time to push one block of samples to VictoriaMetrics.",
	"wardops_collector_push_errors_total":                   "Pushes to VictoriaMetrics that failed, by kind (connection, status).",
	"wardops_collector_push_start_time_unknown_total":       "Reads of VictoriaMetrics' start time after a new connection that failed (no replay follows them).",
	"wardops_collector_push_pending":                        "Samples waiting to be batched.",
	"wardops_collector_push_queue_blocks":                   "Blocks of samples queued (memory and spool).",
	"wardops_collector_push_queue_bytes":                    "Bytes of samples queued (memory and spool).",
	"wardops_collector_push_retries_total":                  "Pushes retried after an error.",
	"wardops_collector_push_samples_total":                  "Samples produced for VictoriaMetrics.",
	"wardops_collector_push_sent_blocks_total":              "Blocks of samples VictoriaMetrics accepted.",
	"wardops_collector_push_sent_bytes_total":               "Bytes of samples VictoriaMetrics accepted.",
	"wardops_collector_samples_total":                       "Samples the scheduler produced.",
	"wardops_collector_scheduler_lag_seconds":               "How late a probe started after its planned slot, by kind.",
	"wardops_collector_snmp_bulk_fallbacks_total":           "SNMP walks that fell back from GETBULK to GETNEXT.",
	"wardops_collector_snmp_errors_total":                   "SNMP poll errors, by reason.",
	"wardops_collector_snmp_label_refreshes_total":          "Walks of SNMP label columns (ifName, ifAlias...).",
	"wardops_collector_snmp_poll_duration_seconds":          "Wall time of one SNMP poll of one device.",
	"wardops_collector_snmp_polls_total":                    "SNMP polls, by result.",
	"wardops_collector_snmp_reboots_detected_total":         "Device reboots seen as sysUpTime going back.",
	"wardops_collector_snmp_requests_total":                 "SNMP requests sent, by type.",
	"wardops_collector_targets":                             "Devices scheduled, by kind.",
	"wardops_collector_members":                             "Collectors alive in this collector's group (sharing one database's fleet).",
	"wardops_collector_lease_valid":                         "1 while this collector's heartbeat lease in PostgreSQL is valid.",
	"wardops_collector_owned_devices":                       "Devices this collector probes (its share of the fleet).",
	"wardops_collector_snmp_toobig_retries_total":           "GETBULK requests retried with fewer repetitions after an agent answered tooBig.",
	"wardops_collector_targets_refused_total":               "Devices skipped at inventory load because the probe target policy (WARDOPS_PROBE_ALLOW/DENY) refuses their address.",
	"wardops_collector_push_replayed_blocks_total":          "Acknowledged blocks re-sent after a connection failure, since VictoriaMetrics may have lost them.",
	"wardops_collector_push_replayed_bytes_total":           "Bytes of acknowledged blocks re-sent after a connection failure.",
	"wardops_spool_blocks":                                  "Blocks held in the spool, by spool.",
	"wardops_spool_bytes":                                   "Bytes of blocks held in the spool, by spool.",
	"wardops_spool_disk_bytes":                              "Bytes the spool's segment files take on disk, by spool.",
	"wardops_spool_dropped_blocks_total":                    "Blocks the spool dropped, by spool and reason.",
	"wardops_spool_dropped_bytes_total":                     "Bytes the spool dropped, by spool and reason.",
	"wardops_spool_spilled_blocks_total":                    "Blocks written to disk because memory was full or the backend down, by spool.",
	"wardops_spool_spilled_bytes_total":                     "Bytes written to disk because memory was full or the backend down, by spool.",
}

// writeWithHelp copies a metrics page from src to w, filling in the text of "# HELP family"
// lines from extra or help; a family in neither keeps its bare line.
func writeWithHelp(w io.Writer, src []byte, extra map[string]string) error {
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := sc.Text()
		if fam, ok := strings.CutPrefix(line, "# HELP "); ok && !strings.Contains(fam, " ") {
			text, found := extra[fam]
			if !found {
				text, found = help[fam]
			}
			if found {
				line += " " + text
			}
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}

package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/wardops/wardops/model"
)

const (
	devSel = `device="$device"`
	ifSel  = `device="$device", ifName=~"$interface"`
)

// ifOperStatus values (IF-MIB, RFC 2863).
var operStatus = valueMap(
	[3]string{"1", "up", "green"}, [3]string{"2", "down", "red"}, [3]string{"3", "testing", "blue"},
	[3]string{"4", "unknown", "gray"}, [3]string{"5", "dormant", "purple"}, [3]string{"6", "notPresent", "gray"},
	[3]string{"7", "lowerLayerDown", "orange"})

// octetsBits is an interface's octet counter as bits per second. HC counters carry counter_bits
// ("64", or "32" where the agent fell back to ifTable); summing it away keeps one series per
// interface even across a width change, so the division by ifHighSpeed matches one to one.
func octetsBits(item string) string {
	return `sum without (counter_bits) (rate(wardops_snmp_` + item + `{` + ifSel + `}[$__rate_interval])) * 8`
}

// utilisation is an octet counter as a share of the interface's speed (ifHighSpeed is Mbit/s;
// interfaces that report no speed are left out rather than divided by zero).
func utilisation(item string) string {
	return octetsBits(item) + ` / ignoring (counter_bits) (wardops_snmp_ifHighSpeed{` + ifSel + `} * 1e6 > 0) * 100`
}

func device() *dashboard.DashboardBuilder {
	d := regionBranchVars(base(UIDDevice, "wardops / Device",
		"One device: ICMP reachability, RTT and loss; SNMP uptime, reboots and, per interface, traffic, utilisation, errors and oper status."), true)
	return d.
		WithVariable(labelVar("device", "Device", model.MetricPingUp+`{region=~"$region", branch=~"$branch"}`, "device", false)).
		WithVariable(labelVar("interface", "Interface", `wardops_snmp_ifOperStatus{`+devSel+`}`, "ifName", true)).
		Annotation(dashboard.NewAnnotationQueryBuilder().Name("Reboots").Datasource(ds).Enable(true).IconColor("orange").
			// The reboot is one sample at 1; a window as wide as the step keeps every step from
			// landing between it and the next poll's 0.
			Expr(`max_over_time(` + model.MetricSNMPRebootDetected + `{` + devSel + `}[1m]) == 1`).TitleFormat("Reboot").
			TextFormat("sysUpTime went back on {{device}}").Step("1m")).
		WithPanel(statetimeline.NewPanelBuilder().Title("Reachability").Description("ICMP probes answered, and SNMP polls that succeeded.").
			GridPos(pos(0, 0, 18, 4)).Datasource(ds).
			WithTarget(rangeQ(model.MetricPingUp+`{`+devSel+`}`, "ICMP")).
			WithTarget(rangeQ(model.MetricSNMPUp+`{`+devSel+`}`, "SNMP")).
			Mappings(upDown).Thresholds(steps("red", 1, "green")).ShowValue(common.VisibilityModeNever).MergeValues(true)).
		WithPanel(stat.NewPanelBuilder().Title("Uptime").Description("Time since the device last booted, from sysUpTime; reboots are annotated on every panel.").
			GridPos(pos(18, 0, 6, 4)).Datasource(ds).
			WithTarget(instantQ(`time() - last_over_time(` + model.MetricSNMPLastReboot + `{` + devSel + `}[10m])`)).Unit("s").
			Thresholds(steps("orange", 3600, "green")).ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(timeseries.NewPanelBuilder().Title("RTT").Description("Mean, fastest and slowest echo of each probe.").
			GridPos(pos(0, 4, 12, 8)).Datasource(ds).
			WithTarget(rangeQ(model.MetricPingRTT+`{`+devSel+`}`, "mean")).
			WithTarget(rangeQ(model.MetricPingRTTMin+`{`+devSel+`}`, "min")).
			WithTarget(rangeQ(model.MetricPingRTTMax+`{`+devSel+`}`, "max")).Unit("s").Min(0)).
		WithPanel(timeseries.NewPanelBuilder().Title("Loss").Description("Share of each probe's echoes that went unanswered.").
			GridPos(pos(12, 4, 12, 8)).Datasource(ds).
			WithTarget(rangeQ(model.MetricPingLoss+`{`+devSel+`}`, "loss")).Unit("percentunit").Min(0).Max(1)).
		WithPanel(timeseries.NewPanelBuilder().Title("Traffic").Description("Bits per second in and out of the selected interfaces.").
			GridPos(pos(0, 12, 12, 8)).Datasource(ds).
			WithTarget(rangeQ(octetsBits("ifHCInOctets"), "{{ifName}} in")).
			WithTarget(rangeQ(octetsBits("ifHCOutOctets"), "{{ifName}} out")).Unit("bps").Min(0)).
		WithPanel(timeseries.NewPanelBuilder().Title("Utilisation").Description("Traffic as a share of the interface speed (ifHighSpeed).").
			GridPos(pos(12, 12, 12, 8)).Datasource(ds).
			WithTarget(rangeQ(utilisation("ifHCInOctets"), "{{ifName}} in")).
			WithTarget(rangeQ(utilisation("ifHCOutOctets"), "{{ifName}} out")).Unit("percent").Min(0).
			Thresholds(steps("green", 70, "orange", 90, "red"))).
		WithPanel(timeseries.NewPanelBuilder().Title("Errors and discards").Description("Packets per second in error or discarded.").
			GridPos(pos(0, 20, 12, 8)).Datasource(ds).
			WithTarget(rangeQ(`rate(wardops_snmp_ifInErrors{`+ifSel+`}[$__rate_interval])`, "{{ifName}} in errors")).
			WithTarget(rangeQ(`rate(wardops_snmp_ifOutErrors{`+ifSel+`}[$__rate_interval])`, "{{ifName}} out errors")).
			WithTarget(rangeQ(`rate(wardops_snmp_ifInDiscards{`+ifSel+`}[$__rate_interval])`, "{{ifName}} in discards")).Unit("pps").Min(0)).
		WithPanel(statetimeline.NewPanelBuilder().Title("Oper status").Description("ifOperStatus of the selected interfaces.").
			GridPos(pos(12, 20, 12, 8)).Datasource(ds).
			WithTarget(rangeQ(`wardops_snmp_ifOperStatus{`+ifSel+`}`, "{{ifName}}")).
			Mappings(operStatus).Thresholds(steps("green")).ShowValue(common.VisibilityModeAuto).MergeValues(true))
}

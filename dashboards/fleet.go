package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/wardops/wardops/model"
)

// fleetSel narrows the ping series to the selected regions and branches.
const fleetSel = `region=~"$region", branch=~"$branch"`

func regionBranchVars(d *dashboard.DashboardBuilder, multiBranch bool) *dashboard.DashboardBuilder {
	return d.
		WithVariable(labelVar("region", "Region", model.MetricPingUp, "region", true)).
		WithVariable(labelVar("branch", "Branch", model.MetricPingUp+`{region=~"$region"}`, "branch", multiBranch))
}

// countStat is a device count on a stat panel, coloured by thresholds.
func countStat(title, description, expr string, th *dashboard.ThresholdsConfigBuilder, p dashboard.GridPos) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(description).GridPos(p).Datasource(ds).
		WithTarget(instantQ(expr)).Unit("none").Decimals(0).Thresholds(th).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
}

func fleet() *dashboard.DashboardBuilder {
	up := model.MetricPingUp + "{" + fleetSel + "}"
	d := regionBranchVars(base(UIDFleet, "wardops / Fleet",
		"Every device's reachability, availability per branch, the worst RTT and loss now. Click a branch or device to drill down."), true)
	return d.
		WithPanel(countStat("Up", "Devices whose last probe (within "+stale+") was answered.",
			`count(last_over_time(`+up+`[`+stale+`]) == 1) or vector(0)`, steps("green"), pos(0, 0, 6, 4))).
		WithPanel(countStat("Down", "Devices whose last probe (within "+stale+") went unanswered.",
			`count(last_over_time(`+up+`[`+stale+`]) == 0) or vector(0)`, steps("green", 1, "red"), pos(6, 0, 6, 4))).
		WithPanel(countStat("Unknown", "Devices probed in the last hour but not in the last "+stale+": the collector lost them (it is down, or cannot push).",
			`count(max_over_time(`+up+`[1h]) unless last_over_time(`+up+`[`+stale+`])) or vector(0)`, steps("green", 1, "orange"), pos(12, 0, 6, 4))).
		WithPanel(stat.NewPanelBuilder().Title("Fleet availability").Description("Share of probes answered over the selected range.").
			GridPos(pos(18, 0, 6, 4)).Datasource(ds).
			WithTarget(instantQ(`avg(avg_over_time(` + up + `[$__range]))`)).Unit("percentunit").Decimals(2).
			Thresholds(steps("red", 0.99, "orange", 0.999, "green")).ColorMode(common.BigValueColorModeValue).
			GraphMode(common.BigValueGraphModeNone)).
		WithPanel(tablePanel().Title("Availability per branch").
			Description("Share of probes answered per branch over the selected range, worst first. Click a branch for its dashboard.").
			GridPos(pos(0, 4, 8, 10)).Datasource(ds).
			WithTarget(instantQ(`sort(avg by (region, branch) (avg_over_time(` + up + `[$__range])))`)).
			Unit("percentunit").Decimals(3).Thresholds(steps("red", 0.99, "orange", 0.999, "green")).
			CellOptions(common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{Type: common.TableCellDisplayModeColorBackground}}).
			WithTransformation(organize("Time")).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{link("Branch ${__data.fields.branch}", UIDBranch, "var-branch=${__data.fields.branch}")})).
		WithPanel(tablePanel().Title("Down now").
			Description("Devices whose last probe went unanswered, and since when: the last change of their state, or the first probe of the last day when they have not answered in all of it.").
			GridPos(pos(8, 4, 16, 10)).Datasource(ds).
			WithTarget(instantQ(`(tlast_change_over_time(` + up + `[1d]) or tfirst_over_time(` + up + `[1d])) * 1000` +
				` and on (device_id) (last_over_time(` + up + `[` + stale + `]) == 0)`)).
			Unit("dateTimeAsIso").
			WithTransformation(organize("Time", "device_id", "vendor", "job", "instance")).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{link("Device ${__data.fields.device}", UIDDevice, "var-device=${__data.fields.device}", "var-branch=${__data.fields.branch}")})).
		WithPanel(tablePanel().Title("Worst RTT now").Description("The ten devices with the highest mean RTT in their last probe.").
			GridPos(pos(0, 14, 12, 9)).Datasource(ds).
			WithTarget(instantQ(`sort_desc(topk(10, last_over_time(` + model.MetricPingRTT + `{` + fleetSel + `}[` + stale + `])))`)).
			Unit("s").Thresholds(steps("green", 0.1, "orange", 0.3, "red")).
			WithTransformation(organize("Time", "device_id", "job", "instance")).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{link("Device ${__data.fields.device}", UIDDevice, "var-device=${__data.fields.device}", "var-branch=${__data.fields.branch}")})).
		WithPanel(tablePanel().Title("Worst loss now").Description("The ten devices with the highest packet loss in their last probe.").
			GridPos(pos(12, 14, 12, 9)).Datasource(ds).
			WithTarget(instantQ(`sort_desc(topk(10, last_over_time(` + model.MetricPingLoss + `{` + fleetSel + `}[` + stale + `])))`)).
			Unit("percentunit").Thresholds(steps("green", 0.01, "orange", 0.2, "red")).
			WithTransformation(organize("Time", "device_id", "job", "instance")).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{link("Device ${__data.fields.device}", UIDDevice, "var-device=${__data.fields.device}", "var-branch=${__data.fields.branch}")})).
		WithPanel(heatmap.NewPanelBuilder().Title("RTT distribution").
			Description("How many probes fell in each RTT bucket: histogram_over_time buckets the fleet's RTT samples and prometheus_buckets turns them into le buckets Grafana reads.").
			GridPos(pos(0, 23, 16, 9)).Datasource(ds).
			WithTarget(rangeQ(`prometheus_buckets(sum by (vmrange) (histogram_over_time(`+model.MetricPingRTT+`{`+fleetSel+`}[$__rate_interval])))`, "{{le}}").
				Format(prometheus.PromQueryFormatHeatmap)).
			Calculate(false).Unit("s").
			Color(heatmap.NewHeatmapColorOptionsBuilder().Mode(heatmap.HeatmapColorModeScheme).Scheme("Oranges").Steps(64))).
		WithPanel(timeseries.NewPanelBuilder().Title("Devices down by branch").Description("Unanswered probes per branch over time.").
			GridPos(pos(16, 23, 8, 9)).Datasource(ds).
			WithTarget(rangeQ(`sum by (branch) (1 - `+up+`)`, "{{branch}}")).Unit("none").Min(0))
}

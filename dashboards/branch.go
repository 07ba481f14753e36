package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/wardops/wardops/model"
)

const branchSel = `branch="$branch"`

func branch() *dashboard.DashboardBuilder {
	up := model.MetricPingUp + "{" + branchSel + "}"
	d := regionBranchVars(base(UIDBranch, "wardops / Branch", "One branch: its devices' state, availability, RTT and loss. Click a device to drill down."), false)
	deviceLink := []cog.Builder[dashboard.DashboardLink]{link("Device ${__data.fields.device}", UIDDevice, "var-device=${__data.fields.device}", "var-branch=$branch")}
	return d.
		WithPanel(countStat("Up", "Devices of the branch whose last probe was answered.",
			`count(last_over_time(`+up+`[`+stale+`]) == 1) or vector(0)`, steps("green"), pos(0, 0, 6, 4))).
		WithPanel(countStat("Down", "Devices of the branch whose last probe went unanswered.",
			`count(last_over_time(`+up+`[`+stale+`]) == 0) or vector(0)`, steps("green", 1, "red"), pos(6, 0, 6, 4))).
		WithPanel(stat.NewPanelBuilder().Title("Availability").Description("Share of the branch's probes answered over the selected range.").
			GridPos(pos(12, 0, 6, 4)).Datasource(ds).
			WithTarget(instantQ(`avg(avg_over_time(` + up + `[$__range]))`)).Unit("percentunit").Decimals(3).
			Thresholds(steps("red", 0.99, "orange", 0.999, "green")).ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(stat.NewPanelBuilder().Title("Median RTT").Description("Median of the branch's devices' last mean RTT.").
			GridPos(pos(18, 0, 6, 4)).Datasource(ds).
			WithTarget(instantQ(`quantile(0.5, last_over_time(` + model.MetricPingRTT + `{` + branchSel + `}[` + stale + `]))`)).Unit("s").
			Thresholds(steps("green", 0.1, "orange", 0.3, "red")).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(tablePanel().Title("Devices").Description("Every device of the branch, its state and availability over the range. Click one for its dashboard.").
			GridPos(pos(0, 4, 10, 12)).Datasource(ds).
			WithTarget(instantQ(`avg_over_time(` + up + `[$__range])`)).Unit("percentunit").Decimals(3).
			Thresholds(steps("red", 0.99, "orange", 0.999, "green")).
			WithTransformation(organize("Time", "device_id", "job", "instance", "region", "branch")).
			DataLinks(deviceLink)).
		WithPanel(statetimeline.NewPanelBuilder().Title("Reachability").Description("Each device's probes: answered or not.").
			GridPos(pos(10, 4, 14, 12)).Datasource(ds).
			WithTarget(rangeQ(up, "{{device}}")).Mappings(upDown).Thresholds(steps("red", 1, "green")).
			ShowValue(common.VisibilityModeNever).MergeValues(true)).
		WithPanel(timeseries.NewPanelBuilder().Title("RTT").Description("Mean RTT of each device's probes.").
			GridPos(pos(0, 16, 12, 9)).Datasource(ds).
			WithTarget(rangeQ(model.MetricPingRTT+`{`+branchSel+`}`, "{{device}}")).Unit("s").Min(0)).
		WithPanel(timeseries.NewPanelBuilder().Title("Loss").Description("Packet loss of each device's probes.").
			GridPos(pos(12, 16, 12, 9)).Datasource(ds).
			WithTarget(rangeQ(model.MetricPingLoss+`{`+branchSel+`}`, "{{device}}")).Unit("percentunit").Min(0).Max(1))
}

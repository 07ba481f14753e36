// Package dashboards generates wardops' Grafana dashboards from Go with the Grafana Foundation
// SDK's typed builders, and holds the JSON it writes (provisioned by deploy/grafana). Every
// query uses the series names of package model where it has them, and a test runs every query
// and template variable of every dashboard against live data. Regenerate with:
// go generate ./dashboards
package dashboards

//go:generate go run ./gen

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// Dashboard UIDs: links between dashboards and provisioning refer to them.
const (
	UIDFleet     = "wardops-fleet"
	UIDBranch    = "wardops-branch"
	UIDDevice    = "wardops-device"
	UIDCollector = "wardops-collector"
	UIDQuery     = "wardops-query"
	UIDAlerts    = "wardops-alerts"
)

// stale is how far back "now" looks for a device's last probe: a few ping intervals at the
// default 30 s, so one late push does not turn a device unknown.
const stale = "2m"

// builders are the dashboards by file name.
var builders = map[string]func() *dashboard.DashboardBuilder{
	"fleet.json":     fleet,
	"branch.json":    branch,
	"device.json":    device,
	"collector.json": collectorHealth,
	"query.json":     queryHealth,
	"alerts.json":    alerts,
}

// All builds every dashboard, by file name.
func All() (map[string]dashboard.Dashboard, error) {
	out := map[string]dashboard.Dashboard{}
	for name, b := range builders {
		d, err := b().Build()
		if err != nil {
			return nil, fmt.Errorf("cannot build %s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// Marshal is the committed form of a dashboard: indented JSON and a final newline.
func Marshal(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Query is one expression a dashboard sends to VictoriaMetrics.
type Query struct {
	Where   string // panel title, variable or annotation name
	Expr    string
	Instant bool
	// Label is set for a label_values() variable: Expr is then its series selector and the
	// query asks for this label's values.
	Label string
}

// Queries lists every panel target, template variable and annotation query of d.
func Queries(d dashboard.Dashboard) []Query {
	var out []Query
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for _, t := range p.Panel.Targets {
			pq, ok := t.(*prometheus.Dataquery)
			if !ok {
				continue
			}
			out = append(out, Query{Where: deref(p.Panel.Title), Expr: pq.Expr, Instant: pq.Instant != nil && *pq.Instant})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" || v.Query == nil || v.Query.String == nil {
			continue
		}
		sel, label := splitLabelValues(*v.Query.String)
		out = append(out, Query{Where: "variable " + v.Name, Expr: sel, Label: label})
	}
	for _, a := range d.Annotations.List {
		if a.Expr != nil {
			out = append(out, Query{Where: "annotation " + a.Name, Expr: *a.Expr})
		}
	}
	return out
}

// splitLabelValues takes label_values(selector, label) apart.
func splitLabelValues(q string) (selector, label string) {
	in := strings.TrimSuffix(strings.TrimPrefix(q, "label_values("), ")")
	i := strings.LastIndex(in, ",")
	return strings.TrimSpace(in[:i]), strings.TrimSpace(in[i+1:])
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }

// ds is the data source every panel reads: the dashboard's $datasource variable, a
// Prometheus-type data source pointed at VictoriaMetrics.
var ds = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}

// base is what every dashboard shares: tags, UTC, refresh, the data source variable and the
// links to the others.
func base(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"wardops"}).
		Timezone("utc").
		Refresh("30s").
		Time("now-6h", "now").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		Link(dashboard.NewDashboardLinkBuilder("wardops").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"wardops"}).AsDropdown(true).IncludeVars(true).KeepTime(true))
}

// labelVar is a label_values() variable; all means multi-select with an All option.
func labelVar(name, label, selector, of string, all bool) *dashboard.QueryVariableBuilder {
	q := "label_values(" + selector + ", " + of + ")"
	v := dashboard.NewQueryVariableBuilder(name).Label(label).
		Query(dashboard.StringOrMap{String: ptr(q)}).Definition(q).
		Datasource(ds).Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)
	if all {
		v = v.Multi(true).IncludeAll(true).AllValue(".*")
	}
	return v
}

// rangeQ and instantQ are the two kinds of target.
func rangeQ(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).LegendFormat(legend).Range()
}

func instantQ(expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable)
}

// steps builds absolute thresholds: a base colour, then (value, colour) pairs.
func steps(baseColor string, pairs ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: baseColor}}
	for i := 0; i+1 < len(pairs); i += 2 {
		s = append(s, dashboard.Threshold{Value: ptr(toFloat(pairs[i])), Color: pairs[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("threshold value %v", v))
}

// valueMap maps numbers to text and colour, e.g. ifOperStatus 1 → up (green).
func valueMap(entries ...[3]string) []dashboard.ValueMapping {
	m := dashboard.NewValueMap()
	for i, e := range entries {
		m.Options[e[0]] = dashboard.ValueMappingResult{Text: ptr(e[1]), Color: ptr(e[2]), Index: ptr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: m}}
}

// upDown maps a 0/1 reachability value.
var upDown = valueMap([3]string{"0", "down", "red"}, [3]string{"1", "up", "green"})

// link is a data link to another dashboard that keeps the time range and sets vars.
func link(title, uid string, vars ...string) cog.Builder[dashboard.DashboardLink] {
	u := "/d/" + uid + "/?${__url_time_range}&${datasource:queryparam}"
	for _, v := range vars {
		u += "&" + v
	}
	return dashboard.NewDashboardLinkBuilder(title).Type(dashboard.DashboardLinkTypeLink).Url(u)
}

// pos places a panel on Grafana's 24-column grid.
func pos(x, y, w, h uint32) dashboard.GridPos { return dashboard.GridPos{X: x, Y: y, W: w, H: h} }

// organize hides the given columns of a table (series labels an operator does not need).
func organize(hide ...string) dashboard.DataTransformerConfig {
	ex := map[string]bool{}
	for _, h := range hide {
		ex[h] = true
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": ex}}
}

// Concrete replaces the Grafana variables of expr with values, as Grafana does before a query
// reaches VictoriaMetrics: vars by name without the $ (region, branch, device, interface,
// instance, __range, __rate_interval, __interval).
func Concrete(expr string, vars map[string]string) string {
	var pairs []string
	// Longest names first, so $__rate_interval is not read as $__range plus text.
	for _, n := range []string{"__rate_interval", "__interval", "__range", "interface", "instance", "region", "branch", "device"} {
		if v, ok := vars[n]; ok {
			pairs = append(pairs, "${"+n+"}", v, "$"+n, v)
		}
	}
	return strings.NewReplacer(pairs...).Replace(expr)
}

// tablePanel is a table without a footer. The builder leaves the footer's reducer null, which
// Grafana's schema (and the SDK's strict decoder) require to be a list.
func tablePanel() *table.PanelBuilder {
	return table.NewPanelBuilder().Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}))
}

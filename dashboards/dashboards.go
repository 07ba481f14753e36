// Package dashboards generates the Grafana dashboards shipped in this folder from Go, so every
// PromQL/MetricsQL expression is checked (dashboards_test.go) against the metric names the
// collector documents. Regenerate with: go generate ./dashboards
package dashboards

//go:generate go run ./gen

import (
	"fmt"

	"github.com/wardops/wardops/model"
)

// Dashboard is a minimal Grafana dashboard model: enough for import through the UI or provisioning.
type Dashboard struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Tags          []string   `json:"tags"`
	Timezone      string     `json:"timezone"`
	SchemaVersion int        `json:"schemaVersion"`
	Refresh       string     `json:"refresh"`
	Time          TimeRange  `json:"time"`
	Templating    Templating `json:"templating"`
	Panels        []Panel    `json:"panels"`
}

// TimeRange is the default range shown.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds the dashboard variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a query variable fed by label values.
type Variable struct {
	Name       string     `json:"name"`
	Label      string     `json:"label"`
	Type       string     `json:"type"`
	Query      string     `json:"query"`
	Datasource Datasource `json:"datasource"`
	Multi      bool       `json:"multi"`
	IncludeAll bool       `json:"includeAll"`
	AllValue   string     `json:"allValue,omitempty"`
	Refresh    int        `json:"refresh"`
}

// Datasource refers to the Prometheus-type data source pointed at VictoriaMetrics.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is one graph, stat or table.
type Panel struct {
	ID          int         `json:"id"`
	Title       string      `json:"title"`
	Type        string      `json:"type"`
	GridPos     GridPos     `json:"gridPos"`
	Datasource  Datasource  `json:"datasource"`
	Targets     []Target    `json:"targets"`
	FieldConfig FieldConfig `json:"fieldConfig"`
}

// GridPos places a panel on Grafana's 24-column grid.
type GridPos struct{ H, W, X, Y int }

// Target is one query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat,omitempty"`
	Instant      bool   `json:"instant,omitempty"`
}

// FieldConfig sets the unit of a panel.
type FieldConfig struct {
	Defaults struct {
		Unit string `json:"unit,omitempty"`
	} `json:"defaults"`
}

var ds = Datasource{Type: "prometheus", UID: "${datasource}"}

func panel(id int, title, typ, unit string, pos GridPos, targets ...Target) Panel {
	p := Panel{ID: id, Title: title, Type: typ, GridPos: pos, Datasource: ds, Targets: targets}
	p.FieldConfig.Defaults.Unit = unit
	for i := range p.Targets {
		p.Targets[i].RefID = fmt.Sprintf("%c", 'A'+i)
	}
	return p
}

func vars(extra ...Variable) Templating {
	list := []Variable{
		{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus"},
		{Name: "region", Label: "Region", Type: "query", Query: `label_values(` + model.MetricPingUp + `, region)`, Datasource: ds, Multi: true, IncludeAll: true, AllValue: ".*", Refresh: 2},
		{Name: "branch", Label: "Branch", Type: "query", Query: `label_values(` + model.MetricPingUp + `{region=~"$region"}, branch)`, Datasource: ds, Multi: true, IncludeAll: true, AllValue: ".*", Refresh: 2},
	}
	return Templating{List: append(list, extra...)}
}

const sel = `region=~"$region", branch=~"$branch"`

// All returns every dashboard by file name.
func All() map[string]Dashboard {
	return map[string]Dashboard{
		"fleet.json":      fleet(),
		"device.json":     device(),
		"interfaces.json": interfaces(),
		"collector.json":  collectorSelf(),
	}
}

func base(uid, title string, t Templating, panels ...Panel) Dashboard {
	return Dashboard{UID: uid, Title: title, Tags: []string{"wardops"}, Timezone: "utc", SchemaVersion: 39,
		Refresh: "30s", Time: TimeRange{From: "now-6h", To: "now"}, Templating: t, Panels: panels}
}

func fleet() Dashboard {
	return base("wardops-fleet", "wardops / Fleet", vars(),
		panel(1, "Devices up", "stat", "none", GridPos{4, 6, 0, 0}, Target{Expr: `sum(last_over_time(` + model.MetricPingUp + `{` + sel + `}[2m]))`, Instant: true}),
		panel(2, "Devices down", "stat", "none", GridPos{4, 6, 6, 0}, Target{Expr: `count(last_over_time(` + model.MetricPingUp + `{` + sel + `}[2m]) == 0) or vector(0)`, Instant: true}),
		panel(3, "Median RTT", "stat", "s", GridPos{4, 6, 12, 0}, Target{Expr: `quantile(0.5, last_over_time(` + model.MetricPingRTT + `{` + sel + `}[2m]))`, Instant: true}),
		panel(4, "Mean loss", "stat", "percentunit", GridPos{4, 6, 18, 0}, Target{Expr: `avg(last_over_time(` + model.MetricPingLoss + `{` + sel + `}[2m]))`, Instant: true}),
		panel(5, "Devices down by branch", "timeseries", "none", GridPos{8, 12, 0, 4}, Target{Expr: `sum by (branch) (1 - ` + model.MetricPingUp + `{` + sel + `})`, LegendFormat: "{{branch}}"}),
		panel(6, "Worst RTT (top 10)", "timeseries", "s", GridPos{8, 12, 12, 4}, Target{Expr: `topk(10, ` + model.MetricPingRTT + `{` + sel + `})`, LegendFormat: "{{device}} {{ip}}"}),
		panel(7, "Worst loss (top 10)", "timeseries", "percentunit", GridPos{8, 12, 0, 12}, Target{Expr: `topk(10, ` + model.MetricPingLoss + `{` + sel + `})`, LegendFormat: "{{device}} {{ip}}"}),
		panel(8, "Down now", "table", "none", GridPos{8, 12, 12, 12}, Target{Expr: `last_over_time(` + model.MetricPingUp + `{` + sel + `}[2m]) == 0`, Instant: true}),
	)
}

func device() Dashboard {
	dev := Variable{Name: "device", Label: "Device", Type: "query", Query: `label_values(` + model.MetricPingUp + `{` + sel + `}, device)`, Datasource: ds, Refresh: 2}
	d := `device="$device"`
	return base("wardops-device", "wardops / Device", vars(dev),
		panel(1, "Up", "timeseries", "none", GridPos{6, 24, 0, 0}, Target{Expr: model.MetricPingUp + `{` + d + `}`, LegendFormat: "up"}),
		panel(2, "RTT", "timeseries", "s", GridPos{8, 12, 0, 6},
			Target{Expr: model.MetricPingRTT + `{` + d + `}`, LegendFormat: "avg"},
			Target{Expr: model.MetricPingRTTMin + `{` + d + `}`, LegendFormat: "min"},
			Target{Expr: model.MetricPingRTTMax + `{` + d + `}`, LegendFormat: "max"}),
		panel(3, "Loss", "timeseries", "percentunit", GridPos{8, 12, 12, 6}, Target{Expr: model.MetricPingLoss + `{` + d + `}`, LegendFormat: "loss"}),
		panel(4, "Uptime (SNMP sysUpTime)", "timeseries", "s", GridPos{8, 12, 0, 14}, Target{Expr: `wardops_snmp_sysUpTime{` + d + `} / 100`, LegendFormat: "uptime"}),
		panel(5, "CPU load", "timeseries", "percent", GridPos{8, 12, 12, 14}, Target{Expr: `wardops_snmp_hrProcessorLoad{` + d + `}`, LegendFormat: "cpu {{index}}"}),
	)
}

func interfaces() Dashboard {
	dev := Variable{Name: "device", Label: "Device", Type: "query", Query: `label_values(wardops_snmp_ifHCInOctets{` + sel + `}, device)`, Datasource: ds, Refresh: 2}
	d := `device="$device"`
	return base("wardops-interfaces", "wardops / Interfaces", vars(dev),
		panel(1, "Inbound", "timeseries", "bps", GridPos{8, 12, 0, 0}, Target{Expr: `rate(wardops_snmp_ifHCInOctets{` + d + `}[5m]) * 8`, LegendFormat: "{{ifName}}"}),
		panel(2, "Outbound", "timeseries", "bps", GridPos{8, 12, 12, 0}, Target{Expr: `rate(wardops_snmp_ifHCOutOctets{` + d + `}[5m]) * 8`, LegendFormat: "{{ifName}}"}),
		panel(3, "Errors and discards", "timeseries", "pps", GridPos{8, 12, 0, 8},
			Target{Expr: `rate(wardops_snmp_ifInErrors{` + d + `}[5m])`, LegendFormat: "in errors {{ifName}}"},
			Target{Expr: `rate(wardops_snmp_ifOutErrors{` + d + `}[5m])`, LegendFormat: "out errors {{ifName}}"},
			Target{Expr: `rate(wardops_snmp_ifInDiscards{` + d + `}[5m])`, LegendFormat: "in discards {{ifName}}"}),
		panel(4, "Oper status (1 up, 2 down)", "timeseries", "none", GridPos{8, 12, 12, 8}, Target{Expr: `wardops_snmp_ifOperStatus{` + d + `}`, LegendFormat: "{{ifName}}"}),
	)
}

func collectorSelf() Dashboard {
	return base("wardops-collector", "wardops / Collector", Templating{List: []Variable{{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus"}}},
		panel(1, "Probes per second", "timeseries", "ops", GridPos{8, 12, 0, 0}, Target{Expr: `sum by (kind) (rate(wardops_collector_probes_total[5m]))`, LegendFormat: "{{kind}}"}),
		panel(2, "Scheduler lag", "timeseries", "s", GridPos{8, 12, 12, 0}, Target{Expr: `max(wardops_collector_scheduler_lag_seconds)`, LegendFormat: "lag"}),
		panel(3, "Process CPU", "timeseries", "percentunit", GridPos{8, 12, 0, 8}, Target{Expr: `rate(process_cpu_seconds_total{job=~".*wardops.*"}[5m])`, LegendFormat: "{{instance}}"}),
		panel(4, "Resident memory", "timeseries", "bytes", GridPos{8, 12, 12, 8}, Target{Expr: `process_resident_memory_bytes{job=~".*wardops.*"}`, LegendFormat: "{{instance}}"}),
	)
}

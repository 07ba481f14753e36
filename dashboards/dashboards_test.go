package dashboards

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
)

func TestGeneratedFilesAreCurrent(t *testing.T) {
	for name, d := range All() {
		want, _ := json.MarshalIndent(d, "", "  ")
		got, err := os.ReadFile(name)
		if err != nil || string(got) != string(want)+"\n" {
			t.Errorf("%s is stale or missing: run go generate ./dashboards", name)
		}
	}
}

// known are the metric-name families the collector documents (collector/doc.go, README).
var known = regexp.MustCompile(`^(wardops_ping_(up|rtt_seconds|rtt_min_seconds|rtt_max_seconds|rtt_stddev_seconds|loss_ratio)|wardops_snmp_[A-Za-z0-9_]+|wardops_collector_[a-z_]+|process_[a-z_]+)$`)

func TestEveryQueryParsesAndUsesKnownMetrics(t *testing.T) {
	for name, d := range All() {
		var exprs []string
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				exprs = append(exprs, strings.TrimSuffix(strings.SplitN(v.Query, "(", 2)[1], ")"))
			}
		}
		for _, e := range exprs {
			// Grafana variables are substituted before the query reaches VictoriaMetrics.
			q := strings.NewReplacer("$region", "x", "$branch", "x", "$device", "x").Replace(e)
			if i := strings.LastIndex(q, ", "); strings.HasPrefix(e, "wardops") && i > 0 && !strings.Contains(q[i:], "}") {
				q = q[:i] // label_values(metric, label): keep the selector
			}
			expr, err := metricsql.Parse(q)
			if err != nil {
				t.Errorf("%s: %q does not parse: %v", name, e, err)
				continue
			}
			metricsql.VisitAll(expr, func(x metricsql.Expr) {
				if me, ok := x.(*metricsql.MetricExpr); ok {
					for _, lfs := range me.LabelFilterss {
						for _, lf := range lfs {
							if lf.Label == "__name__" && !known.MatchString(lf.Value) {
								t.Errorf("%s: %q uses undocumented metric %s", name, e, lf.Value)
							}
						}
					}
				}
			})
		}
	}
}

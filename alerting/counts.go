package alerting

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/model"
)

// stateRule is one series of wardops_alerting_alerts.
type stateRule struct{ state, rule string }

// Loops that own open alerts, each publishing its own counts.
const (
	loopDown = iota
	loopRules
	nLoops
)

// alertCounts keeps the alerts-by-state gauge. Each loop counts the alerts and timers it owns at
// the end of its cycle, in its own goroutine, and publishes them here; the gauge is the sum, so
// no loop reads another's maps. Every enabled rule has its states at zero, and the series of a
// rule that is gone are deleted.
type alertCounts struct {
	mu    sync.Mutex
	gauge *prometheus.GaugeVec
	loops [nLoops]map[stateRule]int
	set   map[stateRule]bool
}

func newAlertCounts(g *prometheus.GaugeVec) *alertCounts {
	return &alertCounts{gauge: g, set: map[stateRule]bool{}}
}

// stateOf is the state an open alert is counted under.
func stateOf(a *model.AlertRecord) string {
	switch {
	case a.NotifiedAt != nil:
		return "firing"
	case a.HoldReason != model.HoldNone:
		return a.HoldReason
	}
	return "pending"
}

// ruleName names an alert's rule for the gauge: the rule's current name, or the alertname it
// was sent under when the rule is gone.
func ruleName(inv *inventory, a *model.AlertRecord) string {
	if r, ok := inv.byID[a.RuleID]; ok {
		return r.Name
	}
	return a.Labels["alertname"]
}

func (c *alertCounts) publish(inv *inventory, loop int, counts map[stateRule]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loops[loop] = counts
	now := map[stateRule]int{}
	for _, r := range inv.rules {
		if r.Enabled {
			for _, s := range alertStates {
				now[stateRule{s, r.Name}] = 0
			}
		}
	}
	for _, l := range c.loops {
		for k, n := range l {
			now[k] += n
		}
	}
	for k := range c.set {
		if _, ok := now[k]; !ok {
			c.gauge.DeleteLabelValues(k.state, k.rule)
			delete(c.set, k)
		}
	}
	for k, n := range now {
		c.gauge.WithLabelValues(k.state, k.rule).Set(float64(n))
		c.set[k] = true
	}
}

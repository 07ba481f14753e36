package alerting

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wardops/wardops/model"
)

// CycleStats is what one evaluation cost, for the benchmark.
type CycleStats struct {
	Down, Rules           time.Duration
	PGQueries, VMQueries  int
	ProbesRead, NewAlerts int
}

// Evaluator runs evaluations one at a time on demand, as the leader would, for the benchmark:
// no timers, no senders (notifications stay in the outbox).
type Evaluator struct {
	e     *engine
	down  *downEval
	rules *ruleEval
	reg   *prometheus.Registry
}

// NewEvaluator takes leadership and loads the committed state. Close releases it.
func NewEvaluator(ctx context.Context, o Options) (*Evaluator, error) {
	reg := prometheus.NewRegistry()
	o.Registry = reg
	if err := o.check(); err != nil {
		return nil, err
	}
	lead, err := o.Store.TryLeadership(ctx, time.Minute)
	if err != nil {
		return nil, err
	}
	if lead == nil {
		return nil, errors.New("another evaluator leads")
	}
	m := newMetrics(reg, o.Alertmanagers)
	ev := &Evaluator{reg: reg}
	ev.e = &engine{o: &o, m: m, st: o.Store, lead: lead, kick: map[string]chan struct{}{}, probes: newProbeWindow()}
	if err := ev.e.refreshInventory(ctx); err != nil {
		lead.Release()
		return nil, err
	}
	ev.down = &downEval{e: ev.e, states: map[int64]*model.DeviceState{}, open: map[alertKey]*model.AlertRecord{}, down: map[int64]bool{}}
	ev.rules = newRuleEval(ev.e)
	return ev, nil
}

// Close gives leadership up.
func (ev *Evaluator) Close() { ev.e.lead.Release() }

// Once runs one down-detection cycle and one threshold-rule cycle at now.
func (ev *Evaluator) Once(ctx context.Context, now time.Time) (CycleStats, error) {
	pg0, vm0, pr0 := ev.counter("wardops_alerting_pg_queries_total"), ev.counter("wardops_alerting_vm_queries_total"), ev.counter("wardops_alerting_probes_read_total")
	open0 := len(ev.down.open) + len(ev.rules.open)
	var s CycleStats
	t0 := time.Now()
	if err := ev.down.cycle(ctx, now); err != nil {
		return s, err
	}
	s.Down = time.Since(t0)
	t1 := time.Now()
	if err := ev.rules.cycle(ctx, now); err != nil {
		return s, err
	}
	s.Rules = time.Since(t1)
	s.PGQueries = int(ev.counter("wardops_alerting_pg_queries_total") - pg0)
	s.VMQueries = int(ev.counter("wardops_alerting_vm_queries_total") - vm0)
	s.ProbesRead = int(ev.counter("wardops_alerting_probes_read_total") - pr0)
	s.NewAlerts = len(ev.down.open) + len(ev.rules.open) - open0
	return s, nil
}

// Down runs one down-detection cycle alone at now, as the leader's down loop does every down
// interval without waiting for the threshold rules.
func (ev *Evaluator) Down(ctx context.Context, now time.Time) (CycleStats, error) {
	pg0 := ev.counter("wardops_alerting_pg_queries_total")
	var s CycleStats
	t0 := time.Now()
	err := ev.down.cycle(ctx, now)
	s.Down = time.Since(t0)
	s.PGQueries = int(ev.counter("wardops_alerting_pg_queries_total") - pg0)
	return s, err
}

func (ev *Evaluator) counter(name string) float64 {
	mfs, _ := ev.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += counterValue(m)
		}
	}
	return sum
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}

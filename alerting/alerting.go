// Package alerting evaluates wardops' alert rules and notifies Alertmanager. One process at a
// time leads (a PostgreSQL advisory lock); the others stand by and take over when it goes.
// The leader runs, until its leadership ends:
//   - down detection on ping_results as probes land (down.go): DeviceDown with root-cause
//     suppression over several parents, maintenance, flapping and the blind guard;
//   - the threshold rules, one MetricsQL query per rule per evaluation (rules.go);
//   - one outbox sender per Alertmanager (notify.go).
//
// Every evaluation commits its alerts, their notifications and the evaluator's state in one
// transaction, so a new leader carries on exactly where the last one committed.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/wardops/wardops/internal/backoff"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// Store is what alerting needs from PostgreSQL; *store.Store is it.
type Store interface {
	TryLeadership(ctx context.Context, check time.Duration) (*store.Leadership, error)
	LoadEvaluatorState(ctx context.Context) (store.EvaluatorState, error)
	CommitCycle(ctx context.Context, lead *store.Leadership, receivers []string, c *store.CycleChange) error
	ProbeStates(ctx context.Context, since time.Time) ([]model.ProbeState, error)
	SNMPStates(ctx context.Context, since time.Time, has func(id int64, changed time.Time) bool) ([]model.SNMPState, time.Time, error)
	AlertDevices(ctx context.Context) ([]model.DeviceNode, error)
	AlertRules(ctx context.Context) ([]model.Rule, error)
	MaintenanceWindows(ctx context.Context, endedAfter time.Time) ([]model.MaintenanceWindow, error)
	Outbox(ctx context.Context, receiver string, limit int) ([]model.OutboxEntry, error)
	OutboxDelivered(ctx context.Context, receiver string, ids []int64, fired []string, at time.Time) error
	FiringsAccepted(ctx context.Context, receiver string, since time.Time) (map[string]time.Time, error)
	OutboxFailed(ctx context.Context, ids []int64, reason string) error
	NotifiedAlerts(ctx context.Context, resolvedSince time.Time) ([]model.AlertRecord, error)
}

// Options configures Run. The durations have their defaults in config (WARDOPS_ALERT_*).
type Options struct {
	Store         Store
	VMURL         string   // VictoriaMetrics query URL; "" leaves the expression rules unevaluated
	Alertmanagers []string // base URLs; each gets every notification
	PingInterval  time.Duration
	// DownInterval is how often down detection reads new probes; EvalInterval how often the
	// threshold rules run.
	DownInterval, EvalInterval time.Duration
	ResendInterval             time.Duration // firing alerts re-sent this often
	ResolvedResend             time.Duration // resolved alerts re-sent for this long
	Timeout                    time.Duration // per Alertmanager request and per VictoriaMetrics query
	// GroupWait is the receiving Alertmanager route's group_wait: a resolution delivered less than
	// this after its firing would be merged away by Alertmanager, so it waits.
	GroupWait      time.Duration
	InventoryEvery time.Duration // inventory, rules and maintenance windows re-read this often
	ExternalURL    string        // the query service as people reach it, for links
	Registry       prometheus.Registerer
	Log            *slog.Logger
}

func (o *Options) check() error {
	if o.Store == nil || o.Log == nil || o.Registry == nil {
		return errors.New("cannot run alerting: Store, Log and Registry are required")
	}
	for name, d := range map[string]time.Duration{"PingInterval": o.PingInterval, "DownInterval": o.DownInterval,
		"EvalInterval": o.EvalInterval, "ResendInterval": o.ResendInterval, "ResolvedResend": o.ResolvedResend,
		"Timeout": o.Timeout, "InventoryEvery": o.InventoryEvery} {
		if d <= 0 {
			return fmt.Errorf("cannot run alerting: %s must be positive", name)
		}
	}
	return nil
}

// Run stands by for leadership and leads while it holds it, until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	m := newMetrics(o.Registry, o.Alertmanagers)
	o.Log.Info("alerting started", "alertmanagers", len(o.Alertmanagers), "down_interval", o.DownInterval)
	bo := &backoff.Backoff{Min: o.DownInterval, Max: 30 * time.Second}
	for {
		lead, err := o.Store.TryLeadership(ctx, o.DownInterval)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			o.Log.Warn("cannot try alerting leadership", "err", err)
		case lead != nil:
			m.leader.Set(1)
			m.leaderChanges.Inc()
			o.Log.Info("alerting leadership acquired")
			err := lead1(ctx, &o, m, lead)
			lead.Release()
			m.leader.Set(0)
			if ctx.Err() != nil {
				return nil
			}
			o.Log.Warn("alerting leadership ended", "err", err)
			bo.Reset()
		}
		// A standby tries every down interval, so it takes over within two of them.
		wait := o.DownInterval
		if err != nil {
			wait = bo.Next()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// lead1 runs one leadership term: load the committed state, then every loop until the
// leadership is lost, a loop fails, or ctx ends.
func lead1(ctx context.Context, o *Options, m *metrics, lead *store.Leadership) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := &engine{o: o, m: m, st: o.Store, lead: lead, kick: map[string]chan struct{}{}, probes: newProbeWindow()}
	if err := e.refreshInventory(ctx); err != nil {
		return err
	}
	st, err := o.Store.LoadEvaluatorState(ctx)
	if err != nil {
		return err
	}
	down := &downEval{e: e, cursor: st.Cursor, states: map[int64]*model.DeviceState{}, open: map[alertKey]*model.AlertRecord{}, down: map[int64]bool{}}
	rules := newRuleEval(e)
	for i := range st.Devices {
		d := st.Devices[i]
		down.states[d.DeviceID] = &d
		if !d.Up {
			down.down[d.DeviceID] = true
		}
	}
	kinds := map[int64]string{}
	for _, r := range e.inv.Load().rules {
		kinds[r.ID] = r.Kind
	}
	for i := range st.Open {
		a := st.Open[i]
		switch k := kinds[a.RuleID]; {
		case k == model.RuleDeviceDown || k == model.RuleFlapping || k == model.RuleBlind:
			down.open[keyOf(&a)] = &a
			if k == model.RuleBlind {
				down.blind = true
			}
		case thresholdRule(k):
			rules.open[keyOf(&a)] = &a
		}
	}
	for i := range st.Pending {
		p := st.Pending[i]
		rules.pending[alertKey{p.RuleID, p.DeviceID, p.Instance}] = &p
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		select {
		case <-lead.Lost():
			return errors.New("the leader connection to PostgreSQL was lost")
		case <-gctx.Done():
			return nil
		}
	})
	g.Go(func() error {
		return every(gctx, o.InventoryEvery, func(ctx context.Context) error { return e.refreshInventory(ctx) })
	})
	// timed runs one evaluation cycle and observes its duration under loop.
	timed := func(loop string, cycle func(context.Context, time.Time) error) func(context.Context) error {
		return func(ctx context.Context) error {
			t0 := time.Now()
			err := cycle(ctx, t0)
			m.evalDuration.WithLabelValues(loop).Observe(time.Since(t0).Seconds())
			return err
		}
	}
	g.Go(func() error { return every(gctx, o.DownInterval, timed("down", down.cycle)) })
	g.Go(func() error { return every(gctx, o.EvalInterval, timed("rules", rules.cycle)) })
	for _, u := range o.Alertmanagers {
		s := newSender(e, u)
		e.kick[u] = s.kick
		g.Go(func() error { return s.run(gctx) })
	}
	return g.Wait()
}

// every runs f now and then every d until ctx ends; f's error ends it (and with it the term:
// the next leader, maybe this process again, reloads the committed state).
func every(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if err := f(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (e *engine) refreshInventory(ctx context.Context) error {
	devs, err := e.st.AlertDevices(ctx)
	if err != nil {
		return err
	}
	rules, err := e.st.AlertRules(ctx)
	if err != nil {
		return err
	}
	ws, err := e.st.MaintenanceWindows(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	e.m.pgQueries.Add(3)
	e.inv.Store(newInventory(devs, rules, ws, e.o.PingInterval))
	return nil
}

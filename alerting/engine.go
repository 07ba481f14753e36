package alerting

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// engine is what the loops of one leadership term share: the store, the inventory snapshot, the
// down devices' root causes and the outbox kick.
type engine struct {
	o    *Options
	m    *metrics
	st   Store
	lead *store.Leadership
	inv  atomic.Pointer[inventory]
	// roots maps each down device to the device its outage is blamed on (itself, or the root
	// cause above it), so threshold rules hold their alerts for devices already down.
	roots atomic.Pointer[map[int64]int64]
	// probes is the window of probes the ping rules judge, fed by down detection's reads.
	probes *probeWindow
	kick   map[string]chan struct{}
	// counts is built on first use, so every way of making an engine gets it.
	countsOnce sync.Once
	counts     *alertCounts
}

func (e *engine) alertCounts() *alertCounts {
	e.countsOnce.Do(func() { e.counts = newAlertCounts(e.m.alerts) })
	return e.counts
}

// readProbes reads the probes since a time, counts the read and feeds them to the ping rules'
// window: down detection and the rules' backfill read ping_results through this one place.
func (e *engine) readProbes(ctx context.Context, since time.Time) ([]model.ProbeState, error) {
	ps, err := e.st.ProbeStates(ctx, since)
	e.m.pgQueries.Inc()
	if err != nil {
		return nil, err
	}
	e.m.probesRead.Add(float64(len(ps)))
	e.probes.add(ps)
	return ps, nil
}

func (e *engine) publishRoots(r map[int64]int64) { e.roots.Store(&r) }

func (e *engine) rootOf(id int64) (int64, bool) {
	p := e.roots.Load()
	if p == nil {
		return 0, false
	}
	r, ok := (*p)[id]
	return r, ok
}

func (e *engine) newAlert(r model.Rule, dev *model.DeviceNode, instance string, value *float64, firedAt, now time.Time, extra map[string]string) *model.AlertRecord {
	a := &model.AlertRecord{RuleID: r.ID, Instance: instance, Severity: r.Severity, FiredAt: firedAt, OpenedAt: now, Value: value}
	if dev != nil {
		a.DeviceID = dev.ID
	}
	a.Labels = alertLabels(r, dev, extra)
	a.Fingerprint = fingerprint(a.Labels)
	return a
}

func (e *engine) annotations(dev *model.DeviceNode, summary, desc string) map[string]string {
	an := map[string]string{"summary": summary, "description": desc}
	if dev != nil && e.o.ExternalURL != "" {
		an["link"] = e.o.ExternalURL + "/#device-" + strconv.FormatInt(dev.ID, 10)
	}
	return an
}

func (e *engine) payload(a *model.AlertRecord, resolved bool) model.Notification {
	n := model.Notification{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.FiredAt.UTC()}
	if e.o.ExternalURL != "" {
		n.GeneratorURL = e.o.ExternalURL + "/api/v1/alert-rules/" + strconv.FormatInt(a.RuleID, 10)
		if a.DeviceID != 0 {
			n.GeneratorURL += "?device_id=" + url.QueryEscape(strconv.FormatInt(a.DeviceID, 10))
		}
	}
	if resolved && a.ResolvedAt != nil {
		n.EndsAt = a.ResolvedAt.UTC()
	}
	return n
}

// notify queues a's firing notification and marks it notified.
func (e *engine) notify(ch *store.CycleChange, a *model.AlertRecord, now time.Time) {
	t := now
	a.NotifiedAt = &t
	ch.Notify = append(ch.Notify, store.Notify{Alert: a, Payload: e.payload(a, false)})
}

// refresh queues a notified alert again because its text changed; it is not a new page.
func (e *engine) refresh(ch *store.CycleChange, a *model.AlertRecord, _ time.Time) {
	ch.Notify = append(ch.Notify, store.Notify{Alert: a, Payload: e.payload(a, false)})
}

// resolve closes a at `at` (clamped to its start) and, if it was notified, queues its resolution.
func (e *engine) resolve(ch *store.CycleChange, a *model.AlertRecord, at, _ time.Time) {
	if at.Before(a.FiredAt) {
		at = a.FiredAt
	}
	a.ResolvedAt = &at
	ch.Updated = append(ch.Updated, a)
	if a.NotifiedAt != nil {
		ch.Notify = append(ch.Notify, store.Notify{Alert: a, Resolved: true, Payload: e.payload(a, true)})
	}
}

// relabel handles a device whose labels changed (it moved branch, or got a new IP or name): a
// notified alert's old label set is resolved explicitly in Alertmanager, then the alert fires
// again under the new one, keeping its start.
func (e *engine) relabel(ch *store.CycleChange, a *model.AlertRecord, r model.Rule, dev *model.DeviceNode, now time.Time) bool {
	extra := map[string]string{}
	for k, v := range a.Labels {
		if _, isRule := r.Labels[k]; !deviceLabels[k] && k != "alertname" && k != "severity" && !isRule {
			extra[k] = v
		}
	}
	nl := alertLabels(r, dev, extra)
	if sameLabels(nl, a.Labels) {
		return false
	}
	if a.NotifiedAt != nil {
		old := *a
		t := now
		old.ResolvedAt = &t
		ch.Notify = append(ch.Notify, store.Notify{Alert: a, Resolved: true, Payload: e.payload(&old, true)})
	}
	a.Labels, a.Fingerprint, a.Severity = nl, fingerprint(nl), r.Severity
	if a.NotifiedAt != nil {
		ch.Notify = append(ch.Notify, store.Notify{Alert: a, Payload: e.payload(a, false)})
	}
	return true
}

// commit writes one evaluation and kicks the outbox senders when it queued notifications.
func (e *engine) commit(ctx context.Context, ch *store.CycleChange) error {
	seen := make(map[*model.AlertRecord]bool, len(ch.Updated))
	upd := ch.Updated[:0]
	isNew := make(map[*model.AlertRecord]bool, len(ch.NewAlerts))
	for _, a := range ch.NewAlerts {
		isNew[a] = true
	}
	for _, a := range ch.Updated {
		if !seen[a] && !isNew[a] {
			seen[a] = true
			upd = append(upd, a)
		}
	}
	ch.Updated = upd
	e.m.pgQueries.Inc()
	if err := e.st.CommitCycle(ctx, e.lead, e.o.Alertmanagers, ch); err != nil {
		return err
	}
	if len(ch.Notify) > 0 {
		for _, k := range e.kick {
			select {
			case k <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

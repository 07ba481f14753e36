package alerting

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// cursorOverlap is how far before the newest probe already read each read starts again.
const cursorOverlap = model.PingLandingSlack

// blindMinProbes is the fewest probes in one read that the blind guard judges: a small fleet's
// handful of probes per cycle says nothing about the collector's uplink.
const blindMinProbes = 10

// downEval is down detection: it reads the probes that landed since the last cycle, keeps each
// device's state and history, and opens, holds, releases and resolves the DeviceDown,
// DeviceFlapping and MonitoringBlind alerts. It is owned by one goroutine.
type downEval struct {
	e      *engine
	cursor time.Time
	states map[int64]*model.DeviceState
	open   map[alertKey]*model.AlertRecord
	down   map[int64]bool // devices whose state is down
	blind  bool
}

type alertKey struct {
	rule, device int64
	instance     string
}

func keyOf(a *model.AlertRecord) alertKey { return alertKey{a.RuleID, a.DeviceID, a.Instance} }

type status int

const (
	statusSelf       status = iota // pages for itself
	statusSuppressed               // every parent is down: root pages
	statusWait                     // a parent's or a child's state after this failure is not known yet
)

type decision struct {
	status status
	root   int64
}

// cycle runs one evaluation at now.
func (d *downEval) cycle(ctx context.Context, now time.Time) error {
	inv := d.e.inv.Load()
	defer d.count(inv)
	since := d.cursor.Add(-cursorOverlap)
	if d.cursor.IsZero() {
		since = now.Add(-2 * inv.maxInterval)
	}
	probes, err := d.e.readProbes(ctx, since)
	if err != nil {
		return err
	}
	ch := &store.CycleChange{}
	touched := map[int64]bool{}
	var nProbes, nFailed int
	downRule, downOn := inv.rule(model.RuleDeviceDown)
	flapRule, flapOn := inv.rule(model.RuleFlapping)
	start, stop := 30.0, 20.0
	if flapRule.Threshold != nil {
		start = *flapRule.Threshold
	}
	if flapRule.Recovery != nil {
		stop = *flapRule.Recovery
	}
	for _, p := range probes {
		if p.Timestamp.After(d.cursor) {
			d.cursor = p.Timestamp
		}
		st := d.states[p.DeviceID]
		if st != nil && !p.Timestamp.After(st.LastProbe) {
			continue
		}
		nProbes++
		if !p.Up {
			nFailed++
		}
		if st == nil {
			st = &model.DeviceState{DeviceID: p.DeviceID, Up: p.Up, Since: p.Timestamp}
			d.states[p.DeviceID] = st
		}
		st.History, st.HistoryLen = pushState(st.History, st.HistoryLen, !p.Up)
		if st.Up != p.Up {
			st.Up, st.Since = p.Up, p.Timestamp
		}
		st.LastProbe = p.Timestamp
		pct := percentStateChange(st.History, st.HistoryLen)
		if !st.Flapping && pct >= start {
			st.Flapping = true
		} else if st.Flapping && pct < stop {
			st.Flapping = false
		}
		if st.Up {
			delete(d.down, p.DeviceID)
		} else {
			d.down[p.DeviceID] = true
		}
		touched[p.DeviceID] = true
	}
	if len(probes) > 0 {
		c := d.cursor
		ch.Cursor = &c
	}
	for id := range touched {
		ch.Devices = append(ch.Devices, *d.states[id])
	}
	d.judgeBlind(inv, ch, now, nProbes, nFailed)

	mt := newMaintenance(inv, now)
	c := &causes{d: d, inv: inv, now: now, memo: map[int64]decision{}}
	roots := map[int64]int64{}
	behind := map[int64][]string{}
	for id := range d.down {
		if dev := inv.devices[id]; dev == nil || !dev.Enabled {
			continue
		}
		dec := c.decide(id)
		if dec.status == statusSuppressed {
			roots[id] = dec.root
			behind[dec.root] = append(behind[dec.root], inv.devices[id].Name)
		} else {
			roots[id] = id
		}
	}
	d.e.publishRoots(roots)

	if flapOn {
		d.flapping(inv, ch, flapRule, mt, now)
	}
	if downOn {
		for id := range d.down {
			dev := inv.devices[id]
			if dev == nil || !dev.Enabled {
				continue
			}
			dec := c.decide(id)
			if dec.status == statusWait {
				continue
			}
			st := d.states[id]
			hold, supp := model.HoldNone, int64(0)
			switch {
			case dec.status == statusSuppressed:
				hold, supp = model.HoldSuppressed, dec.root
			case mt.covers(id):
				hold = model.HoldMaintenance
			case st.Flapping:
				hold = model.HoldFlapping
			case unsettled(st.History, st.HistoryLen):
				hold = model.HoldUnsettled
			case d.blind:
				hold = model.HoldBlind
			}
			sum, desc := downText(inv, dev, st, behind[id])
			key := alertKey{downRule.ID, id, ""}
			a := d.open[key]
			if a == nil {
				a = d.e.newAlert(downRule, dev, "", nil, st.Since, now, nil)
				a.HoldReason, a.SuppressedBy = hold, supp
				a.Summary, a.Annotations = sum, d.e.annotations(dev, sum, desc)
				d.open[key] = a
				ch.NewAlerts = append(ch.NewAlerts, a)
				d.e.m.stage.WithLabelValues(stageProbeToOpen).Observe(now.Sub(st.Since).Seconds())
				if hold == model.HoldNone {
					d.e.notify(ch, a, now)
				}
				continue
			}
			changed := d.e.relabel(ch, a, downRule, dev, now)
			if a.NotifiedAt == nil {
				if a.HoldReason != hold || a.SuppressedBy != supp || a.Summary != sum {
					a.HoldReason, a.SuppressedBy = hold, supp
					a.Summary, a.Annotations = sum, d.e.annotations(dev, sum, desc)
					changed = true
				}
				if hold == model.HoldNone {
					d.e.notify(ch, a, now)
					changed = true
				}
			} else if a.Summary != sum {
				// A router's page names what is behind it; as children's probes land the count
				// grows, and Alertmanager gets the new text with the refreshed alert.
				a.Summary, a.Annotations = sum, d.e.annotations(dev, sum, desc)
				d.e.refresh(ch, a, now)
				changed = true
			}
			if changed {
				ch.Updated = append(ch.Updated, a)
			}
		}
	}
	// Resolutions: the device answered after the alert's first failure, or it is gone.
	for key, a := range d.open {
		if key.rule != downRule.ID {
			continue
		}
		st := d.states[key.device]
		dev := inv.devices[key.device]
		var at time.Time
		switch {
		case dev == nil || !dev.Enabled || !downOn:
			at = now
		case st != nil && st.Up && st.Since.After(a.FiredAt):
			at = st.Since
		default:
			continue
		}
		d.e.resolve(ch, a, at, now)
		delete(d.open, key)
	}
	if ch.Empty() {
		return nil
	}
	return d.e.commit(ctx, ch)
}

// count publishes the open down, flapping and blind alerts by state.
func (d *downEval) count(inv *inventory) {
	c := make(map[stateRule]int, 8)
	for _, a := range d.open {
		c[stateRule{stateOf(a), ruleName(inv, a)}]++
	}
	d.e.alertCounts().publish(inv, loopDown, c)
}

// judgeBlind opens MonitoringBlind when most of one read's probes failed, and closes it when a
// read shows most probes answered again. While it is open, new down alerts are held.
func (d *downEval) judgeBlind(inv *inventory, ch *store.CycleChange, now time.Time, n, failed int) {
	r, on := inv.rule(model.RuleBlind)
	share := 0.3
	if r.Threshold != nil {
		share = *r.Threshold
	}
	if on && n >= blindMinProbes {
		frac := float64(failed) / float64(n)
		switch {
		case !d.blind && frac > share && failed >= blindMinProbes:
			d.blind = true
		case d.blind && frac < share/2:
			d.blind = false
		}
	} else if !on {
		d.blind = false
	}
	key := alertKey{r.ID, 0, ""}
	a := d.open[key]
	switch {
	case d.blind && a == nil:
		sum := fmt.Sprintf("%d of %d probes failed in one cycle: the collector has likely lost its own uplink", failed, n)
		a = d.e.newAlert(r, nil, "", nil, now, now, nil)
		a.Summary, a.Annotations = sum, map[string]string{"summary": sum,
			"description": "down alerts are recorded and held until most probes answer again"}
		d.open[key] = a
		ch.NewAlerts = append(ch.NewAlerts, a)
		d.e.notify(ch, a, now)
	case !d.blind && a != nil:
		d.e.resolve(ch, a, now, now)
		delete(d.open, key)
	}
}

// flapping opens DeviceFlapping once per flapping spell and resolves it when the device settles.
func (d *downEval) flapping(inv *inventory, ch *store.CycleChange, r model.Rule, mt *maintenance, now time.Time) {
	for id, st := range d.states {
		key := alertKey{r.ID, id, ""}
		a := d.open[key]
		dev := inv.devices[id]
		switch {
		case st.Flapping && a == nil && dev != nil && dev.Enabled:
			pct := percentStateChange(st.History, st.HistoryLen)
			sum := fmt.Sprintf("%s (%s) is flapping: %.0f%% state change over its last %d probes", dev.Name, dev.IP, pct, st.HistoryLen)
			v := pct
			a = d.e.newAlert(r, dev, "", &v, now, now, nil)
			a.Summary, a.Annotations = sum, d.e.annotations(dev, sum, "up/down pages are held until it settles")
			if mt.covers(id) {
				a.HoldReason = model.HoldMaintenance
			}
			d.open[key] = a
			ch.NewAlerts = append(ch.NewAlerts, a)
			if a.HoldReason == model.HoldNone {
				d.e.notify(ch, a, now)
			}
		case a != nil && (!st.Flapping || dev == nil || !dev.Enabled):
			d.e.resolve(ch, a, now, now)
			delete(d.open, key)
		case a != nil && a.NotifiedAt == nil && !mt.covers(id):
			a.HoldReason = model.HoldNone
			d.e.notify(ch, a, now)
			ch.Updated = append(ch.Updated, a)
		}
	}
}

// causes decides, once per device per cycle, whether a down device pages itself, is behind a
// down parent, or must wait because the state of a parent or child after its failure is not
// known yet.
type causes struct {
	d    *downEval
	inv  *inventory
	now  time.Time
	memo map[int64]decision
}

func (c *causes) stale(id int64) bool {
	st := c.d.states[id]
	return st == nil || c.now.Sub(st.LastProbe) > 2*c.inv.interval(id)+cursorOverlap
}

// waitCap bounds every wait: past it the device pages on what is known.
func (c *causes) waitCap() time.Duration { return c.inv.maxInterval + cursorOverlap }

func (c *causes) decide(id int64) decision {
	if dec, ok := c.memo[id]; ok {
		return dec
	}
	c.memo[id] = decision{statusSelf, id} // cuts a cycle that slipped into the data
	st := c.d.states[id]
	dev := c.inv.devices[id]
	allDown, wait := false, false
	var downParent int64
	if dev != nil {
		allDown = len(dev.Parents) > 0
		for _, p := range dev.Parents {
			pd := c.inv.devices[p]
			if pd == nil || !pd.Enabled || c.stale(p) {
				// Nothing known about this parent: it cannot be blamed.
				allDown = false
				continue
			}
			ps := c.d.states[p]
			if !ps.Up {
				if downParent == 0 || p < downParent {
					downParent = p
				}
				continue
			}
			allDown = false
			// The parent is up, but is that news from after this device failed, and is this
			// device's failure news from after the parent came back?
			if !ps.LastProbe.After(st.Since) || !st.LastProbe.After(ps.Since) {
				wait = true
			}
		}
	}
	capped := c.now.Sub(st.Since) >= c.waitCap()
	var dec decision
	switch {
	case allDown:
		dec = decision{statusSuppressed, c.decide(downParent).root}
	case wait && !capped:
		dec = decision{statusWait, id}
	default:
		dec = decision{statusSelf, id}
		if !capped && !c.descendantsKnown(id, st.Since) {
			dec.status = statusWait
		}
	}
	c.memo[id] = dec
	return dec
}

// descendantsKnown reports whether every device behind id (through down devices) is down or has
// answered a probe after since, so a root's page can name everything behind it.
func (c *causes) descendantsKnown(id int64, since time.Time) bool {
	seen := map[int64]bool{id: true}
	queue := append([]int64(nil), c.inv.children[id]...)
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if seen[x] {
			continue
		}
		seen[x] = true
		if dev := c.inv.devices[x]; dev == nil || !dev.Enabled || c.stale(x) {
			continue
		}
		st := c.d.states[x]
		// Down already is known; up is news only if it came after the failure.
		if st.Up && !st.LastProbe.After(since) {
			return false
		}
		if !st.Up {
			queue = append(queue, c.inv.children[x]...)
		}
	}
	return true
}

func downText(inv *inventory, dev *model.DeviceNode, st *model.DeviceState, behind []string) (summary, desc string) {
	where := dev.Branch
	if where == "" {
		where = "no branch"
	}
	if len(behind) == 0 {
		return fmt.Sprintf("%s (%s) down in branch %s", dev.Name, dev.IP, where),
			fmt.Sprintf("no echo reply since %s", st.Since.UTC().Format(time.RFC3339))
	}
	sort.Strings(behind)
	names := behind
	more := ""
	if len(names) > 50 {
		names, more = names[:50], fmt.Sprintf(" and %d more", len(behind)-50)
	}
	return fmt.Sprintf("branch %s down: router %s, %d devices behind it", where, dev.Name, len(behind)),
		fmt.Sprintf("no echo reply from %s (%s) since %s; behind it: %s%s", dev.Name, dev.IP,
			st.Since.UTC().Format(time.RFC3339), strings.Join(names, ", "), more)
}

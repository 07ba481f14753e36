package alerting

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wardops/wardops/model"
)

// The default threshold rules judge data wardops already holds: the probes down detection reads
// from ping_results, and the devices' latest SNMP polls the collector writes to snmp_states. They
// are evaluated here, in memory, instead of as VictoriaMetrics queries: those scan every series of
// every device every cycle (eight per device for the defaults, interfaces included), seconds of
// VictoriaMetrics' CPU at 100,000 devices, to find the handful past a threshold. Expression rules
// still go to VictoriaMetrics. A device or interface with no data in a rule's window gives no
// value: its open alerts and timers stay as they are, as an empty answer from VictoriaMetrics
// leaves them.

// localRule reports whether a rule kind is judged in memory.
func localRule(kind string) bool {
	switch kind {
	case model.RuleHighRTT, model.RulePacketLoss, model.RuleIfOperDown, model.RuleIfErrors, model.RuleRebooted,
		model.RuleSNMPUnreachable:
		return true
	}
	return false
}

// ifStaleness is how old an interface's last poll may be and still be judged by InterfaceDown: the
// lookback VictoriaMetrics gives an instant query of a series.
const ifStaleness = 5 * time.Minute

// snmpOverlap is how far before the newest snmp_states write already read each read starts
// again: a write's timestamp is its transaction's start, and a transaction that began earlier may
// commit later.
const snmpOverlap = 10 * time.Second

// window returns a rule's window, or its kind's default.
func window(r model.Rule) time.Duration {
	if r.Window > 0 {
		return r.Window
	}
	switch r.Kind {
	case model.RuleRebooted:
		return 15 * time.Minute
	case model.RuleSNMPUnreachable:
		return 3 * time.Minute
	}
	return 5 * time.Minute
}

// probeWindow keeps each device's probes of the last span (the longest window of the enabled
// ping rules). Down detection adds what it reads; the rule loop reads means and, on its first
// cycle or when a window grows, fills the span from ping_results once. It is shared by the two
// loops of one leadership term. Probes hold no pointers, so 100,000 devices' windows cost the
// garbage collector nothing to scan.
type probeWindow struct {
	mu    sync.Mutex
	byDev map[int64][]probe // oldest first
	// from is when the probes held are complete from (the start of the backfill); zero: never
	// filled.
	from time.Time
}

type probe struct {
	at        int64 // Unix nanoseconds
	rtt, loss float64
}

func newProbeWindow() *probeWindow { return &probeWindow{byDev: map[int64][]probe{}} }

// add keeps probes, ignoring the ones already held (reads overlap).
func (w *probeWindow) add(ps []model.ProbeState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range ps {
		pr := probe{at: p.Timestamp.UnixNano(), rtt: p.RTTMs, loss: p.Loss}
		h := w.byDev[p.DeviceID]
		if n := len(h); n == 0 || h[n-1].at < pr.at {
			w.byDev[p.DeviceID] = append(h, pr)
			continue
		}
		i, found := slices.BinarySearchFunc(h, pr.at, func(a probe, t int64) int { return cmp.Compare(a.at, t) })
		if !found {
			w.byDev[p.DeviceID] = slices.Insert(h, i, pr)
		}
	}
}

// prune drops the probes before from.
func (w *probeWindow) prune(from time.Time) {
	f := from.UnixNano()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, h := range w.byDev {
		i := 0
		for i < len(h) && h[i].at < f {
			i++
		}
		switch {
		case i == len(h):
			delete(w.byDev, id)
		case i > 0:
			w.byDev[id] = slices.Delete(h, 0, i)
		}
	}
}

// complete reports whether the probes since from are all held.
func (w *probeWindow) complete(from time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.from.IsZero() && !w.from.After(from)
}

func (w *probeWindow) filled(from time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.from = from
}

// mean returns a device's mean RTT in ms over its answered probes after from (NaN when none was
// answered) and its mean loss ratio; ok is false when it has no probe after from.
func mean(h []probe, from int64) (rtt, loss float64, ok bool) {
	var n, nr int
	for i := len(h) - 1; i >= 0 && h[i].at > from; i-- {
		n++
		loss += h[i].loss
		if !math.IsNaN(h[i].rtt) {
			nr++
			rtt += h[i].rtt
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	if nr == 0 {
		return math.NaN(), loss / float64(n), true
	}
	return rtt / float64(nr), loss / float64(n), true
}

// each calls f with every device's probes, under the window's lock.
func (w *probeWindow) each(f func(id int64, h []probe)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, h := range w.byDev {
		f(id, h)
	}
}

// of returns a copy of one device's probes.
func (w *probeWindow) of(id int64) []probe {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.byDev[id])
}

// snmpView is the latest SNMP state of every polled device and its interfaces' error rates of
// the last span, kept by the rule loop from its reads of snmp_states.
type snmpView struct {
	cursor time.Time // newest write read, by the database's clock
	devs   map[int64]*snmpDevice
	// labels are the interface label sets held, by instance (intern). A set no interface holds
	// any more stays until the leadership term ends: there are as many as distinct interface
	// names in the fleet.
	labels map[string]map[string]string
}

type snmpDevice struct {
	st   model.SNMPState // Interfaces kept from the last read that returned them
	inst []string        // instanceOf of each interface's labels, in st.Interfaces' order
	// rates are each interface's error rates of the last span, in st.Interfaces' order.
	rates [][]ratePoint
}

type ratePoint struct {
	at   int64 // Unix nanoseconds
	rate float64
}

// read takes the states written since the last read and keeps span of error rates.
func (v *snmpView) read(ctx context.Context, st Store, span time.Duration, now time.Time) (int, error) {
	since := time.Time{}
	if !v.cursor.IsZero() {
		since = v.cursor.Add(-snmpOverlap)
	}
	states, newest, err := st.SNMPStates(ctx, since, func(id int64, changed time.Time) bool {
		d := v.devs[id]
		return d != nil && d.st.InterfacesChanged.Equal(changed)
	})
	if err != nil {
		return 0, err
	}
	v.cursor = newest
	for _, s := range states {
		v.take(s)
	}
	from := now.Add(-span).UnixNano()
	for _, d := range v.devs {
		for i, rs := range d.rates {
			k := 0
			for k < len(rs) && rs[k].at < from {
				k++
			}
			if k > 0 {
				d.rates[i] = slices.Delete(rs, 0, k)
			}
		}
	}
	return len(states), nil
}

// take keeps one state read.
func (v *snmpView) take(s model.SNMPState) {
	d := v.devs[s.DeviceID]
	if d == nil {
		if !s.InterfacesRead {
			return // cannot be: a device first read comes with its interfaces
		}
		d = &snmpDevice{}
		v.devs[s.DeviceID] = d
	} else if !s.PolledAt.After(d.st.PolledAt) {
		return // read before (the reads overlap)
	}
	if s.InterfacesRead {
		d.setInterfaces(v.intern(s.Interfaces))
	} else if !s.InterfacesChanged.Equal(d.st.InterfacesChanged) {
		// Changed, but not sent: the change was read before, on a row this read skips as older
		// than the one held. Keep the version held.
		s.InterfacesChanged = d.st.InterfacesChanged
	}
	s.Interfaces = d.st.Interfaces
	d.st = s
	if !s.InterfacesAt.Equal(s.PolledAt) || len(s.ErrorRates) != len(d.inst) {
		return // this poll read no interfaces: no new rates
	}
	at := s.PolledAt.UnixNano()
	for i, r := range s.ErrorRates {
		if !math.IsNaN(r) {
			d.rates[i] = append(d.rates[i], ratePoint{at, r})
		}
	}
}

// intern replaces each interface's labels by an equal set already held: a fleet of a few device
// models repeats the same interface names on thousands of devices, and one map per set instead
// of one per interface keeps the view small and cheap for the garbage collector.
func (v *snmpView) intern(ifs []model.InterfaceState) []model.InterfaceState {
	if v.labels == nil {
		v.labels = map[string]map[string]string{}
	}
	for i := range ifs {
		in := instanceOf(ifs[i].Labels)
		if l, ok := v.labels[in]; ok {
			ifs[i].Labels = l
		} else {
			v.labels[in] = ifs[i].Labels
		}
	}
	return ifs
}

// setInterfaces takes a device's new interface list, keeping the rates of the interfaces that
// stay.
func (d *snmpDevice) setInterfaces(ifs []model.InterfaceState) {
	old := make(map[string][]ratePoint, len(d.inst))
	for i, in := range d.inst {
		old[in] = d.rates[i]
	}
	d.st.Interfaces = ifs
	d.inst = make([]string, len(ifs))
	d.rates = make([][]ratePoint, len(ifs))
	for i, is := range ifs {
		d.inst[i] = instanceOf(is.Labels)
		d.rates[i] = old[d.inst[i]]
	}
}

// judgeLocal evaluates a rule judged in memory: the series not recovered, as the offenders query
// of a VictoriaMetrics rule returns them, whether any device in the rule's scope has a value,
// and, for the keys of open alerts and timers, whether they are judged: they have a value, or
// their device left the rule's scope.
func (re *ruleEval) judgeLocal(r model.Rule, inv *inventory, now time.Time) answer {
	from := now.Add(-window(r))
	var ans answer
	snmp := r.Kind != model.RuleHighRTT && r.Kind != model.RulePacketLoss
	want := func(id int64) bool {
		d := inv.devices[id]
		return d != nil && d.Enabled && (d.SNMP || !snmp) && inScope(r, d)
	}
	// put takes one value; the scope is looked at only where it decides something.
	put := func(id int64, extra map[string]string, v float64) {
		if !ans.answered && want(id) {
			ans.answered = true
		}
		if r.Recovered(v) || !want(id) {
			return
		}
		l := make(map[string]string, len(extra)+1)
		for k, x := range extra {
			l[k] = x
		}
		l["device_id"] = strconv.FormatInt(id, 10)
		ans.res = append(ans.res, series{labels: l, value: v})
	}
	switch r.Kind {
	case model.RuleHighRTT, model.RulePacketLoss:
		f := from.UnixNano()
		value := func(h []probe) (float64, bool) {
			rtt, loss, ok := mean(h, f)
			if r.Kind == model.RulePacketLoss {
				return loss * 100, ok
			}
			return rtt, ok && !math.IsNaN(rtt)
		}
		re.e.probes.each(func(id int64, h []probe) {
			if v, ok := value(h); ok {
				put(id, nil, v)
			}
		})
		ans.judged = func(k alertKey) bool {
			_, ok := value(re.e.probes.of(k.device))
			return ok
		}
	case model.RuleSNMPUnreachable, model.RuleRebooted:
		value := func(d *snmpDevice) (float64, bool) {
			if d == nil || d.st.PolledAt.Before(from) {
				return 0, false
			}
			t := d.st.LastOK
			if r.Kind == model.RuleRebooted {
				t = d.st.RebootedAt
			}
			if t.Before(from) {
				return 0, true
			}
			return 1, true
		}
		for id, d := range re.snmp.devs {
			if v, ok := value(d); ok {
				put(id, nil, v)
			}
		}
		ans.judged = func(k alertKey) bool {
			_, ok := value(re.snmp.devs[k.device])
			return ok
		}
	case model.RuleIfOperDown, model.RuleIfErrors:
		value := func(d *snmpDevice, i int) (float64, bool) {
			if r.Kind == model.RuleIfOperDown {
				is := d.st.Interfaces[i]
				if now.Sub(d.st.InterfacesAt) > ifStaleness || is.Oper == 0 || is.Admin == 0 {
					return 0, false // not read lately: no value, as no series in VictoriaMetrics
				}
				if is.Oper == 2 && is.Admin == 1 {
					return 1, true
				}
				return 0, true
			}
			var sum float64
			var n int
			f := from.UnixNano()
			for _, p := range d.rates[i] {
				if p.at >= f {
					sum += p.rate
					n++
				}
			}
			return sum / float64(n), n > 0
		}
		for id, d := range re.snmp.devs {
			for i := range d.inst {
				if v, ok := value(d, i); ok {
					put(id, d.st.Interfaces[i].Labels, v)
				}
			}
		}
		ans.judged = func(k alertKey) bool {
			d := re.snmp.devs[k.device]
			if d == nil {
				return false
			}
			for i, in := range d.inst {
				if in == k.instance {
					_, ok := value(d, i)
					return ok
				}
			}
			return false
		}
	}
	// Offenders in a stable order, so the alerts of one cycle are created in the same order
	// every time (their ids, the outbox).
	sort.Slice(ans.res, func(i, j int) bool {
		a, b := ans.res[i].labels, ans.res[j].labels
		if a["device_id"] != b["device_id"] {
			return a["device_id"] < b["device_id"]
		}
		return instanceOf(a) < instanceOf(b)
	})
	ans.fresh = ans.answered
	// A device out of the rule's scope, disabled, deleted or (for an SNMP rule) no longer polled
	// over SNMP is judged: its alerts end.
	has := ans.judged
	ans.judged = func(k alertKey) bool { return !want(k.device) || has(k) }
	return ans
}

// spans returns the longest window of the enabled ping rules and of the enabled interface error
// rules: how much each store keeps.
func spans(inv *inventory) (ping, ifErrors time.Duration) {
	for _, r := range inv.rules {
		if !r.Enabled {
			continue
		}
		switch r.Kind {
		case model.RuleHighRTT, model.RulePacketLoss:
			ping = max(ping, window(r))
		case model.RuleIfErrors:
			ifErrors = max(ifErrors, window(r))
		}
	}
	return ping, ifErrors
}

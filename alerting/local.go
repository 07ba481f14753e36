package alerting

import (
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
// loops of one leadership term.
type probeWindow struct {
	mu    sync.Mutex
	byDev map[int64][]probe // oldest first
	// from is when the probes held are complete from (the start of the backfill); zero: never
	// filled.
	from time.Time
}

type probe struct {
	at        time.Time
	rtt, loss float64
}

func newProbeWindow() *probeWindow { return &probeWindow{byDev: map[int64][]probe{}} }

// add keeps probes, ignoring the ones already held (reads overlap).
func (w *probeWindow) add(ps []model.ProbeState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range ps {
		pr := probe{at: p.Timestamp, rtt: p.RTTMs, loss: p.Loss}
		h := w.byDev[p.DeviceID]
		if n := len(h); n == 0 || h[n-1].at.Before(p.Timestamp) {
			w.byDev[p.DeviceID] = append(h, pr)
			continue
		}
		i, found := slices.BinarySearchFunc(h, p.Timestamp, func(a probe, t time.Time) int { return a.at.Compare(t) })
		if !found {
			w.byDev[p.DeviceID] = slices.Insert(h, i, pr)
		}
	}
}

// prune drops the probes before from.
func (w *probeWindow) prune(from time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, h := range w.byDev {
		i := 0
		for i < len(h) && h[i].at.Before(from) {
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

// means returns, for each device with probes after from, its mean RTT in ms over the answered
// ones (NaN when none was answered) and its mean loss ratio.
func (w *probeWindow) means(from time.Time, f func(id int64, rtt, loss float64)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, h := range w.byDev {
		var rtt, loss float64
		var n, nr int
		for i := len(h) - 1; i >= 0 && h[i].at.After(from); i-- {
			n++
			loss += h[i].loss
			if !math.IsNaN(h[i].rtt) {
				nr++
				rtt += h[i].rtt
			}
		}
		if n == 0 {
			continue
		}
		r := math.NaN()
		if nr > 0 {
			r = rtt / float64(nr)
		}
		f(id, r, loss/float64(n))
	}
}

// snmpView is the latest SNMP state of every polled device and its interfaces' error rates of
// the last span, kept by the rule loop from its reads of snmp_states.
type snmpView struct {
	cursor time.Time // newest write read, by the database's clock
	devs   map[int64]*snmpDevice
}

type snmpDevice struct {
	st    model.SNMPState
	inst  []string                // instanceOf of each interface's labels, in st.Interfaces' order
	rates map[string][]ratePoint // by instance
}

type ratePoint struct {
	at   time.Time
	rate float64
}

// read takes the states written since the last read and keeps span of error rates.
func (v *snmpView) read(ctx context.Context, st Store, span time.Duration, now time.Time) (int, error) {
	since := time.Time{}
	if !v.cursor.IsZero() {
		since = v.cursor.Add(-snmpOverlap)
	}
	states, newest, err := st.SNMPStates(ctx, since)
	if err != nil {
		return 0, err
	}
	v.cursor = newest
	for _, s := range states {
		d := v.devs[s.DeviceID]
		if d == nil {
			d = &snmpDevice{rates: map[string][]ratePoint{}}
			v.devs[s.DeviceID] = d
		} else if !s.PolledAt.After(d.st.PolledAt) {
			continue // read before (the reads overlap)
		}
		d.st = s
		d.inst = d.inst[:0]
		for _, is := range s.Interfaces {
			in := instanceOf(is.Labels)
			d.inst = append(d.inst, in)
			if is.ErrorRate != nil && s.InterfacesAt.Equal(s.PolledAt) {
				d.rates[in] = append(d.rates[in], ratePoint{s.PolledAt, *is.ErrorRate})
			}
		}
	}
	for _, d := range v.devs {
		for in, rs := range d.rates {
			i := 0
			for i < len(rs) && now.Sub(rs[i].at) > span {
				i++
			}
			if i == len(rs) {
				delete(d.rates, in)
			} else if i > 0 {
				d.rates[in] = slices.Delete(rs, 0, i)
			}
		}
	}
	return len(states), nil
}

// judgeLocal evaluates a rule judged in memory: the series not recovered, as the offenders query
// of a VictoriaMetrics rule returns them, and which keys have a value at all.
func (re *ruleEval) judgeLocal(r model.Rule, inv *inventory, now time.Time) answer {
	w := window(r)
	from := now.Add(-w)
	var ans answer
	have := map[alertKey]bool{}
	put := func(id int64, extra map[string]string, inst string, v float64) {
		k := alertKey{r.ID, id, inst}
		have[k] = true
		if r.Recovered(v) {
			return
		}
		l := make(map[string]string, len(extra)+1)
		for k, x := range extra {
			l[k] = x
		}
		l["device_id"] = strconv.FormatInt(id, 10)
		ans.res = append(ans.res, series{labels: l, value: v})
	}
	want := func(id int64) bool {
		d := inv.devices[id]
		return d != nil && d.Enabled && inScope(r, d)
	}
	switch r.Kind {
	case model.RuleHighRTT, model.RulePacketLoss:
		re.e.probes.means(from, func(id int64, rtt, loss float64) {
			if !want(id) {
				return
			}
			if r.Kind == model.RulePacketLoss {
				put(id, nil, "", loss*100)
			} else if !math.IsNaN(rtt) {
				put(id, nil, "", rtt)
			}
		})
	case model.RuleSNMPUnreachable, model.RuleRebooted:
		for id, d := range re.snmp.devs {
			if d.st.PolledAt.Before(from) || !want(id) {
				continue
			}
			t := d.st.LastOK
			if r.Kind == model.RuleRebooted {
				t = d.st.RebootedAt
			}
			v := 0.0
			if !t.Before(from) {
				v = 1
			}
			put(id, nil, "", v)
		}
	case model.RuleIfOperDown:
		for id, d := range re.snmp.devs {
			if now.Sub(d.st.InterfacesAt) > ifStaleness || !want(id) {
				continue
			}
			for i, is := range d.st.Interfaces {
				if is.Oper == 0 || is.Admin == 0 {
					continue // a column not read: no value, as no series in VictoriaMetrics
				}
				v := 0.0
				if is.Oper == 2 && is.Admin == 1 {
					v = 1
				}
				put(id, is.Labels, d.inst[i], v)
			}
		}
	case model.RuleIfErrors:
		for id, d := range re.snmp.devs {
			if !want(id) {
				continue
			}
			for i, is := range d.st.Interfaces {
				rs := d.rates[d.inst[i]]
				var sum float64
				var n int
				for _, p := range rs {
					if !p.at.Before(from) {
						sum += p.rate
						n++
					}
				}
				if n > 0 {
					put(id, is.Labels, d.inst[i], sum/float64(n))
				}
			}
		}
	}
	// Offenders in a stable order, so alerts of one cycle are created in the same order every
	// time (their ids, the outbox).
	sort.Slice(ans.res, func(i, j int) bool {
		a, b := ans.res[i].labels, ans.res[j].labels
		if a["device_id"] != b["device_id"] {
			return a["device_id"] < b["device_id"]
		}
		return instanceOf(a) < instanceOf(b)
	})
	ans.answered, ans.fresh = len(have) > 0, len(have) > 0
	ans.judged = func(k alertKey) bool { return have[k] }
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

package alerting

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

// TestJudgeLocal: the in-memory rules give the values the VictoriaMetrics expressions they replace
// would (RuleExpr), return only the series past the recovery threshold, and tell which keys have
// no value at all, whose alerts must stay as they are.
func TestJudgeLocal(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	f := func(v float64) *float64 { return &v }
	nan := math.NaN()
	devs := []model.DeviceNode{{ID: 1, Enabled: true, SNMP: true, Region: "north"}, {ID: 2, Enabled: true, SNMP: true, Region: "north"},
		{ID: 3, Enabled: true, SNMP: true, Region: "south"}, {ID: 4, Enabled: false}, {ID: 5, Enabled: true}, {ID: 6, Enabled: true},
		{ID: 8, Enabled: true}} // 8: its SNMP settings were removed; its last poll stays in snmp_states
	probes := []model.ProbeState{
		// 1: slow inside the window, fast before it (outside: not counted).
		{DeviceID: 1, Timestamp: ago(10 * time.Minute), RTTMs: 1, Loss: 0},
		{DeviceID: 1, Timestamp: ago(4 * time.Minute), RTTMs: 300, Loss: 0},
		{DeviceID: 1, Timestamp: ago(2 * time.Minute), RTTMs: 250, Loss: 0},
		// 2: one probe lost of two: loss 50 %, RTT from the answered one only.
		{DeviceID: 2, Timestamp: ago(3 * time.Minute), RTTMs: nan, Loss: 1, Up: false},
		{DeviceID: 2, Timestamp: ago(time.Minute), RTTMs: 100, Loss: 0, Up: true},
		// 3: healthy; 4: disabled, slow.
		{DeviceID: 3, Timestamp: ago(time.Minute), RTTMs: 1, Loss: 0},
		{DeviceID: 4, Timestamp: ago(time.Minute), RTTMs: 900, Loss: 1},
		// 5: no probe at all; 6: every echo lost (a loss, but no RTT).
		{DeviceID: 6, Timestamp: ago(time.Minute), RTTMs: nan, Loss: 1},
	}
	ifs := func(oper2, admin2 int) []model.InterfaceState {
		return []model.InterfaceState{
			{Labels: map[string]string{"index": "1", "ifName": "wan0"}, Oper: 1, Admin: 1},
			{Labels: map[string]string{"index": "2", "ifName": "lan0"}, Oper: oper2, Admin: admin2},
		}
	}
	rates := []float64{0, 8}
	states := map[int64]model.SNMPState{
		// 1: answering, interface 2 oper-down while admin-up, rebooted 10 minutes ago.
		1: {DeviceID: 1, PolledAt: ago(20 * time.Second), Up: true, LastOK: ago(20 * time.Second), RebootedAt: ago(10 * time.Minute),
			InterfacesAt: ago(20 * time.Second), Interfaces: ifs(2, 1), ErrorRates: rates},
		// 2: silent for 4 minutes (polled, failing), interface 2 shut down (admin down).
		2: {DeviceID: 2, PolledAt: ago(20 * time.Second), Up: false, LastOK: ago(4 * time.Minute),
			InterfacesAt: ago(4 * time.Minute), Interfaces: ifs(2, 2), ErrorRates: rates},
		// 3: last polled an hour ago: no value for any SNMP rule.
		8: {DeviceID: 8, PolledAt: ago(20 * time.Second), Up: false, LastOK: ago(time.Hour)},
		3: {DeviceID: 3, PolledAt: ago(time.Hour), Up: true, LastOK: ago(time.Hour), InterfacesAt: ago(time.Hour), Interfaces: ifs(1, 1), ErrorRates: rates},
	}
	iface := func(idx, name string) string { return instanceOf(map[string]string{"index": idx, "ifName": name}) }
	type key struct {
		dev  int64
		inst string
	}
	cases := []struct {
		kind      string
		threshold float64
		recovery  *float64
		cmp       string
		window    time.Duration
		scope     string // region
		offend    map[key]float64
		judged    []key
		unjudged  []key
	}{
		{kind: model.RuleHighRTT, threshold: 200, recovery: f(150), window: 5 * time.Minute,
			offend: map[key]float64{{1, ""}: 275},
			// Disabled (4) and deleted (9) devices are judged: their alerts end.
			judged: []key{{2, ""}, {3, ""}, {4, ""}, {9, ""}}, unjudged: []key{{5, ""}, {6, ""}}},
		{kind: model.RulePacketLoss, threshold: 20, recovery: f(10), window: 5 * time.Minute,
			offend: map[key]float64{{2, ""}: 50, {6, ""}: 100}, judged: []key{{1, ""}, {3, ""}}, unjudged: []key{{5, ""}}},
		// A scope narrows the devices: the others' alerts end.
		{kind: model.RuleHighRTT, threshold: 200, window: 5 * time.Minute, scope: "south",
			offend: map[key]float64{}, judged: []key{{3, ""}, {1, ""}}},
		// The window drops device 1's slow probes when it is short.
		{kind: model.RuleHighRTT, threshold: 200, window: 30 * time.Second, offend: map[key]float64{}, unjudged: []key{{1, ""}, {2, ""}}},
		{kind: model.RuleSNMPUnreachable, threshold: 0.5, cmp: "<", window: 3 * time.Minute,
			offend: map[key]float64{{2, ""}: 0}, judged: []key{{1, ""}, {8, ""}}, unjudged: []key{{3, ""}}},
		{kind: model.RuleRebooted, threshold: 0.5, window: 15 * time.Minute,
			offend: map[key]float64{{1, ""}: 1}, judged: []key{{2, ""}}, unjudged: []key{{3, ""}}},
		{kind: model.RuleRebooted, threshold: 0.5, window: 5 * time.Minute, offend: map[key]float64{}, judged: []key{{1, ""}}},
		// Device 2's interfaces were last read 4 minutes ago: still judged (within the staleness
		// of an instant query), its shut-down interface not an offender.
		{kind: model.RuleIfOperDown, threshold: 0.5,
			offend: map[key]float64{{1, iface("2", "lan0")}: 1}, judged: []key{{1, iface("1", "wan0")}, {2, iface("2", "lan0")}},
			unjudged: []key{{3, iface("2", "lan0")}, {1, iface("9", "x")}}},
		{kind: model.RuleIfErrors, threshold: 1, recovery: f(0.5), window: 5 * time.Minute,
			offend: map[key]float64{{1, iface("2", "lan0")}: 8}, judged: []key{{1, iface("1", "wan0")}},
			unjudged: []key{{2, iface("2", "lan0")}, {3, iface("2", "lan0")}}},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			th := c.threshold
			r := model.Rule{ID: 5, Kind: c.kind, Enabled: true, Threshold: &th, Recovery: c.recovery, Comparison: c.cmp, Window: c.window}
			if c.scope != "" {
				r.ScopeKind, r.ScopeValue = model.ScopeRegion, c.scope
			}
			inv := newInventory(devs, []model.Rule{r}, nil, 30*time.Second)
			e := &engine{probes: newProbeWindow()}
			e.probes.add(probes)
			re := &ruleEval{e: e, snmp: snmpView{devs: map[int64]*snmpDevice{}}}
			for _, st := range states {
				st.InterfacesRead = true
				re.snmp.take(st) // only a poll that read the interfaces gives rates: device 2's did not
			}
			ans := re.judgeLocal(r, inv, now)
			got := map[key]float64{}
			for _, s := range ans.res {
				id, err := strconv.ParseInt(s.labels["device_id"], 10, 64)
				if err != nil {
					t.Fatalf("offender without a device: %v", s.labels)
				}
				got[key{id, instanceOf(s.labels)}] = s.value
			}
			if len(got) != len(c.offend) {
				t.Errorf("offenders %v, want %v", got, c.offend)
			}
			for k, v := range c.offend {
				if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9 {
					t.Errorf("offender %v = %v (present %v), want %v", k, g, ok, v)
				}
				if !ans.judged(alertKey{r.ID, k.dev, k.inst}) {
					t.Errorf("offender %v not judged", k)
				}
			}
			for _, k := range c.judged {
				if !ans.judged(alertKey{r.ID, k.dev, k.inst}) {
					t.Errorf("%v has a value but is not judged", k)
				}
			}
			for _, k := range c.unjudged {
				if ans.judged(alertKey{r.ID, k.dev, k.inst}) {
					t.Errorf("%v has no value but is judged (its alert would resolve)", k)
				}
			}
		})
	}
}

// TestProbeWindowAdd: overlapping reads keep each probe once, in order.
func TestProbeWindowAdd(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	p := func(s int) model.ProbeState {
		return model.ProbeState{DeviceID: 1, Timestamp: at.Add(time.Duration(s) * time.Second), RTTMs: float64(s)}
	}
	w := newProbeWindow()
	w.add([]model.ProbeState{p(30), p(60)})
	w.add([]model.ProbeState{p(0), p(30), p(45), p(60), p(90)}) // a backfill overlapping what down detection read
	w.prune(at.Add(10 * time.Second))
	var got []float64
	for _, pr := range w.byDev[1] {
		got = append(got, pr.rtt)
	}
	want := []float64{30, 45, 60, 90}
	if len(got) != len(want) {
		t.Fatalf("probes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("probes %v, want %v", got, want)
		}
	}
}

package query

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// scenario is the seeded truth of TestDashboardTruth: per device index, how its 20 probes (every
// 30 s, newest 5 s ago) went. Everything the test expects is computed from it.
type scenario struct {
	kind     string // up, none (never probed), stale (probes 10 min old), disabled, or a down pattern
	downFrom []int  // indices of probes that failed (for down patterns)
}

const probesPerDevice = 20

func fleetScenario() map[int]scenario {
	rangeOf := func(a, b int) []int {
		var out []int
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
		return out
	}
	return map[int]scenario{
		1:  {kind: "down", downFrom: rangeOf(12, 19)},                           // went down at probe 12
		6:  {kind: "none"},                                                      // never probed
		7:  {kind: "disabled"},                                                  //
		9:  {kind: "down", downFrom: rangeOf(0, 19)},                            // down for the whole history
		14: {kind: "stale"},                                                     // last probe 10 min ago
		15: {kind: "disabled"},                                                  //
		17: {kind: "down", downFrom: append(rangeOf(6, 8), rangeOf(15, 19)...)}, // flapped: down again at 15
		20: {kind: "down", downFrom: []int{19}},                                 // only the newest probe failed
	}
}

type truth struct {
	status map[int64]string
	since  map[int64]time.Time
}

// seedScenario seeds 3 branches × 8 devices with fleetScenario and returns the truth.
func seedScenario(e *env) ([]fleetDev, truth) {
	sc := fleetScenario()
	disabled := map[int]bool{}
	for n, s := range sc {
		disabled[n] = s.kind == "disabled"
	}
	devs := e.seedInventory(3, 8, disabled)
	base := time.Now().UTC().Truncate(time.Second).Add(-5 * time.Second)
	at := func(k int) time.Time { return base.Add(-time.Duration(probesPerDevice-1-k) * 30 * time.Second) }
	tr := truth{status: map[int64]string{}, since: map[int64]time.Time{}}
	probes := map[fleetDev][]probe{}
	for n, d := range devs {
		s, ok := sc[n]
		if !ok {
			s = scenario{kind: "up"}
		}
		down := map[int]bool{}
		for _, k := range s.downFrom {
			down[k] = true
		}
		switch s.kind {
		case "disabled":
			tr.status[d.ID] = statusDisabled
			continue
		case "none":
			tr.status[d.ID] = statusUnknown
			continue
		case "stale":
			tr.status[d.ID] = statusUnknown
			for k := 0; k < probesPerDevice; k++ {
				probes[d] = append(probes[d], probe{at: at(k).Add(-10 * time.Minute), up: true, rtt: 2})
			}
			continue
		}
		for k := 0; k < probesPerDevice; k++ {
			probes[d] = append(probes[d], probe{at: at(k), up: !down[k], rtt: float64(1 + n)})
		}
		if down[probesPerDevice-1] {
			tr.status[d.ID] = statusDown
			k := probesPerDevice - 1
			for k > 0 && down[k-1] {
				k--
			}
			tr.since[d.ID] = at(k)
		} else {
			tr.status[d.ID] = statusUp
		}
	}
	e.seedProbes(probes)
	return devs, tr
}

type dashResp struct {
	Source   string `json:"source"`
	Degraded bool   `json:"degraded"`
	Totals   counts `json:"totals"`
	Branches []struct {
		Name string `json:"name"`
		counts
	} `json:"branches"`
	Regions []struct {
		Name string `json:"name"`
		counts
	} `json:"regions"`
	Down []struct {
		ID    int64      `json:"id"`
		Since *time.Time `json:"since"`
	} `json:"down"`
	WorstRTT []rankedDevice `json:"worst_rtt_ms"`
	Alerts   struct {
		Total int `json:"total"`
	} `json:"alerts"`
}

type listResp struct {
	Items []struct {
		ID        int64      `json:"id"`
		Status    string     `json:"status"`
		DownSince *time.Time `json:"down_since"`
	} `json:"items"`
	Total  int    `json:"total"`
	Source string `json:"source"`
}

// checkAgainstTruth compares the dashboard and the device list with the seeded truth, exactly.
func checkAgainstTruth(t *testing.T, e *env, devs []fleetDev, tr truth, wantSource string) {
	t.Helper()
	var d dashResp
	if code := e.get("/api/v1/dashboard", &d); code != 200 {
		t.Fatalf("dashboard: %d", code)
	}
	if d.Source != wantSource {
		t.Fatalf("source = %q, want %q", d.Source, wantSource)
	}
	var total counts
	byBranch, byRegion := map[string]*counts{}, map[string]*counts{}
	for _, dv := range devs {
		st := tr.status[dv.ID]
		total.add(st)
		for _, m := range []struct {
			m map[string]*counts
			k string
		}{{byBranch, dv.Branch}, {byRegion, dv.Region}} {
			if m.m[m.k] == nil {
				m.m[m.k] = &counts{}
			}
			m.m[m.k].add(st)
		}
	}
	if d.Totals != total {
		t.Errorf("totals = %+v, want %+v", d.Totals, total)
	}
	if len(d.Branches) != len(byBranch) {
		t.Errorf("%d branches, want %d", len(d.Branches), len(byBranch))
	}
	for _, b := range d.Branches {
		if want := byBranch[b.Name]; want == nil || b.counts != *want {
			t.Errorf("branch %s = %+v, want %+v", b.Name, b.counts, want)
		}
	}
	for _, r := range d.Regions {
		if want := byRegion[r.Name]; want == nil || r.counts != *want {
			t.Errorf("region %s = %+v, want %+v", r.Name, r.counts, want)
		}
	}
	if len(d.Down) != len(tr.since) {
		t.Errorf("down list has %d devices, want %d", len(d.Down), len(tr.since))
	}
	for _, dd := range d.Down {
		want, ok := tr.since[dd.ID]
		if !ok {
			t.Errorf("device %d listed down, is not", dd.ID)
			continue
		}
		if dd.Since == nil || !dd.Since.Equal(want) {
			t.Errorf("device %d down since %v, want %v", dd.ID, dd.Since, want)
		}
	}
	for i := 1; i < len(d.Down); i++ {
		if d.Down[i].Since.Before(*d.Down[i-1].Since) {
			t.Errorf("down list not ordered longest outage first")
		}
	}
	// Up devices have rtt 1+index ms: the worst is the last up device.
	if len(d.WorstRTT) == 0 || d.WorstRTT[0].Value != 24 {
		t.Errorf("worst rtt = %+v, want dev 23 with 24 ms first", d.WorstRTT)
	}

	for _, st := range []string{statusUp, statusDown, statusUnknown, statusDisabled} {
		var l listResp
		if code := e.get("/api/v1/devices?limit=5000&status="+st, &l); code != 200 {
			t.Fatalf("devices?status=%s: %d", st, code)
		}
		var want, got []int64
		for id, s := range tr.status {
			if s == st {
				want = append(want, id)
			}
		}
		for _, it := range l.Items {
			got = append(got, it.ID)
			if st == statusDown && (it.DownSince == nil || !it.DownSince.Equal(tr.since[it.ID])) {
				t.Errorf("list: device %d down_since %v, want %v", it.ID, it.DownSince, tr.since[it.ID])
			}
		}
		sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
		if fmt.Sprint(got) != fmt.Sprint(want) || l.Total != len(want) {
			t.Errorf("status=%s: got %v (total %d), want %v", st, got, l.Total, want)
		}
	}
	var l listResp
	e.get("/api/v1/devices?branch=branch-01&status=up&sort=-name&limit=2", &l)
	if l.Total != 5 || len(l.Items) != 2 {
		t.Errorf("branch-01 up: total %d items %d, want 5 and 2", l.Total, len(l.Items))
	}
}

func TestDashboardTruth(t *testing.T) {
	e := newEnv(t, nil)
	devs, tr := seedScenario(e)
	checkAgainstTruth(t, e, devs, tr, sourcePostgres)

	// ping_results unreadable: the same answers from VictoriaMetrics, flagged degraded.
	restore := e.hidePings()
	eventually(t, "fallback to VictoriaMetrics", func() bool {
		var d dashResp
		e.get("/api/v1/dashboard", &d)
		return d.Source == sourceVM && d.Degraded
	})
	checkAgainstTruth(t, e, devs, tr, sourceVM)
	restore()
	eventually(t, "back on ping_results", func() bool {
		var d dashResp
		e.get("/api/v1/dashboard", &d)
		return d.Source == sourcePostgres && !d.Degraded
	})
	checkAgainstTruth(t, e, devs, tr, sourcePostgres)

	// VictoriaMetrics down: the dashboard does not need it; health says it is gone.
	e.vm.Stop()
	time.Sleep(2 * e.opts.CacheTTL)
	checkAgainstTruth(t, e, devs, tr, sourcePostgres)
	var h healthBody
	if code := e.get("/api/v1/health", &h); code != 503 || h.VictoriaMetrics != "unreachable" || h.Database != "connected" {
		t.Errorf("health with VM down: %d %+v", code, h)
	}
}

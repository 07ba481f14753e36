package alerting

import (
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

func TestPercentStateChange(t *testing.T) {
	f := func(states string, want float64) {
		t.Helper()
		var h uint64
		n := 0
		for _, c := range states { // oldest first
			h, n = pushState(h, n, c == 'D')
		}
		if got := percentStateChange(h, n); got < want-0.5 || got > want+0.5 {
			t.Errorf("%s: %.1f%%, want %.1f%%", states, got, want)
		}
	}
	f("UUUUUUUUUUUUUUUUUUUUU", 0)
	f("UDUDUDUDUDUDUDUDUDUDU", 100)
	f("UUUUUUUUUUUUUUUUUUUUD", 6) // the newest transition weighs 1.2 of 20
	f("DUUUUUUUUUUUUUUUUUUUU", 4) // the oldest 0.8
}

func TestUnsettled(t *testing.T) {
	f := func(states string, want bool) {
		t.Helper()
		var h uint64
		n := 0
		for _, c := range states {
			h, n = pushState(h, n, c == 'D')
		}
		if got := unsettled(h, n); got != want {
			t.Errorf("%s: unsettled %v, want %v", states, got, want)
		}
	}
	f("UUUUUUUUUD", false)             // the first failure in its history pages at once
	f("UUUUDUUUUD", true)              // a second one waits
	f("UUUUDUUDDD", false)             // … until it stayed down settleProbes probes
	f("DUUUUUUUUUUUUUUUUUUUUD", false) // the old failure left the 21-probe history
}

func TestMaintenanceActiveAt(t *testing.T) {
	tb := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday
	weekly := model.MaintenanceWindow{Weekdays: []int{1}, StartTime: "23:00", Duration: 2 * time.Hour, TimeZone: "Asia/Tbilisi"}
	f := func(w model.MaintenanceWindow, at time.Time, want bool) {
		t.Helper()
		if got, _ := w.ActiveAt(at); got != want {
			t.Errorf("%v at %s: %v, want %v", w, at, got, want)
		}
	}
	// 23:00 Tbilisi (UTC+4) on Monday is 19:00 UTC; it runs past local midnight.
	f(weekly, tb.Add(19*time.Hour+30*time.Minute), true)
	f(weekly, tb.Add(20*time.Hour+59*time.Minute), true)
	f(weekly, tb.Add(21*time.Hour), false)
	f(weekly, tb.Add(18*time.Hour), false)
	f(weekly, tb.Add(7*24*time.Hour+19*time.Hour+30*time.Minute), true)
	f(weekly, tb.Add(24*time.Hour+19*time.Hour+30*time.Minute), false) // Tuesday
	s, e := tb, tb.Add(time.Hour)
	once := model.MaintenanceWindow{StartsAt: &s, EndsAt: &e}
	f(once, tb, true)
	f(once, tb.Add(time.Hour), false)
	if err := weekly.Validate(); err == nil {
		t.Error("a window without scope validated")
	}
	weekly.ScopeKind, weekly.ScopeValue, weekly.Reason, weekly.CreatedBy = "branch", "B1", "upgrade", "noc"
	if err := weekly.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRuleQueryParses(t *testing.T) {
	th, rec := 200.0, 150.0
	for _, k := range []string{model.RuleHighRTT, model.RulePacketLoss, model.RuleIfOperDown, model.RuleIfErrors, model.RuleRebooted, model.RuleSNMPUnreachable} {
		r := model.Rule{Name: k, Kind: k, Severity: "warning", Threshold: &th, Recovery: &rec}
		off, cnt, err := ruleQueries(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{off, cnt} {
			if err := ValidateRule(model.Rule{Name: "x", Kind: model.RuleExpr, Expr: q, Severity: "info", Threshold: &th}); err != nil {
				t.Errorf("%s: %s: %v", k, q, err)
			}
		}
	}
	if err := ValidateRule(model.Rule{Name: "x", Kind: model.RuleExpr, Expr: "rate(", Severity: "info", Threshold: &th}); err == nil {
		t.Error("a broken expression validated")
	}
	if err := ValidateRule(model.Rule{Name: "x", Kind: model.RuleHighRTT, Severity: "info", Threshold: &rec, Recovery: &th}); err == nil {
		t.Error("a recovery threshold above a > threshold validated")
	}
}

func TestCycleMembers(t *testing.T) {
	g := map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": nil}
	if got := model.CycleMembers(g); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Errorf("cycle members %v, want [a b c]", got)
	}
	if got := model.CycleMembers(map[string][]string{"x": {"y", "z"}, "y": {"z"}}); len(got) != 0 {
		t.Errorf("no cycle, got %v", got)
	}
}

// TestNeedCount: the series count is asked only when an open alert or timer is missing from the
// offenders (its end must rest on data), or when nothing came back and the rule's data was last
// confirmed more than liveFor ago.
func TestNeedCount(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	r := model.Rule{ID: 7}
	off := []series{{labels: map[string]string{"device_id": "3", "index": "2"}, value: 1}}
	open := alertKey{7, 3, instanceOf(off[0].labels)}
	f := func(res []series, known map[alertKey]bool, liveAt map[int64]time.Time, want bool) {
		t.Helper()
		re := &ruleEval{liveAt: liveAt}
		if got := re.needCount(r, res, known, now); got != want {
			t.Errorf("needCount(%v, %v, %v) = %v, want %v", res, known, liveAt, got, want)
		}
	}
	recent := map[int64]time.Time{7: now.Add(-time.Minute)}
	old := map[int64]time.Time{7: now.Add(-liveFor)}
	f(off, nil, nil, false)                                   // offenders prove the data is there
	f(off, map[alertKey]bool{open: true}, nil, false)         // the open alert is still offending
	f(nil, map[alertKey]bool{open: true}, recent, true)       // it would resolve: ask
	f(off, map[alertKey]bool{{7, 4, ""}: true}, recent, true) // another one would end: ask
	f(nil, nil, recent, false)                                // nothing open, confirmed a minute ago
	f(nil, nil, old, true)                                    // confirmed too long ago
	f(nil, nil, map[int64]time.Time{}, true)                  // never confirmed
}

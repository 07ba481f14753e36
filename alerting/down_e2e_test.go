package alerting_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestDownLatency drops 24 devices, each at its own random point of the 30 s ping cycle, and
// measures when Alertmanager shows its one DeviceDown alert and when it is gone after the device
// answers again. Every trial must be within 45 s both ways.
func TestDownLatency(t *testing.T) {
	t.Parallel()
	const n = 24
	var devs []model.ImportDevice
	for i := 1; i <= n; i++ {
		devs = append(devs, dev("lat", fmt.Sprintf("lat-%02d", i), fmt.Sprintf("127.21.0.%d", i), ""))
	}
	reg := prometheus.NewRegistry()
	e := newEnv(t, devs, envOptions{registry: reg})
	e.waitUp(90 * time.Second)
	var mu sync.Mutex
	var fire, resolve []time.Duration
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("lat-%02d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.Int64N(int64(30 * time.Second))))
			restore := testenv.DropTraffic(t, e.ips[name], testenv.HookInput)
			dropped := time.Now()
			var seen []testenv.AMAlert
			for time.Since(dropped) < 60*time.Second {
				if seen = e.amAlerts("DeviceDown", name); len(seen) > 0 {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			up := time.Since(dropped)
			if len(seen) != 1 {
				t.Errorf("%s: %d DeviceDown alerts in Alertmanager %s after the drop", name, len(seen), up)
				restore()
				return
			}
			e.checkPage(name, seen[0], dropped)
			restore()
			restored := time.Now()
			for time.Since(restored) < 60*time.Second && len(e.amAlerts("DeviceDown", name)) > 0 {
				time.Sleep(200 * time.Millisecond)
			}
			down := time.Since(restored)
			mu.Lock()
			fire, resolve = append(fire, up), append(resolve, down)
			mu.Unlock()
			if up > 45*time.Second || down > 45*time.Second {
				t.Errorf("%s: fired after %s, resolved %s after it answered (limit 45s each)", name, up, down)
			}
		}()
	}
	wg.Wait()
	if len(fire) == 0 {
		t.Fatal("no trial completed")
	}
	t.Logf("drop → DeviceDown in Alertmanager over %d trials: p50 %s  p95 %s  max %s", len(fire),
		percentile(fire, .5).Round(100*time.Millisecond), percentile(fire, .95).Round(100*time.Millisecond), percentile(fire, 1).Round(100*time.Millisecond))
	t.Logf("answer → resolved in Alertmanager: p50 %s  p95 %s  max %s",
		percentile(resolve, .5).Round(100*time.Millisecond), percentile(resolve, .95).Round(100*time.Millisecond), percentile(resolve, 1).Round(100*time.Millisecond))
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("lat-%02d", i)
		if c := e.hook.count("DeviceDown", name, "firing"); c != 1 {
			t.Errorf("%s: webhook got %d firing notifications, want 1%s", name, c, e.hook.dump())
		}
	}
	// The self-metrics say the same: every firing and resolution accepted, none failed or left
	// queued, and each stage of every page timed.
	testenv.WaitFor(t, 10*time.Second, "the outbox empty", func() (bool, string) {
		q := selfMetric(t, reg, "wardops_alerting_notifications_queued")[e.am.URL]
		return q == 0, fmt.Sprint(q)
	})
	if sent := selfMetric(t, reg, "wardops_alerting_notifications_sent_total")[e.am.URL]; sent < 2*float64(len(fire)) {
		t.Errorf("notifications_sent_total = %v, want at least %d (a firing and a resolution per trial)", sent, 2*len(fire))
	}
	if failed := selfMetric(t, reg, "wardops_alerting_notifications_failed_total")[e.am.URL]; failed != 0 {
		t.Errorf("notifications_failed_total = %v with Alertmanager up", failed)
	}
	for stage, c := range selfMetric(t, reg, "wardops_alerting_stage_latency_seconds") {
		if c < float64(len(fire)) {
			t.Errorf("stage %s timed %v times, want at least %d", stage, c, len(fire))
		}
	}
	if c := selfMetric(t, reg, "wardops_alerting_evaluation_duration_seconds")["down"]; c == 0 {
		t.Error("no down-detection evaluation timed")
	}
}

// selfMetric returns a family of the alerter's self-metrics by the value of its first label: a
// counter's or gauge's value, a histogram's count.
func selfMetric(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			k := ""
			if ls := m.GetLabel(); len(ls) > 0 {
				k = ls[0].GetValue()
			}
			switch {
			case m.Histogram != nil:
				out[k] += float64(m.Histogram.GetSampleCount())
			case m.Counter != nil:
				out[k] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[k] += m.Gauge.GetValue()
			}
		}
	}
	return out
}

// checkPage checks what Alertmanager holds of a device's down alert: the label set and
// annotations the NOC routes and reads on, the link back, startsAt at the device's first failed
// probe after the drop, and endsAt four resend intervals ahead so that it outlives three missed
// re-sends.
func (e *env) checkPage(name string, a testenv.AMAlert, dropped time.Time) {
	t := e.t
	want := map[string]string{"alertname": "DeviceDown", "severity": "critical", "device": name,
		"device_id": fmt.Sprint(e.ids[name]), "ip": e.ips[name], "branch": "lat", "region": "north"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q (labels %v)", name, k, a.Labels[k], v, a.Labels)
		}
	}
	for _, k := range []string{"summary", "description", "link"} {
		if a.Annotations[k] == "" {
			t.Errorf("%s: no %s annotation (%v)", name, k, a.Annotations)
		}
	}
	if !strings.HasPrefix(a.GeneratorURL, "http://127.0.0.1:5001/api/v1/alert-rules/") {
		t.Errorf("%s: generatorURL %q", name, a.GeneratorURL)
	}
	if ahead := time.Until(a.EndsAt); ahead < 4*time.Minute-70*time.Second || ahead > 4*time.Minute+5*time.Second {
		t.Errorf("%s: endsAt %s ahead, want four resend intervals (4m) less at most one", name, ahead.Round(time.Second))
	}
	hs, err := e.st.PingHistory(t0(), netipOf(e.ips[name]), dropped, time.Now(), 100)
	if err != nil {
		t.Error(err)
		return
	}
	for _, h := range hs {
		if !h.IsReachable {
			if !a.StartsAt.Equal(h.Timestamp.Truncate(time.Millisecond)) && !a.StartsAt.Equal(h.Timestamp) {
				t.Errorf("%s: startsAt %s, want the first failed probe's time %s", name, a.StartsAt, h.Timestamp)
			}
			return
		}
	}
	t.Errorf("%s: no failed probe in ping_results since the drop", name)
}

// TestBranchOutage: a branch router and its 16 children going dark in one step page once, as the
// router naming the 16, the children recorded as suppressed; children going dark a few seconds
// before their router (right after its probe, so it is provably up for a while) change nothing;
// a dual-parent device with one parent down pages for itself.
func TestBranchOutage(t *testing.T) {
	t.Parallel()
	var devs []model.ImportDevice
	for b := 1; b <= 2; b++ {
		router := fmt.Sprintf("rtr-%d", b)
		devs = append(devs, dev(fmt.Sprintf("B%d", b), router, fmt.Sprintf("127.22.%d.1", b), ""))
		for c := 2; c <= 17; c++ {
			devs = append(devs, dev(fmt.Sprintf("B%d", b), fmt.Sprintf("b%d-dev-%02d", b, c), fmt.Sprintf("127.22.%d.%d", b, c), router))
		}
	}
	devs = append(devs, dev("dual", "wan-a", "127.22.3.1", ""), dev("dual", "wan-b", "127.22.3.2", ""),
		dev("dual", "dual-sw", "127.22.3.3", "wan-a;wan-b"))
	e := newEnv(t, devs, envOptions{})
	e.waitUp(90 * time.Second)

	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(func() {
		restore := testenv.DropTraffic(t, "127.22.1.0/24", testenv.HookInput)
		defer restore()
		e.expectBranchPage(1)
	})
	run(func() {
		// Wait for the router's probe, then take the children first and the router 3 s later.
		e.afterProbe("rtr-2")
		restoreKids := testenv.DropTraffic(t, "127.22.2.2-127.22.2.17", testenv.HookInput)
		defer restoreKids()
		time.Sleep(3 * time.Second)
		restore := testenv.DropTraffic(t, "127.22.2.1", testenv.HookInput)
		defer restore()
		e.expectBranchPage(2)
	})
	run(func() {
		r1 := testenv.DropTraffic(t, e.ips["wan-a"], testenv.HookInput)
		defer r1()
		r2 := testenv.DropTraffic(t, e.ips["dual-sw"], testenv.HookInput)
		defer r2()
		testenv.WaitFor(t, 90*time.Second, "dual-sw and wan-a page", func() (bool, string) {
			a, b := len(e.amAlerts("DeviceDown", "dual-sw")), len(e.amAlerts("DeviceDown", "wan-a"))
			return a == 1 && b == 1, fmt.Sprintf("dual-sw %d, wan-a %d", a, b)
		})
	})
	wg.Wait()
	if t.Failed() {
		t.Log("webhook:", e.hook.dump())
	}
}

// afterProbe waits until device has just been probed (a new ping_results row).
func (e *env) afterProbe(device string) {
	e.t.Helper()
	var last time.Time
	for i := 0; i < 2; i++ {
		testenv.WaitFor(e.t, 40*time.Second, "a probe of "+device, func() (bool, string) {
			hs, err := e.st.PingHistory(t0(), netipOf(e.ips[device]), time.Now().Add(-time.Minute), time.Now(), 100)
			if err != nil || len(hs) == 0 {
				return false, fmt.Sprint(err)
			}
			ts := hs[len(hs)-1].Timestamp
			if last.IsZero() {
				last = ts
				return true, ""
			}
			return ts.After(last), ts.String()
		})
	}
}

func (e *env) expectBranchPage(b int) {
	t := e.t
	router := fmt.Sprintf("rtr-%d", b)
	testenv.WaitFor(t, 100*time.Second, fmt.Sprintf("branch B%d: one page naming 16 devices", b), func() (bool, string) {
		as := e.amAlerts("", "")
		var mine []string
		ok := false
		for _, a := range as {
			if a.Labels["branch"] != fmt.Sprintf("B%d", b) {
				continue
			}
			mine = append(mine, a.Labels["device"]+": "+a.Annotations["summary"])
			if a.Labels["device"] == router && strings.Contains(a.Annotations["summary"], "16 devices behind it") {
				ok = true
			}
		}
		return ok && len(mine) == 1, strings.Join(mine, "; ")
	})
	// Every child is recorded, suppressed by the router, and never reached the webhook.
	testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("branch B%d children suppressed in alert_history", b), func() (bool, string) {
		n := 0
		for c := 2; c <= 17; c++ {
			name := fmt.Sprintf("b%d-dev-%02d", b, c)
			for _, a := range e.history(name) {
				if a.HoldReason == model.HoldSuppressed && a.SuppressedBy == e.ids[router] && a.NotifiedAt == nil {
					n++
				}
			}
		}
		return n == 16, fmt.Sprintf("%d of 16", n)
	})
	time.Sleep(5 * time.Second) // a late child page would show up here
	for c := 2; c <= 17; c++ {
		name := fmt.Sprintf("b%d-dev-%02d", b, c)
		if n := e.hook.count("", name, "firing"); n != 0 {
			t.Errorf("%s paged %d times", name, n)
		}
	}
	if n := e.hook.count("DeviceDown", router, "firing"); n != 1 {
		t.Errorf("%s paged %d times, want 1", router, n)
	}
}

// TestDownAlertFollowsMove: a device that is down and paged moves to another branch. Alertmanager
// then holds its alert under the new branch only: the old label set is resolved explicitly, not
// left active until its endsAt (four minutes ahead) runs out.
func TestDownAlertFollowsMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []model.ImportDevice{dev("MV1", "mover", "127.27.0.1", ""), dev("MV2", "stayer", "127.27.0.2", "")}, envOptions{})
	e.waitUp(90 * time.Second)
	restore := testenv.DropTraffic(t, e.ips["mover"], testenv.HookInput)
	defer restore()
	// branches lists the branch label of each DeviceDown alert Alertmanager holds for mover.
	branches := func() string {
		var got []string
		for _, a := range e.amAlerts("DeviceDown", "mover") {
			got = append(got, a.Labels["branch"])
		}
		return strings.Join(got, ",")
	}
	testenv.WaitFor(t, 60*time.Second, "mover paged in MV1", func() (bool, string) {
		got := branches()
		return got == "MV1", got
	})
	ctx := context.Background()
	d, err := e.st.GetDevice(ctx, e.ids["mover"])
	if err != nil {
		t.Fatal(err)
	}
	bs, err := e.st.ListBranches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var to int64
	for _, b := range bs {
		if b.Name == "MV2" {
			to = b.ID
		}
	}
	if err := e.st.UpdateDevice(ctx, d.ID, model.DeviceChange{Name: d.Name, IP: d.IP, Vendor: d.Vendor, DeviceType: d.DeviceType,
		BranchID: to, Enabled: d.Enabled, ParentID: d.ParentID, SNMPVersion: d.SNMP.Version, KeepSecret: true,
		SNMPPort: d.SNMP.Port, Credential: d.SNMP.Credential, Profiles: d.Profiles}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "the alert under MV2 only", func() (bool, string) {
		got := branches()
		return got == "MV2", got
	})
}

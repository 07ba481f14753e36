package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestCollectorEndToEnd runs the whole collector against real PostgreSQL and VictoriaMetrics on a
// fleet of loopback addresses: every device gets series and rows, a device whose traffic is dropped
// reads down within one interval and comes back, and inventory changes apply without a restart.
func TestCollectorEndToEnd(t *testing.T) {
	const n, interval = 60, 3 * time.Second
	st, _ := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()
	if _, err := st.ImportInventory(ctx, nil, fleetSpecs(n, 30), false); err != nil {
		t.Fatal(err)
	}
	eng, err := icmp.NewProbing(quietLog(), icmp.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	set := metrics.NewSet()
	testStart := time.Now()
	stop := startCollector(t, Options{
		Schedule: testSchedule(SchedulerOptions{
			Fleet: st, Engine: eng, PingInterval: interval, EchoInterval: 100 * time.Millisecond,
			PingTimeout: time.Second, ConfirmTimeout: 500 * time.Millisecond, ConfirmInterval: 100 * time.Millisecond,
			ProbeWorkers: 32, InventoryReload: time.Second,
		}),
		VM:      testVM(vm.URL, sink.Options{Batch: 500, Interval: 300 * time.Millisecond}),
		Pings:   testPings(st, sink.Options{Interval: 300 * time.Millisecond}),
		Listen:  "127.0.0.1:0",
		Log:     quietLog(),
		Metrics: set,
	})

	upOf := func(ip string) (float64, bool) {
		r, err := vm.Query(`wardops_ping_up{ip="` + ip + `"}`)
		if err != nil || len(r) != 1 {
			return 0, false
		}
		return r[0].Value, true
	}
	testenv.WaitFor(t, 2*interval+5*time.Second, "every device up in VictoriaMetrics", func() (bool, string) {
		r, err := vm.Query(`count(wardops_ping_up == 1)`)
		if err != nil || len(r) == 0 {
			return false, fmt.Sprint(err)
		}
		return int(r[0].Value) == n, fmt.Sprintf("%v devices up", r[0].Value)
	})
	r, err := vm.Query(`wardops_ping_rtt_seconds{device="e2e-30-1"}`)
	if err != nil || len(r) != 1 || r[0].Value <= 0 {
		t.Fatalf("rtt of e2e-30-1: %v %v", r, err)
	}
	for _, l := range []string{"device_id", "device", "ip", "branch", "region", "vendor"} {
		if r[0].Labels[l] == "" {
			t.Errorf("label %s missing: %v", l, r[0].Labels)
		}
	}

	// Down within one interval (plus the probe's own timeouts and the push), and back.
	budget := interval + 3*time.Second
	restore := testenv.DropTraffic(t, "127.20.30.5", testenv.HookOutput)
	took := testenv.WaitFor(t, budget, "dropped device reads down", func() (bool, string) {
		v, ok := upOf("127.20.30.5")
		return ok && v == 0, fmt.Sprint(v)
	})
	t.Logf("down after %s", took)
	restore()
	took = testenv.WaitFor(t, budget, "restored device reads up", func() (bool, string) {
		v, ok := upOf("127.20.30.5")
		return ok && v == 1, fmt.Sprint(v)
	})
	t.Logf("up again after %s", took)

	// Inventory changes: disable one, add one.
	devs, err := st.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var disabled model.Device
	for _, d := range devs {
		if d.Name == "e2e-30-10" {
			disabled = d
		}
	}
	if err := st.SetDeviceEnabled(ctx, disabled.ID, false); err != nil {
		t.Fatal(err)
	}
	added := netip.MustParseAddr("127.20.31.200")
	if _, err := st.ImportInventory(ctx, nil, []model.ImportDevice{deviceSpec("e2e-new", added)}, false); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	// Probing changes within one interval plus one reload; the series then needs VictoriaMetrics'
	// own second or two before a new series is searchable.
	took = testenv.WaitFor(t, interval+time.Second+2*time.Second, "added device probed", func() (bool, string) {
		rows, err := st.PingHistory(ctx, added, changed, time.Now(), 10)
		return err == nil && len(rows) > 0, fmt.Sprintf("%d ping_results rows, err %v", len(rows), err)
	})
	t.Logf("added device probed after %s", took)
	// A brand-new series takes this VictoriaMetrics 6-10 s to become searchable (measured: one
	// sample imported, then polled; a new sample of a known series shows in under a second), so
	// the wait is generous and returns as soon as the series is there.
	took = testenv.WaitFor(t, 20*time.Second, "added device up in VictoriaMetrics", func() (bool, string) {
		v, ok := upOf(added.String())
		return ok && v == 1, fmt.Sprintf("up %v, series found %v", v, ok)
	})
	t.Logf("added device searchable in VictoriaMetrics after %s more", took)
	// Give the disabled device a full interval past the reload, then expect no new rows.
	time.Sleep(interval + 2*time.Second)
	quietSince := changed.Add(2 * time.Second) // reload (1s) + a probe already in flight
	rows, err := st.PingHistory(ctx, disabled.IP, quietSince, time.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) > 0 {
		t.Errorf("disabled device still probed: %d rows since %s", len(rows), quietSince)
	}
	stop()
	end := time.Now()

	// Every device has ping_results rows, and VictoriaMetrics holds exactly the probe times.
	// Samples pushed by the shutdown flush become searchable once VictoriaMetrics flushes them.
	if resp, err := http.Get(vm.URL + "/internal/force_flush"); err == nil {
		resp.Body.Close()
	}
	time.Sleep(time.Second)
	exp, err := vm.Export(`wardops_ping_up`, testStart.Add(-time.Second), end.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for _, d := range devs {
		rows, err := st.PingHistory(ctx, d.IP, testStart, end, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Errorf("no ping_results rows for %s", d.Name)
			continue
		}
		starts = append(starts, rows[0].Timestamp)
		want := map[int64]bool{}
		for _, r := range rows {
			want[r.Timestamp.UnixMilli()] = true
		}
		got := exp[fmt.Sprint(d.ID)]
		if len(got) != len(rows) {
			t.Errorf("%s: %d samples in VictoriaMetrics, %d rows", d.Name, len(got), len(rows))
		}
		for _, ts := range got {
			if !want[ts] {
				t.Errorf("%s: sample at %d is not a probe time", d.Name, ts)
				break
			}
		}
	}
	// Spread: probes due in the same dispatch window start together (here 1 s windows, the cap:
	// 60 devices are fewer than 64 per window), but the fleet stays spread over the interval's
	// three windows rather than bursting in one.
	buckets := map[int64]int{}
	for _, s := range starts {
		buckets[(s.UnixMilli()%interval.Milliseconds())/time.Second.Milliseconds()]++
	}
	for b, c := range buckets {
		if c > len(starts)/2 {
			t.Errorf("burst: %d of %d devices start in second %d of the interval", c, len(starts), b)
		}
	}
	if c := set.GetOrCreateCounter(`wardops_collector_probes_total{kind="icmp"}`).Get(); c < n {
		t.Errorf("probes_total %d", c)
	}
}

func TestNextSlotStableAndSpread(t *testing.T) {
	iv := 30 * time.Second
	now := time.Date(2024, 5, 1, 12, 0, 7, 0, time.UTC)
	seen := map[time.Duration]int{}
	for id := int64(1); id <= 1000; id++ {
		a := newTarget(deviceKey(id), iv)
		b := newTarget(deviceKey(id), iv)
		sa, sb := a.nextSlot(now), b.nextSlot(now)
		if !sa.Equal(sb) {
			t.Fatalf("device %d: slots differ between two schedulers: %v %v", id, sa, sb)
		}
		if !sa.After(now) || sa.Sub(now) > iv {
			t.Fatalf("device %d: slot %v not within one interval after %v", id, sa, now)
		}
		if next := a.nextSlot(sa); next.Sub(sa) != iv {
			t.Fatalf("device %d: next slot %v after %v", id, next, sa)
		}
		seen[sa.Sub(now)/(3*time.Second)]++
	}
	for b, c := range seen {
		if c > 150 { // 100 expected per tenth
			t.Errorf("tenth %d holds %d of 1000 devices", b, c)
		}
	}
}

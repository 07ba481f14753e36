package collector

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestPartialLossNumbers runs the collector, with each engine, against devices that lose some of
// their echoes to an nftables rule on the ICMP sequence number (real packets, dropped before the
// loopback "device" answers), and checks the numbers, not only that something arrived: every
// ping_results row and every VictoriaMetrics sample of every probe has exactly the sent, received
// and loss the rule arranged, and RTT statistics that agree with each other and between the two
// backends.
//
// Each case runs its own collector with one device: the shared engine numbers the echoes of all
// its probes from one counter, so only a probe alone on its engine is sure to get consecutive
// sequence numbers, of which a mask then picks a fixed count whatever the first one is.
func TestPartialLossNumbers(t *testing.T) {
	const count = 4
	vm := testenv.VictoriaMetrics(t)
	engines := map[string]func() (icmp.Engine, error){
		"shared":  func() (icmp.Engine, error) { return icmp.NewShared(quietLog(), icmp.ModeAuto) },
		"probing": func() (icmp.Engine, error) { return icmp.NewProbing(quietLog(), icmp.ModeAuto) },
	}
	drops := []struct {
		name     string
		sel      testenv.EchoSeq
		received int
	}{
		// Loss 1/4 and 3/4 tell lost/sent from received/sent; 2/4 gives avg and stddev in closed form.
		{"one in four lost", testenv.EchoSeq{Mask: 3, Value: 0}, 3},
		{"every second lost", testenv.EchoSeq{Mask: 1, Value: 1}, 2},
		{"three in four lost", testenv.EchoSeq{Mask: 3, Value: 0, Not: true}, 1},
	}
	n := 0
	for _, engine := range []string{"shared", "probing"} {
		for _, d := range drops {
			n++
			ip := netip.AddrFrom4([4]byte{127, 20, 161, byte(n)})
			t.Run(engine+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				checkPartialLoss(t, vm, engines[engine], ip, d.sel, count, d.received)
			})
		}
	}
}

func checkPartialLoss(t *testing.T, vm *testenv.VM, newEngine func() (icmp.Engine, error), ip netip.Addr, sel testenv.EchoSeq, count, received int) {
	st, _ := testenv.Store(t)
	ctx := context.Background()
	if _, err := st.ImportInventory(ctx, nil, []model.ImportDevice{deviceSpec("loss-"+ip.String(), ip)}, false); err != nil {
		t.Fatal(err)
	}
	testenv.DropEchoes(t, ip.String(), sel)
	eng, err := newEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	start := time.Now()
	stop := startCollector(t, Options{
		Schedule: testSchedule(SchedulerOptions{
			Fleet: st, Engine: eng, PingInterval: time.Second, PingCount: count, EchoInterval: 20 * time.Millisecond,
			PingTimeout: 500 * time.Millisecond, ProbeWorkers: 4, InventoryReload: time.Second,
		}),
		VM:      testVM(vm.URL, sink.Options{Batch: 500, Interval: 200 * time.Millisecond}),
		Pings:   testPings(st, sink.Options{Interval: 200 * time.Millisecond}),
		Log:     quietLog(),
		Metrics: metrics.NewSet(),
	})
	const probes = 3
	testenv.WaitFor(t, 15*time.Second, "three probes in ping_results", func() (bool, string) {
		rows, err := st.PingHistory(ctx, ip, start, time.Now(), 100)
		return err == nil && len(rows) >= probes, fmt.Sprintf("%d rows, err %v", len(rows), err)
	})
	stop() // the probes in flight finish and both writers flush before Run returns
	end := time.Now()
	rows, err := st.PingHistory(ctx, ip, start, end, 100)
	if err != nil {
		t.Fatal(err)
	}

	wantLoss := float64(count-received) / float64(count)
	if len(rows) > 0 && rows[0].RTTAvgMs != nil {
		r := rows[0]
		t.Logf("%d probes; first: sent %d received %d loss %v rtt min %.4f avg %.4f max %.4f stddev %.4f ms", len(rows),
			r.Sent, r.Received, r.PacketLoss, *r.RTTMinMs, *r.RTTAvgMs, *r.RTTMaxMs, *r.RTTStddevMs)
	}
	byTime := map[int64]model.PingResult{}
	for _, r := range rows {
		byTime[r.Timestamp.UnixMilli()] = r
		if r.Sent != int16(count) || r.Received != int16(received) || r.PacketLoss != wantLoss || !r.IsReachable {
			t.Errorf("row at %s: sent %d received %d packet_loss %v reachable %v, want %d/%d/%v/true",
				r.Timestamp.Format(time.StampMilli), r.Sent, r.Received, r.PacketLoss, r.IsReachable, count, received, wantLoss)
		}
		if r.RTTMinMs == nil || r.RTTAvgMs == nil || r.RTTMaxMs == nil || r.RTTStddevMs == nil {
			t.Errorf("row at %s: RTT missing though %d echoes were answered", r.Timestamp.Format(time.StampMilli), received)
			continue
		}
		if msg := rttInconsistency(received, *r.RTTMinMs, *r.RTTAvgMs, *r.RTTMaxMs, *r.RTTStddevMs); msg != "" {
			t.Errorf("row at %s: %s", r.Timestamp.Format(time.StampMilli), msg)
		}
	}

	// VictoriaMetrics: one sample per probe in each series, at the probe's time, with the arranged
	// up and loss and the row's RTTs.
	if err := vm.ForceFlush(); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		value func(r model.PingResult) float64
	}{
		{model.MetricPingUp, func(model.PingResult) float64 { return 1 }},
		{model.MetricPingLoss, func(model.PingResult) float64 { return wantLoss }},
		{model.MetricPingRTT, func(r model.PingResult) float64 { return *r.RTTAvgMs / 1000 }},
		{model.MetricPingRTTMin, func(r model.PingResult) float64 { return *r.RTTMinMs / 1000 }},
		{model.MetricPingRTTMax, func(r model.PingResult) float64 { return *r.RTTMaxMs / 1000 }},
		{model.MetricPingRTTStdDev, func(r model.PingResult) float64 { return *r.RTTStddevMs / 1000 }},
	}
	got := map[string]testenv.Series{}
	// A brand-new series takes VictoriaMetrics several seconds to become searchable.
	testenv.WaitFor(t, 20*time.Second, "every series of the probes in VictoriaMetrics", func() (bool, string) {
		ss, err := vm.ExportSeries(`{__name__=~"wardops_ping_.*",ip="`+ip.String()+`"}`, start.Add(-time.Second), end.Add(time.Second))
		if err != nil {
			return false, err.Error()
		}
		for _, s := range ss {
			got[s.Labels["__name__"]] = s
		}
		for _, w := range want {
			if len(got[w.name].Values) < len(rows) {
				return false, fmt.Sprintf("%s: %d samples, %d rows", w.name, len(got[w.name].Values), len(rows))
			}
		}
		return true, ""
	})
	for _, w := range want {
		s := got[w.name]
		if len(s.Values) != len(rows) {
			t.Errorf("%s: %d samples for %d probes", w.name, len(s.Values), len(rows))
		}
		for i, ts := range s.Timestamps {
			r, ok := byTime[ts]
			if !ok {
				t.Errorf("%s: sample at %d is no probe's time", w.name, ts)
				continue
			}
			if r.RTTAvgMs == nil {
				continue // reported above
			}
			if v, wv := s.Values[i], w.value(r); math.Abs(v-wv) > 1e-9*math.Abs(wv) {
				t.Errorf("%s at %d = %v, want %v (%d of %d echoes answered; RTTs as in ping_results)", w.name, ts, v, wv, received, count)
			}
		}
	}
}

// rttInconsistency checks one probe's RTT statistics (ms) against each other: with n answered
// echoes of which min, avg and max are known, one echo pins everything, two pin avg and the
// population stddev, three pin the middle echo and so the stddev. It returns "" when they agree.
// The tolerance covers the engines' integer-nanosecond arithmetic.
func rttInconsistency(n int, lo, avg, hi, sd float64) string {
	const tol = 1e-4 // ms: 100 ns, well under the spread of loopback echoes
	near := func(a, b float64) bool { return math.Abs(a-b) <= tol }
	desc := "min " + ftoa(lo) + " avg " + ftoa(avg) + " max " + ftoa(hi) + " stddev " + ftoa(sd)
	if lo <= 0 || lo > avg || avg > hi || sd < 0 {
		return "RTT out of order: " + desc
	}
	switch n {
	case 1:
		if lo != avg || avg != hi || sd != 0 {
			return "one echo answered, want min = avg = max and stddev 0: " + desc
		}
	case 2:
		if !near(avg, (lo+hi)/2) || !near(sd, (hi-lo)/2) {
			return "two echoes answered, want avg (min+max)/2 and stddev (max-min)/2: " + desc
		}
	case 3:
		mid := 3*avg - lo - hi
		want := math.Sqrt(((lo-avg)*(lo-avg) + (mid-avg)*(mid-avg) + (hi-avg)*(hi-avg)) / 3)
		if mid < lo-tol || mid > hi+tol || !near(sd, want) {
			return "three echoes answered, middle " + ftoa(mid) + " and stddev " + ftoa(want) + " implied: " + desc
		}
	}
	return ""
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

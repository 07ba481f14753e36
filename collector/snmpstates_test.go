package collector

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// failingStates is a fake snmp_states: PostgreSQL cannot be made to refuse one write and accept
// the next on demand, and this test is about what the writer keeps across a refused write.
type failingStates struct {
	mu     sync.Mutex
	fail   bool
	writes [][]model.SNMPState
}

func (f *failingStates) UpsertSNMPStates(_ context.Context, ss []model.SNMPState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("connection refused")
	}
	f.writes = append(f.writes, append([]model.SNMPState(nil), ss...))
	return nil
}

// TestSNMPStatesObserve: a poll's samples reduce to the device's state: the interface rows with
// their own labels (not the device's, not the counter width), status, and in+out error rate since
// the previous poll (none on the first poll or after a counter went back). While writes fail,
// newer polls replace the waiting one but keep what it knew (the last success, the interfaces a
// failed poll did not read).
func TestSNMPStatesObserve(t *testing.T) {
	base := []sample.Label{{Name: "device_id", Value: "7"}, {Name: "device", Value: "r7"}, {Name: "branch", Value: "b"}}
	row := func(name, idx string, v float64, extra ...sample.Label) sample.Sample {
		l := append(append([]sample.Label{}, base...), sample.Label{Name: "index", Value: idx}, sample.Label{Name: "ifName", Value: "if" + idx})
		return sample.Sample{Name: name, Labels: append(l, extra...), Value: v}
	}
	poll := func(inErr1, outErr1 float64, reboot float64) []sample.Sample {
		return []sample.Sample{
			{Name: model.MetricSNMPUp, Labels: base, Value: 1},
			{Name: model.MetricSNMPRebootDetected, Labels: base, Value: reboot},
			row(model.MetricIfOperStatus, "1", 1), row(model.MetricIfAdminStatus, "1", 1),
			row(model.MetricIfInErrors, "1", inErr1), row(model.MetricIfOutErrors, "1", outErr1),
			row(model.MetricIfOperStatus, "2", 2), row(model.MetricIfAdminStatus, "2", 1),
			row("wardops_snmp_ifHCInOctets", "2", 1e9, sample.Label{Name: "counter_bits", Value: "64"}),
		}
	}
	fake := &failingStates{}
	s := newSNMPStates(fake, slog.New(slog.DiscardHandler), metrics.NewSet())
	dev := model.Device{DeviceSummary: model.DeviceSummary{ID: 7, Name: "r7"}}
	t0 := time.Now().Add(-time.Minute) // within the writer's memory of previous polls
	ctx := context.Background()

	s.observe(dev, base, t0, poll(100, 50, 0), true)
	s.flush(ctx)
	s.observe(dev, base, t0.Add(10*time.Second), poll(130, 70, 1), true) // 50 errors in 10 s
	s.flush(ctx)
	s.observe(dev, base, t0.Add(20*time.Second), poll(5, 0, 0), true) // counters went back (the reboot)
	s.flush(ctx)
	if len(fake.writes) != 3 {
		t.Fatalf("%d writes, want 3", len(fake.writes))
	}
	first, second, third := fake.writes[0][0], fake.writes[1][0], fake.writes[2][0]
	if len(first.Interfaces) != 2 || len(first.Interfaces[0].Labels) != 2 || first.Interfaces[0].Labels["ifName"] != "if1" ||
		first.Interfaces[1].Oper != 2 || first.Interfaces[1].Admin != 1 || !first.LastOK.Equal(t0) || !first.RebootedAt.IsZero() {
		t.Fatalf("first poll %+v", first)
	}
	if _, ok := first.Interfaces[1].Labels["counter_bits"]; ok {
		t.Fatalf("counter_bits kept as an interface label: %+v", first.Interfaces[1])
	}
	if !math.IsNaN(first.ErrorRates[0]) || second.ErrorRates[0] != 5 || !math.IsNaN(second.ErrorRates[1]) ||
		!math.IsNaN(third.ErrorRates[0]) || !second.RebootedAt.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("error rates %v, %v, %v; reboot %v", first.ErrorRates, second.ErrorRates, third.ErrorRates, second.RebootedAt)
	}

	// PostgreSQL refuses: a good poll, then a failed one that read nothing, wait as one state.
	fake.fail = true
	s.observe(dev, base, t0.Add(30*time.Second), poll(5, 0, 0), true)
	s.flush(ctx)
	s.observe(dev, base, t0.Add(40*time.Second), []sample.Sample{{Name: model.MetricSNMPUp, Labels: base, Value: 0}}, false)
	s.flush(ctx)
	fake.fail = false
	s.flush(ctx)
	last := fake.writes[len(fake.writes)-1]
	if len(last) != 1 || last[0].Up || !last[0].PolledAt.Equal(t0.Add(40*time.Second)) || !last[0].LastOK.Equal(t0.Add(30*time.Second)) ||
		!last[0].InterfacesAt.Equal(t0.Add(30*time.Second)) || len(last[0].Interfaces) != 2 ||
		!last[0].RebootedAt.IsZero() { // written before: the store keeps it

		t.Fatalf("after the outage %+v", last)
	}
}

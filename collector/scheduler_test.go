package collector

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// staticFleet is an inventory that never changes, so the test needs no database.
type staticFleet struct{ f *model.Fleet }

func (s staticFleet) LoadFleet(context.Context) (*model.Fleet, error) { return s.f, nil }

// slowPoller stands in for an SNMP agent that never answers (device 1): the fault is injected at
// our own SNMPPoller seam, and every other device answers at once.
type slowPoller struct {
	mu    sync.Mutex
	polls map[int64]int
}

func (p *slowPoller) Poll(ctx context.Context, dev model.Device, items []model.Item) ([]sample.Sample, error) {
	if dev.ID == 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p.mu.Lock()
	p.polls[dev.ID]++
	p.mu.Unlock()
	return []sample.Sample{{Name: "wardops_snmp_sysUpTime", Value: 1, Labels: []sample.Label{{Name: "x", Value: "y"}}}}, nil
}

func TestSchedulerSNMPDeadDeviceDoesNotDelayOthers(t *testing.T) {
	f := &model.Fleet{Items: map[int64][]model.Item{}}
	for i := int64(1); i <= 20; i++ {
		f.Devices = append(f.Devices, model.Device{DeviceSummary: model.DeviceSummary{ID: i, Name: "d", IP: netip.AddrFrom4([4]byte{127, 20, 70, byte(i)})}, SNMP: model.SNMP{Version: "2c"}})
		f.Items[i] = []model.Item{{ID: i, DeviceID: i, Name: "sysUpTime", Kind: "scalar"}}
	}
	eng, err := icmp.NewProbing(quietLog(), icmp.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	p := &slowPoller{polls: map[int64]int{}}
	var mu sync.Mutex
	var got []sample.Sample
	set := metrics.NewSet()
	s, err := NewScheduler(testSchedule(SchedulerOptions{
		Fleet: staticFleet{f}, Engine: eng, SNMP: p, PingInterval: 2 * time.Second, PingTimeout: 500 * time.Millisecond,
		SNMPInterval: time.Second, SNMPWorkers: 2, ProbeWorkers: 4,
		Samples: func(ss ...sample.Sample) { mu.Lock(); got = append(got, ss...); mu.Unlock() },
		Pings:   func(...model.PingResult) {},
		Log:     quietLog(), Metrics: set,
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(4500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Two workers, one stuck for a whole interval per round on device 1: the other 19 still get
	// polled every round.
	for i := int64(2); i <= 20; i++ {
		if p.polls[i] < 3 {
			t.Errorf("device %d polled %d times in 4.5 intervals", i, p.polls[i])
		}
	}
	if s := set.GetOrCreateCounter(`wardops_collector_probes_skipped_total{kind="snmp"}`).Get(); s == 0 {
		t.Error("the stuck device's overlapping rounds were not skipped")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, smp := range got {
		if smp.Name != "wardops_snmp_sysUpTime" {
			continue
		}
		if len(smp.Labels) != 7 || smp.Labels[0].Name != "device_id" || smp.Labels[6].Name != "x" || smp.Timestamp == 0 {
			t.Fatalf("snmp sample not completed by the scheduler: %+v", smp)
		}
	}
}

// forgetPoller records which devices the scheduler told it to forget.
type forgetPoller struct {
	slowPoller
	forgot []int64
}

func (p *forgetPoller) Forget(id int64) { p.forgot = append(p.forgot, id) }

// TestSchedulerForgetsGoneDevices: a device deleted or disabled in the inventory is dropped from the
// poller's per-device state at the reload that notices it (snmp.Poller.Forget's contract).
func TestSchedulerForgetsGoneDevices(t *testing.T) {
	fleet := func(ids ...int64) *model.Fleet {
		f := &model.Fleet{Items: map[int64][]model.Item{}}
		for _, id := range ids {
			f.Devices = append(f.Devices, model.Device{DeviceSummary: model.DeviceSummary{ID: id, IP: netip.AddrFrom4([4]byte{127, 20, 71, byte(id)})}, SNMP: model.SNMP{Version: "2c"}})
			f.Items[id] = []model.Item{{ID: id, DeviceID: id, Name: "sysUpTime", Kind: "scalar"}}
		}
		return f
	}
	eng, err := icmp.NewProbing(quietLog(), icmp.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	p := &forgetPoller{}
	s, err := NewScheduler(testSchedule(SchedulerOptions{Fleet: staticFleet{fleet()}, Engine: eng, SNMP: p,
		Samples: func(...sample.Sample) {}, Pings: func(...model.PingResult) {}, Log: quietLog(), Metrics: metrics.NewSet()}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.apply(fleet(1, 2, 3), now)
	s.apply(fleet(1, 3), now)
	if len(p.forgot) != 1 || p.forgot[0] != 2 {
		t.Fatalf("forgot %v, want [2]", p.forgot)
	}
	if i, n := s.Targets(); i != 2 || n != 2 {
		t.Fatalf("targets icmp %d snmp %d, want 2 and 2", i, n)
	}
}

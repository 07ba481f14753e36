package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// TestMetricsListenerServesNoProfiles: /debug/pprof is not on the metrics listener; it has a
// handler of its own for WARDOPS_PPROF_LISTEN.
func TestMetricsListenerServesNoProfiles(t *testing.T) {
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=2", "/debug/pprof/profile?seconds=1"} {
		rec := httptest.NewRecorder()
		metricsHandler(metrics.NewSet(), nil).ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("metrics listener %s: %d, want 404", p, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	pprofHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("pprof listener: %d", rec.Code)
	}
}

// TestSchedulerSkipsRefusedTargets: a device the target policy refuses is neither pinged nor
// polled, and is counted. The denied address is loopback, so nothing leaves the host even if the
// check were missing.
func TestSchedulerSkipsRefusedTargets(t *testing.T) {
	allowed, denied := netip.MustParseAddr("127.20.72.1"), netip.MustParseAddr("127.20.72.2")
	f := &model.Fleet{Items: map[int64][]model.Item{}}
	for i, ip := range []netip.Addr{allowed, denied} {
		id := int64(i + 2) // slowPoller never answers device 1
		f.Devices = append(f.Devices, model.Device{DeviceSummary: model.DeviceSummary{ID: id, Name: "d", IP: ip}, SNMP: model.SNMP{Version: "2c"}})
		f.Items[id] = []model.Item{{ID: id, DeviceID: id, Name: "sysUpTime", Kind: "scalar"}}
	}
	eng, err := icmp.NewProbing(quietLog(), icmp.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	p := &slowPoller{polls: map[int64]int{}}
	var mu sync.Mutex
	pinged := map[netip.Addr]int{}
	set := metrics.NewSet()
	s, err := NewScheduler(testSchedule(SchedulerOptions{
		Fleet: staticFleet{f}, Engine: eng, SNMP: p, PingInterval: time.Second, PingTimeout: 300 * time.Millisecond,
		SNMPInterval: time.Second, SNMPWorkers: 2, ProbeWorkers: 4,
		Targets: model.TargetPolicy{Deny: []netip.Prefix{netip.PrefixFrom(denied, 32)}},
		Samples: func(...sample.Sample) {},
		Pings: func(rs ...model.PingResult) {
			mu.Lock()
			for _, r := range rs {
				pinged[r.DeviceIP]++
			}
			mu.Unlock()
		},
		Log: quietLog(), Metrics: set,
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(2500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if pinged[denied] != 0 || p.polls[3] != 0 {
		t.Fatalf("refused device probed: %d pings, %d polls", pinged[denied], p.polls[3])
	}
	if pinged[allowed] == 0 || p.polls[2] == 0 {
		t.Fatalf("allowed device not probed: %d pings, %d polls", pinged[allowed], p.polls[2])
	}
	if n := set.GetOrCreateCounter(`wardops_collector_targets_refused_total`).Get(); n == 0 {
		t.Fatal("refusal not counted")
	}
}

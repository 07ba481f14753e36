//go:build cpumeasure

package collector

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMeasureCPU reports (never asserts) the collector's CPU-seconds per 1,000 ping probes at 875
// devices on a 5s interval over 30s, VictoriaMetrics and PostgreSQL excluded:
//
//	go test -tags cpumeasure -count=1 -run MeasureCPU -v ./collector/
func TestMeasureCPU(t *testing.T) {
	st, _ := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	var devs []model.ImportDevice
	for i := 0; i < 875; i++ {
		devs = append(devs, deviceSpec(fmt.Sprintf("m-%d", i), netip.AddrFrom4([4]byte{127, 21, byte(i / 250), byte(i%250 + 1)})))
	}
	if _, err := st.ImportInventory(context.Background(), nil, devs, false); err != nil {
		t.Fatal(err)
	}
	eng, _ := icmp.NewProbing(quietLog(), icmp.ModeRaw)
	set := metrics.NewSet()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{
			Schedule: testSchedule(SchedulerOptions{Fleet: st, Engine: eng, PingInterval: 5 * time.Second, PingTimeout: 2 * time.Second, ProbeWorkers: 256, InventoryReload: 10 * time.Second}),
			VM:       testVM(vm.URL, sink.Options{}),
			Pings:    testPings(st, sink.Options{}),
			Log:      quietLog(), Metrics: set,
		})
	}()
	time.Sleep(6 * time.Second) // warm-up: first round
	probes := set.GetOrCreateCounter(`wardops_collector_probes_total{kind="icmp"}`)
	c0, p0 := cpu(), probes.Get()
	time.Sleep(30 * time.Second)
	c1, p1 := cpu(), probes.Get()
	cancel()
	<-done
	n := p1 - p0
	t.Logf("probes %d in 30s, cpu %.2fs, cpu-s per 1000 probes %.3f, skipped %d, failures %d",
		n, (c1 - c0).Seconds(), (c1-c0).Seconds()/float64(n)*1000,
		set.GetOrCreateCounter(`wardops_collector_probes_skipped_total{kind="icmp"}`).Get(),
		set.GetOrCreateCounter(`wardops_collector_probe_failures_total{kind="icmp"}`).Get())
}

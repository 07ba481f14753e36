package collector

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/collector/snmp"
	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/model"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fleetSpecs(n int, third byte) []model.ImportDevice {
	var devs []model.ImportDevice
	for i := 1; i <= n; i++ {
		devs = append(devs, deviceSpec(fmt.Sprintf("e2e-%d-%d", third, i), netip.AddrFrom4([4]byte{127, 20, third, byte(i)})))
	}
	return devs
}

func deviceSpec(name string, ip netip.Addr) model.ImportDevice {
	return model.ImportDevice{Branch: "lab", Region: "north", Name: name, IP: ip.String(), Vendor: "loopback", Enabled: true, SNMPPort: 161}
}

// startCollector runs Run in the background. The returned stop (also run at cleanup) cancels it
// and fails the test if it errs or takes more than 20s to flush and return.
func startCollector(t *testing.T, o Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("collector did not stop within 20s")
		}
	}
	t.Cleanup(stop)
	return stop
}

// scrapeMetrics reads the collector's /metrics page into sample name (with labels) → value.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("cannot scrape the collector's /metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad /metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	return out
}

// defaults are the operator settings' defaults, from the one place that owns them.
var defaults = config.Defaults()

// testVM and testPings fill the settings a test leaves zero with their configured defaults.
func testVM(url string, o sink.Options) sink.VMOptions {
	return sink.VMOptions{URL: url, ReplaySpan: defaults.VMReplaySpan, Options: withSinkDefaults(o)}
}

func testPings(st sink.PingStore, o sink.Options) sink.PingResultsOptions {
	return sink.PingResultsOptions{Store: st, Options: withSinkDefaults(o)}
}

func withSinkDefaults(o sink.Options) sink.Options {
	if o.Batch == 0 {
		o.Batch = defaults.PushBatch
	}
	if o.Interval == 0 {
		o.Interval = defaults.PushInterval
	}
	return o
}

// testSchedule fills the scheduler settings a test leaves zero with their configured defaults.
func testSchedule(o SchedulerOptions) SchedulerOptions {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	setInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	setDur(&o.PingInterval, defaults.PingInterval)
	setDur(&o.EchoInterval, defaults.PingEcho)
	setDur(&o.PingTimeout, defaults.PingTimeout)
	setDur(&o.SNMPInterval, defaults.SNMPInterval)
	setDur(&o.InventoryReload, defaults.InventoryReload)
	setInt(&o.PingCount, defaults.PingCount)
	setInt(&o.ProbeWorkers, defaults.ProbeWorkers)
	setInt(&o.SNMPWorkers, defaults.SNMPWorkers)
	return o
}

// testPoller is an SNMP poller with the configured timeout and retries.
func testPoller(t *testing.T, set *metrics.Set) *snmp.Poller {
	t.Helper()
	p, err := snmp.NewPoller(snmp.Options{Timeout: defaults.SNMPTimeout, Retries: defaults.SNMPRetries, Log: quietLog(), Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

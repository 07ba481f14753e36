package snmp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

func TestPollSimulator(t *testing.T) {
	f := startSim(t, "127.23.0.1-127.23.0.4")
	items := profileItems(t, "system", "if-mib", "host-resources")
	addrs := f.Addrs()
	for i, tc := range []struct {
		name    string
		version string
	}{
		{"v1 getnext", "1"},
		{"v2c getbulk", "2c"},
		{"v3 authPriv SHA AES", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, set := newTestPoller(time.Second, 1)
			d := device(int64(i+1), addrs[i], f.Port(), tc.version)
			first := poll(t, p, d, items)
			if up := one(t, first, "wardops_snmp_up"); up.Value != 1 {
				t.Fatalf("up = %v", up.Value)
			}
			if got := one(t, first, "wardops_snmp_sysName_info").Labels; len(got) != 1 || got[0].Value != "sim-"+strings.ReplaceAll(addrs[i].String(), ".", "-") {
				t.Errorf("sysName labels = %v", got)
			}
			in := find(first, "wardops_snmp_ifHCInOctets")
			if len(in) != 8 {
				t.Fatalf("want 8 ifHCInOctets rows, got %d", len(in))
			}
			gi1 := one(t, first, "wardops_snmp_ifHCInOctets", "ifName", "Gi0/1")
			if label(gi1, "index") != "2" || label(gi1, "ifDescr") != "GigabitEthernet0/1" || label(gi1, "ifAlias") == "" {
				t.Errorf("Gi0/1 labels = %v", gi1.Labels)
			}
			if gi1.Timestamp <= 0 {
				t.Errorf("timestamp %d", gi1.Timestamp)
			}
			if n := len(find(first, "wardops_snmp_hrStorageUsed", "hrStorageDescr", "Physical memory")); n != 1 {
				t.Errorf("hrStorageUsed for Physical memory: %d samples", n)
			}
			if n := len(find(first, "wardops_snmp_hrProcessorLoad")); n != 2 {
				t.Errorf("hrProcessorLoad: %d samples", n)
			}
			time.Sleep(1100 * time.Millisecond)
			second := poll(t, p, d, items)
			gi1b := one(t, second, "wardops_snmp_ifHCInOctets", "ifName", "Gi0/1")
			if gi1b.Value <= gi1.Value {
				t.Errorf("ifHCInOctets did not increase: %v then %v", gi1.Value, gi1b.Value)
			}
			if label(gi1b, "ifDescr") != "GigabitEthernet0/1" {
				t.Errorf("cached labels lost: %v", gi1b.Labels)
			}
			if n := counterValue(set, `wardops_collector_snmp_label_refreshes_total`); n != 1 {
				t.Errorf("label columns walked %d times in two polls, want 1 (cached)", n)
			}
			if one(t, second, "wardops_snmp_reboot_detected").Value != 0 {
				t.Error("reboot detected without one")
			}
		})
	}
}

// TestPollRequestsPerPoll pins the request budget: with labels cached an if-mib+system poll is
// one GET and one GETBULK (for v3, plus the engine discovery that is not counted here).
func TestPollRequestsPerPoll(t *testing.T) {
	f := startSim(t, "127.23.1.1")
	p, set := newTestPoller(time.Second, 0)
	d := device(1, f.Addrs()[0], f.Port(), "2c")
	items := profileItems(t, "system", "if-mib")
	poll(t, p, d, items)
	get0, bulk0 := counterValue(set, `wardops_collector_snmp_requests_total{type="get"}`), counterValue(set, `wardops_collector_snmp_requests_total{type="getbulk"}`)
	poll(t, p, d, items)
	get1, bulk1 := counterValue(set, `wardops_collector_snmp_requests_total{type="get"}`), counterValue(set, `wardops_collector_snmp_requests_total{type="getbulk"}`)
	if get1-get0 != 1 || bulk1-bulk0 != 1 {
		t.Errorf("second poll sent %d GET and %d GETBULK, want 1 and 1", get1-get0, bulk1-bulk0)
	}
}

func TestPollRebootDetected(t *testing.T) {
	f := startSim(t, "127.23.2.1")
	p, set := newTestPoller(time.Second, 0)
	addr := f.Addrs()[0]
	d := device(1, addr, f.Port(), "3")
	items := profileItems(t, "system", "if-mib")
	before := poll(t, p, d, items)
	boot0 := one(t, before, "wardops_snmp_last_reboot_timestamp_seconds").Value
	oct0 := one(t, before, "wardops_snmp_ifHCInOctets", "ifName", "Gi0/0").Value
	if err := f.Reboot(addr); err != nil {
		t.Fatal(err)
	}
	after := poll(t, p, d, items)
	if one(t, after, "wardops_snmp_reboot_detected").Value != 1 {
		t.Fatal("reboot not detected")
	}
	boot1 := one(t, after, "wardops_snmp_last_reboot_timestamp_seconds").Value
	if boot1 <= boot0 || boot1 < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last reboot %v, before %v", boot1, boot0)
	}
	if oct1 := one(t, after, "wardops_snmp_ifHCInOctets", "ifName", "Gi0/0").Value; oct1 >= oct0 {
		t.Errorf("counter did not reset: %v then %v", oct0, oct1)
	}
	if n := counterValue(set, `wardops_collector_snmp_label_refreshes_total`); n != 2 {
		t.Errorf("labels walked %d times, want 2 (again after the reboot)", n)
	}
	third := poll(t, p, d, items)
	if one(t, third, "wardops_snmp_reboot_detected").Value != 0 || one(t, third, "wardops_snmp_last_reboot_timestamp_seconds").Value != boot1 {
		t.Error("reboot state did not settle")
	}
}

func TestUptimeWrapIsNotAReboot(t *testing.T) {
	st := newDeviceState("k")
	t0 := time.Unix(1_700_000_000, 0)
	st.observeUptime(ticksPerWrap-1000, t0) // 10 s before the 497-day wrap
	if st.observeUptime(500, t0.Add(15*time.Second)) {
		t.Error("a TimeTicks wrap was read as a reboot")
	}
	if !st.observeUptime(100, t0.Add(30*time.Second)) {
		t.Error("uptime going back from 500 to 100 is a reboot")
	}
}

func TestPollFailures(t *testing.T) {
	f := startSim(t, "127.23.3.1-127.23.3.2")
	silent := f.Addrs()[1]
	f.SetSilent(silent, true)
	items := profileItems(t, "system")
	for _, tc := range []struct {
		name    string
		dev     model.Device
		items   []model.Item
		reasons []string // acceptable reasons
	}{
		{"silent device times out", device(1, silent, f.Port(), "2c"), items, []string{ReasonTimeout}},
		{"wrong community times out", func() model.Device {
			d := device(2, f.Addrs()[0], f.Port(), "2c")
			d.SNMP.Community = "s3cret-community"
			return d
		}(), items, []string{ReasonTimeout}},
		{"wrong v3 key", func() model.Device {
			d := device(3, f.Addrs()[0], f.Port(), "3")
			d.SNMP.AuthKey = "s3cret-authkey"
			return d
		}(), items, []string{ReasonAuth, ReasonTimeout}},
		{"bad v3 protocol", func() model.Device {
			d := device(4, f.Addrs()[0], f.Port(), "3")
			d.SNMP.PrivProtocol = "ROT13"
			return d
		}(), items, []string{ReasonConfig}},
		{"closed port", device(5, netip.MustParseAddr("127.23.3.9"), f.Port(), "2c"), items, []string{ReasonRefused, ReasonTimeout}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			set := newTestPollerSet()
			p, err := NewPoller(Options{Timeout: 300 * time.Millisecond, Retries: 1, Metrics: set,
				Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, err := p.Poll(context.Background(), tc.dev, tc.items)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("failed poll took %v, want about timeout × (retries+1)", took)
			}
			var pe *PollError
			if !errors.As(err, &pe) {
				t.Fatalf("want a *PollError, got %v", err)
			}
			if !contains(tc.reasons, pe.Reason) {
				t.Errorf("reason %q, want one of %v (err %v)", pe.Reason, tc.reasons, err)
			}
			if one(t, out, "wardops_snmp_up").Value != 0 {
				t.Error("up is not 0")
			}
			if n := counterValue(set, `wardops_collector_snmp_errors_total{reason="`+pe.Reason+`"}`); n != 1 {
				t.Errorf("errors_total{reason=%q} = %d", pe.Reason, n)
			}
			for _, secret := range []string{"s3cret", testAuthKey, testPrivKey, testCommunty} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("secret %q leaked: err %q, logs %q", secret, err, logs.String())
				}
			}
		})
	}
}

func TestPollNoSuchObjectIsCountedNotFatal(t *testing.T) {
	f := startSim(t, "127.23.4.1")
	p, set := newTestPoller(time.Second, 0)
	items := append(profileItems(t, "system"),
		model.Item{Name: "missing", OID: "1.3.6.1.2.1.99.1.0", Kind: "scalar", ValueType: "gauge"},
		model.Item{Name: "missingTable", OID: "1.3.6.1.2.1.99.2.1.1", Kind: "table", ValueType: "gauge"})
	out := poll(t, p, device(1, f.Addrs()[0], f.Port(), "2c"), items)
	if one(t, out, "wardops_snmp_up").Value != 1 || len(find(out, "wardops_snmp_missing")) != 0 {
		t.Error("a missing scalar failed the poll or produced a sample")
	}
	if n := counterValue(set, `wardops_collector_snmp_errors_total{reason="no_such_object"}`); n != 1 {
		t.Errorf("no_such_object counted %d times", n)
	}
	if one(t, out, "wardops_snmp_errors_total", "reason", "no_such_object").Value != 1 {
		t.Error("per-device no_such_object count not exported")
	}
}

// TestSilentDeviceDoesNotDelayOthers polls 40 devices at once, 4 of them silent with a long
// timeout: every answering device finishes long before the silent ones give up.
func TestSilentDeviceDoesNotDelayOthers(t *testing.T) {
	f := startSim(t, "127.23.5.1-127.23.5.40")
	addrs := f.Addrs()
	silent := map[netip.Addr]bool{}
	for _, a := range addrs[:4] {
		silent[a] = true
		f.SetSilent(a, true)
	}
	const timeout = 3 * time.Second
	p, _ := newTestPoller(timeout, 0)
	items := profileItems(t, "system", "if-mib")
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Poll(context.Background(), device(int64(i+1), a, f.Port(), "2c"), items)
			took := time.Since(start)
			if silent[a] {
				if err == nil {
					t.Errorf("silent %s answered", a)
				}
				return
			}
			if err != nil {
				t.Errorf("%s: %v", a, err)
			}
			mu.Lock()
			slowest = max(slowest, took)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if slowest >= timeout/2 {
		t.Errorf("answering devices took up to %v beside silent ones (timeout %v)", slowest, timeout)
	}
	t.Logf("36 answering devices done within %v; silent ones gave up after %v", slowest, time.Since(start))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package alerting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/alerting"
	"github.com/wardops/wardops/collector"
	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/collector/snmp"
	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

var defaults = config.Defaults()

func testLog() *slog.Logger {
	if os.Getenv("WARDOPS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// hookEvent is one alert of one webhook notification from Alertmanager.
type hookEvent struct {
	At        time.Time
	Status    string // firing or resolved
	Alertname string
	Device    string
	Summary   string
}

// webhook is the receiver behind Alertmanager: it records every alert of every notification.
type webhook struct {
	URL    string
	mu     sync.Mutex
	events []hookEvent
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Version string `json:"version"`
			Alerts  []struct {
				Status      string            `json:"status"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			rw.WriteHeader(400)
			return
		}
		w.mu.Lock()
		for _, a := range msg.Alerts {
			w.events = append(w.events, hookEvent{At: time.Now(), Status: a.Status, Alertname: a.Labels["alertname"],
				Device: a.Labels["device"], Summary: a.Annotations["summary"]})
		}
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

// count returns how many events match alertname (any if ""), device (any if "") and status.
func (w *webhook) count(alertname, device, status string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if (alertname == "" || e.Alertname == alertname) && (device == "" || e.Device == device) && e.Status == status {
			n++
		}
	}
	return n
}

func (w *webhook) dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := ""
	for _, e := range w.events {
		s += fmt.Sprintf("\n  %s %s %s %s %q", e.At.Format("15:04:05.000"), e.Status, e.Alertname, e.Device, e.Summary)
	}
	return s
}

// env is one scenario's own servers: a database, VictoriaMetrics, Alertmanager with a webhook
// behind it, a collector probing the scenario's devices and (unless asked not to) an alerter.
type env struct {
	t     *testing.T
	st    *store.Store
	dbURL string
	vm    *testenv.VM
	am    *testenv.AM
	hook  *webhook
	// am2 and hook2, with envOptions.secondAM: a second Alertmanager the alerter also sends to.
	am2   *testenv.AM
	hook2 *webhook
	ids   map[string]int64 // device name → id
	ips   map[string]string
	start time.Time
}

type envOptions struct {
	pingInterval time.Duration // 0: the default 30 s
	pingTimeout  time.Duration // 0: the default
	noAlerter    bool
	// snmpInterval, when set, polls the devices' SNMP items this often with the production
	// poller; the devices must point at an agent (the simulator, snmpd).
	snmpInterval time.Duration
	evalInterval time.Duration        // threshold rules; 0: the default 30 s
	registry     *prometheus.Registry // the alerter's self-metrics; nil: a private registry
	secondAM     bool                 // the alerter also sends to a second Alertmanager (am2)
}

func newEnv(t *testing.T, devs []model.ImportDevice, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	st, dbURL := testenv.Store(t)
	if _, err := st.ImportInventory(ctx, nil, devs, false); err != nil {
		t.Fatalf("import: %v", err)
	}
	e := &env{t: t, st: st, dbURL: dbURL, vm: testenv.VictoriaMetrics(t), hook: newWebhook(t), ids: map[string]int64{},
		ips: map[string]string{}, start: time.Now()}
	e.am = testenv.Alertmanager(t, e.hook.URL)
	if o.secondAM {
		e.hook2 = newWebhook(t)
		e.am2 = testenv.Alertmanager(t, e.hook2.URL)
	}
	nodes, err := st.AlertDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		e.ids[n.Name], e.ips[n.Name] = n.ID, n.IP
	}
	if o.pingInterval == 0 {
		o.pingInterval = defaults.PingInterval
	}
	if o.pingTimeout == 0 {
		o.pingTimeout = defaults.PingTimeout
	}
	e.startCollector(o)
	if !o.noAlerter {
		e.startAlerter(o)
	}
	return e
}

func (e *env) startCollector(o envOptions) {
	t := e.t
	eng, err := icmp.New(defaults.ICMPEngine, testLog(), defaults.ICMPMode)
	if err != nil {
		t.Fatalf("icmp engine: %v", err)
	}
	set := metrics.NewSet()
	var poller collector.SNMPPoller
	snmpInterval := defaults.SNMPInterval
	if o.snmpInterval > 0 {
		p, err := snmp.NewPoller(snmp.Options{Timeout: defaults.SNMPTimeout, Retries: defaults.SNMPRetries, Log: testLog(), Metrics: set})
		if err != nil {
			t.Fatal(err)
		}
		poller, snmpInterval = p, o.snmpInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	so := sink.Options{Batch: defaults.PushBatch, Interval: defaults.PushInterval}
	go func() {
		done <- collector.Run(ctx, collector.Options{
			Schedule: collector.SchedulerOptions{Fleet: e.st, Engine: eng, SNMP: poller, PingInterval: o.pingInterval,
				PingCount: defaults.PingCount, EchoInterval: defaults.PingEcho, PingTimeout: o.pingTimeout,
				SNMPInterval: snmpInterval, ProbeWorkers: 256, SNMPWorkers: 4, InventoryReload: defaults.InventoryReload},
			VM:         sink.VMOptions{URL: e.vm.URL, Options: so},
			Pings:      sink.PingResultsOptions{Store: e.st, Options: so},
			SNMPStates: e.st,
			Log:        testLog(),
			Metrics:    set,
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("collector: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("collector did not stop within 20s")
		}
		eng.Close()
	})
}

// alerterOptions are the production defaults but for the group wait, which matches the test
// Alertmanager's route.
func (e *env) alerterOptions(pingInterval time.Duration, reg prometheus.Registerer) alerting.Options {
	ams := []string{e.am.URL}
	if e.am2 != nil {
		ams = append(ams, e.am2.URL)
	}
	return alerting.Options{Store: e.st, VMURL: e.vm.URL, Alertmanagers: ams, PingInterval: pingInterval,
		DownInterval: defaults.AlertDownInterval, EvalInterval: defaults.AlertEvalInterval,
		ResendInterval: defaults.AlertResendInterval, ResolvedResend: defaults.AlertResolvedResend,
		Timeout: defaults.AlertmanagerTimeout, GroupWait: 3 * e.am.GroupWait, InventoryEvery: 5 * time.Second,
		ExternalURL: "http://127.0.0.1:5001", Registry: reg, Log: testLog()}
}

func (e *env) startAlerter(o envOptions) {
	reg := o.registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if o.pingInterval == 0 {
		o.pingInterval = defaults.PingInterval
	}
	opts := e.alerterOptions(o.pingInterval, reg)
	if o.evalInterval > 0 {
		opts.EvalInterval = o.evalInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- alerting.Run(ctx, opts) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("alerter: %v", err)
			}
		case <-time.After(20 * time.Second):
			e.t.Error("alerter did not stop within 20s")
		}
	})
}

// amAlerts returns Alertmanager's active alerts named alertname for device ("" any).
func (e *env) amAlerts(alertname, device string) []testenv.AMAlert {
	as, err := e.am.Alerts()
	if err != nil {
		return nil
	}
	var out []testenv.AMAlert
	for _, a := range as {
		if (alertname == "" || a.Labels["alertname"] == alertname) && (device == "" || a.Labels["device"] == device) {
			out = append(out, a)
		}
	}
	return out
}

// waitUp waits until every device has an answered probe in ping_results.
func (e *env) waitUp(d time.Duration) {
	e.t.Helper()
	testenv.WaitFor(e.t, d, "every device answered a probe", func() (bool, string) {
		l, err := e.st.LatestPings(context.Background(), time.Now().Add(-time.Minute))
		if err != nil {
			return false, err.Error()
		}
		up := 0
		for _, p := range l {
			if p.IsReachable {
				up++
			}
		}
		return up == len(e.ids), fmt.Sprintf("%d of %d up", up, len(e.ids))
	})
}

// history returns alert_history rows of a device since the env started.
func (e *env) history(device string) []model.AlertRecord {
	as, err := e.st.AlertHistory(context.Background(), e.ids[device], e.start.Add(-time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

func dev(branch, name, ip, parent string) model.ImportDevice {
	return model.ImportDevice{Branch: branch, Region: "north", Name: name, IP: netip.MustParseAddr(ip).String(),
		Vendor: "loopback", DeviceType: "router", Enabled: true, SNMPPort: 161, Parent: parent}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1)*p + 0.5)
	return s[i]
}

func t0() context.Context { return context.Background() }

func netipOf(s string) netip.Addr { return netip.MustParseAddr(s) }

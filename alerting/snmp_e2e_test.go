package alerting_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/sim"
)

// TestSNMPRulesFromRealPolls: the SNMP rules fire from what the collector really polled from
// agents (the project's simulator, 4 interfaces each, the last one cabled off: admin up, oper
// down) with the built-in system and if-mib profiles, written into VictoriaMetrics by the
// collector's own pipeline. Each device shows one thing:
//   - snmp-1: interface 4 oper-down on an admin-up interface → InterfaceDown on that interface
//     only; interface 2 takes 5,000 errors a second → InterfaceErrors on that interface only;
//   - snmp-2: interface 4 shut down (admin down, so oper down too) → nothing; then it reboots →
//     DeviceRebooted;
//   - snmp-3: interface 4 shut down; then its agent stops answering → SNMPUnreachable.
//
// The rules' `for` and windows are shortened so the test takes under a minute; their
// expressions are the production ones. The alerts-by-state gauge counts them by rule.
func TestSNMPRulesFromRealPolls(t *testing.T) {
	t.Parallel()
	testenv.LookBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	addrs, err := sim.Range(netip.MustParseAddr("127.29.14.1"), 3)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := sim.Start(sim.Options{Addrs: addrs, Community: "wardops-rules", Interfaces: 4})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { fl.Close() })
	doc := &inventory.Document{}
	for i, a := range addrs {
		doc.Rows = append(doc.Rows, inventory.Row{Line: i + 2, Branch: "SNMP", Region: "north", Name: fmt.Sprintf("snmp-%d", i+1),
			IP: a.String(), Vendor: "cisco", DeviceType: "router", Enabled: "true", SNMPVersion: "2c",
			SNMPCommunity: "wardops-rules", SNMPPort: strconv.Itoa(fl.Port()), SNMPProfiles: "system;if-mib"})
	}
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	creds, devs, err := inventory.Build(doc, ps)
	if err != nil || len(creds) != 0 {
		t.Fatalf("inventory: %v %v", creds, err)
	}
	for _, a := range addrs[1:] {
		if err := fl.SetAdminDown(a, 4, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := fl.SetInErrors(addrs[0], 2, 5000); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	o := envOptions{noAlerter: true, snmpInterval: 3 * time.Second, evalInterval: 2 * time.Second, registry: reg}
	e := newEnv(t, devs, o)
	ctx := context.Background()
	rules, err := e.st.AlertRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		switch r.Kind {
		case model.RuleIfOperDown:
			r.For = 0
		case model.RuleIfErrors:
			th, rec := 1000.0, 500.0 // the simulator's own error rates stay under 10 a second
			r.Threshold, r.Recovery, r.Window, r.For = &th, &rec, 20*time.Second, 0
		case model.RuleRebooted:
			r.Window = time.Minute
		case model.RuleSNMPUnreachable:
			r.Window = 12 * time.Second
		default:
			continue
		}
		if err := e.st.UpdateAlertRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	e.startAlerter(o)

	firing := func(alertname string) map[string][]map[string]string {
		out := map[string][]map[string]string{}
		for _, a := range e.amAlerts(alertname, "") {
			out[a.Labels["device"]] = append(out[a.Labels["device"]], a.Labels)
		}
		return out
	}
	only := func(alertname, device, index string) func() (bool, string) {
		return func() (bool, string) {
			f := firing(alertname)
			ok := len(f) == 1 && len(f[device]) == 1 && (index == "" || f[device][0]["index"] == index)
			return ok, fmt.Sprint(f)
		}
	}
	testenv.WaitFor(t, 60*time.Second, "InterfaceDown for snmp-1 interface 4 only", only("InterfaceDown", "snmp-1", "4"))
	testenv.WaitFor(t, 30*time.Second, "InterfaceErrors for snmp-1 interface 2 only", only("InterfaceErrors", "snmp-1", "2"))
	if f := firing("DeviceRebooted"); len(f) != 0 {
		t.Fatalf("DeviceRebooted before any reboot: %v", f)
	}
	if err := fl.Reboot(addrs[1]); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "DeviceRebooted for snmp-2 only", only("DeviceRebooted", "snmp-2", ""))
	if f := firing("SNMPUnreachable"); len(f) != 0 {
		t.Fatalf("SNMPUnreachable while every agent answers: %v", f)
	}
	if err := fl.SetSilent(addrs[2], true); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 45*time.Second, "SNMPUnreachable for snmp-3 only", only("SNMPUnreachable", "snmp-3", ""))
	// Still one InterfaceDown: the shut-down interfaces never counted, and a silent agent's last
	// answer keeps nothing new open.
	if ok, got := only("InterfaceDown", "snmp-1", "4")(); !ok {
		t.Errorf("InterfaceDown alerts %s, want snmp-1 interface 4 only", got)
	}
	if ok, got := only("InterfaceErrors", "snmp-1", "2")(); !ok {
		t.Errorf("InterfaceErrors alerts %s, want snmp-1 interface 2 only", got)
	}
	testenv.WaitFor(t, 10*time.Second, "the alerts-by-state gauge counts each SNMP rule's alert", func() (bool, string) {
		g := alertsGauge(t, reg)
		want := map[string]float64{"InterfaceDown": 1, "InterfaceErrors": 1, "DeviceRebooted": 1, "SNMPUnreachable": 1, "HighRTT": 0, "DeviceDown": 0}
		for rule, n := range want {
			if v, ok := g[[2]string{"firing", rule}]; !ok || v != n {
				return false, fmt.Sprintf("%s firing: %v (present %v), want %v; all: %v", rule, v, ok, n, g)
			}
		}
		return true, ""
	})
	for _, d := range []string{"snmp-1", "snmp-2", "snmp-3"} {
		for _, a := range e.history(d) {
			if a.Labels["alertname"] == "DeviceDown" {
				t.Errorf("%s went down though it answered every ping: %+v", d, a)
			}
		}
	}
}

// alertsGauge returns wardops_alerting_alerts by (state, rule).
func alertsGauge(t *testing.T, reg *prometheus.Registry) map[[2]string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "wardops_alerting_alerts" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var state, rule string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "state":
					state = l.GetValue()
				case "rule":
					rule = l.GetValue()
				}
			}
			out[[2]string{state, rule}] = m.GetGauge().GetValue()
		}
	}
	return out
}

package snmp

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
)

// startSnmpd runs net-snmp's agent on loopback with the test community and v3 authPriv user.
func startSnmpd(t *testing.T) int {
	t.Helper()
	return testenv.Snmpd(t, testenv.SnmpdOptions{Community: testCommunty, User: testUser, AuthKey: testAuthKey, PrivKey: testPrivKey})
}

func TestPollNetSNMP(t *testing.T) {
	port := startSnmpd(t)
	items := profileItems(t, "system", "if-mib", "host-resources")
	lo := netip.MustParseAddr("127.0.0.1")
	for i, version := range []string{"2c", "3", "1"} {
		t.Run("v"+version, func(t *testing.T) {
			p, set := newTestPoller(2*time.Second, 1)
			d := device(int64(i+1), lo, port, version)
			first := poll(t, p, d, items)
			if one(t, first, "wardops_snmp_up").Value != 1 {
				t.Fatal("up is not 1")
			}
			if len(find(first, "wardops_snmp_sysDescr_info")) != 1 || one(t, first, "wardops_snmp_sysUpTime").Value <= 0 {
				t.Error("system group missing")
			}
			// SNMPv1 has no Counter64 (RFC 2576 4.2.2.1): net-snmp skips ifHCInOctets for v1.
			counter := "wardops_snmp_ifHCInOctets"
			if version == "1" {
				counter = "wardops_snmp_ifInErrors"
			}
			in0 := one(t, first, counter, "ifName", "lo")
			if label(in0, "ifDescr") != "lo" || label(in0, "index") == "" {
				t.Errorf("lo labels = %v", in0.Labels)
			}
			if len(find(first, "wardops_snmp_hrStorageSize")) == 0 {
				t.Error("no hrStorage rows")
			}
			time.Sleep(200 * time.Millisecond)
			second := poll(t, p, d, items)
			if in1 := one(t, second, counter, "ifName", "lo"); in1.Value < in0.Value {
				t.Errorf("lo %s went back: %v then %v", counter, in0.Value, in1.Value)
			}
			if one(t, second, "wardops_snmp_sysUpTime").Value <= one(t, first, "wardops_snmp_sysUpTime").Value {
				t.Error("sysUpTime did not move")
			}
			if version != "2c" {
				return
			}
			// Our own SNMP traffic crosses lo, so its octet counter moves once net-snmp's
			// interface cache (a few seconds) expires.
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(time.Second) {
				in1 := one(t, poll(t, p, d, items), counter, "ifName", "lo")
				if in1.Value > in0.Value {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("lo %s stuck at %v", counter, in0.Value)
				}
			}
			if n := counterValue(set, `wardops_collector_snmp_label_refreshes_total`); n != 1 {
				t.Errorf("labels walked %d times, want 1", n)
			}
		})
	}
	t.Run("v3 wrong key", func(t *testing.T) {
		p, set := newTestPoller(300*time.Millisecond, 0)
		d := device(9, lo, port, "3")
		d.SNMP.AuthKey = "wrong-authkey"
		out, err := p.Poll(context.Background(), d, items)
		if err == nil || one(t, out, "wardops_snmp_up").Value != 0 {
			t.Fatalf("wrong key polled fine: %v", err)
		}
		auth, timeout := counterValue(set, `wardops_collector_snmp_errors_total{reason="auth"}`), counterValue(set, `wardops_collector_snmp_errors_total{reason="timeout"}`)
		if auth+timeout != 1 || strings.Contains(err.Error(), "wrong-authkey") {
			t.Errorf("auth=%d timeout=%d err=%v", auth, timeout, err)
		}
	})
}

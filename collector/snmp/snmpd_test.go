package snmp

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

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

// TestPollNetSNMPCounterWidth polls net-snmp over v1, which cannot carry Counter64 (net-snmp skips
// ifHC* for v1), and over v2c: every interface has its traffic counters under the 64-bit names,
// 32-bit over v1 and 64-bit over v2c as counter_bits says, with exactly the values a GET of the
// 32-bit or 64-bit column returns around the poll.
func TestPollNetSNMPCounterWidth(t *testing.T) {
	port := startSnmpd(t)
	items := profileItems(t, "system", "if-mib")
	lo := netip.MustParseAddr("127.0.0.1")
	for i, tc := range []struct {
		version string
		gv      gosnmp.SnmpVersion
		bits    string
	}{
		{"1", gosnmp.Version1, "32"},
		{"2c", gosnmp.Version2c, "64"},
	} {
		t.Run("v"+tc.version, func(t *testing.T) {
			g := &gosnmp.GoSNMP{Target: lo.String(), Port: uint16(port), Version: tc.gv, Community: testCommunty, Timeout: time.Second, MaxOids: gosnmp.MaxOids}
			if err := g.Connect(); err != nil {
				t.Fatal(err)
			}
			defer g.Conn.Close()
			walkIdx := func(col string) []string {
				pdus, err := g.WalkAll(col)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, v := range pdus {
					out = append(out, strings.TrimPrefix(v.Name, "."+col+"."))
				}
				return out
			}
			ifIndexes := walkIdx("1.3.6.1.2.1.2.2.1.1")
			highSpeedRows := walkIdx("1.3.6.1.2.1.31.1.1.1.15")
			if len(ifIndexes) == 0 {
				t.Fatal("snmpd serves no interface")
			}
			var oids []string
			for _, idx := range ifIndexes {
				for _, c := range ifCounters {
					col := c.hc
					if tc.bits == "32" {
						col = c.c32
					}
					oids = append(oids, col+"."+idx)
				}
			}
			p, _ := newTestPoller(2*time.Second, 1)
			d := device(int64(i+1), lo, port, tc.version)
			// Our own packets cross lo; net-snmp caches interface counters for a few seconds, so
			// a poll between two equal GETs read exactly those values.
			for attempt := 0; ; attempt++ {
				before := agentGet(t, lo.String(), port, tc.gv, oids...)
				out := poll(t, p, d, items)
				after := agentGet(t, lo.String(), port, tc.gv, oids...)
				if !sameValues(before, after) {
					if attempt == 10 {
						t.Fatal("interface counters never held still over a poll")
					}
					time.Sleep(300 * time.Millisecond)
					continue
				}
				k := 0
				for _, idx := range ifIndexes {
					for _, c := range ifCounters {
						s := one(t, out, "wardops_snmp_"+c.name, "index", idx)
						want := float64(gosnmp.ToBigInt(before[k].Value).Uint64())
						if s.Value != want || label(s, "counter_bits") != tc.bits {
							t.Errorf("%s.%s = %v counter_bits %q, want %v from %s and %q", c.name, idx, s.Value, label(s, "counter_bits"), want, before[k].Name, tc.bits)
						}
						k++
					}
				}
				for table, want := range map[string]int{"ifTable": len(ifIndexes), "ifXTable": len(highSpeedRows)} {
					if got := one(t, out, "wardops_snmp_table_rows", "profile", "if-mib", "table", table).Value; got != float64(want) {
						t.Errorf("table_rows{%s} = %v, want %d", table, got, want)
					}
				}
				if got := one(t, out, "wardops_snmp_errors_total", "reason", "empty_table").Value; got != 0 {
					t.Errorf("empty_table = %v", got)
				}
				if n := len(find(out, "wardops_snmp_ifHCInOctets", "ifName", "lo", "counter_bits", tc.bits)); n != 1 {
					t.Errorf("%d lo ifHCInOctets with counter_bits %s", n, tc.bits)
				}
				t.Logf("%d interfaces, %d in ifXTable; first counter %s = %v", len(ifIndexes), len(highSpeedRows), before[0].Name, before[0].Value)
				return
			}
		})
	}
}

func sameValues(a, b []gosnmp.SnmpPDU) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || gosnmp.ToBigInt(a[i].Value).Cmp(gosnmp.ToBigInt(b[i].Value)) != 0 {
			return false
		}
	}
	return true
}

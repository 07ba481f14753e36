package snmp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

const snmpdPath = "/usr/sbin/snmpd"

// startSnmpd runs net-snmp's agent in the foreground on a free loopback UDP port with a v2c
// community and a v3 authPriv SHA/AES user, and returns the port once it answers.
func startSnmpd(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat(snmpdPath); err != nil {
		t.Fatalf("net-snmp's snmpd is required at %s: %v\ninstall it with: apt-get install snmpd", snmpdPath, err)
	}
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "snmpd.conf")
	// No MIB files are installed: everything is numeric, and -M/-m keep snmpd from looking.
	body := fmt.Sprintf(`agentAddress udp:127.0.0.1:%d
rocommunity %s 127.0.0.1
createUser %s SHA "%s" AES "%s"
rouser %s priv
`, port, testCommunty, testUser, testAuthKey, testPrivKey, testUser)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(snmpdPath, "-f", "-Lo", "-C", "-c", conf, "-M", "/dev/null", "-m", "")
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "MIBDIRS=/dev/null", "MIBS=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start snmpd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Version: gosnmp.Version2c, Community: testCommunty,
		Timeout: 200 * time.Millisecond, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-done:
			t.Fatalf("snmpd exited: %s", out.String())
		default:
		}
		if _, err := g.Get([]string{sysUpTimeOID}); err == nil {
			return port
		}
	}
	t.Fatalf("snmpd did not answer on 127.0.0.1:%d: %s", port, out.String())
	return 0
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

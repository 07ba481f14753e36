package snmp

import (
	"math"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// valueOID is where the test agent serves one value of a known type, under an enterprise arc no
// real MIB of net-snmp's uses.
func valueOID(n string) string { return "1.3.6.1.4.1.99999." + n + ".0" }

// TestPollValueTypes has net-snmp serve exact values of every SNMP type the poller reads (with
// snmpd's override directive) and checks each sample carries exactly that value: 64-bit counters
// above 2^32 and near 2^64 (where a float64 still holds them exactly: 2^64-2048 is a multiple of
// the 2^11 spacing there), a Counter32 at its top and after its wrap (raw, as rate() expects),
// unsigned 32-bit values above 2^31, a negative Integer32, and OCTET STRINGs as text, as hex bytes
// and as a number.
func TestPollValueTypes(t *testing.T) {
	const (
		c64Above32 = uint64(1)<<32 + 12345
		c64Near64  = math.MaxUint64 - 2047 // 2^64 - 2048
	)
	// snmpd's override directive has no Counter64 type: a pass script serves those two.
	pass, err := filepath.Abs(filepath.Join("testdata", "counter64-pass.sh"))
	if err != nil {
		t.Fatal(err)
	}
	port := testenv.Snmpd(t, testenv.SnmpdOptions{Community: testCommunty, User: testUser, AuthKey: testAuthKey, PrivKey: testPrivKey,
		Config: `rwcommunity wardops-rw 127.0.0.1
pass .1.3.6.1.4.1.99999.1 ` + pass + `
pass .1.3.6.1.4.1.99999.2 ` + pass + `
override -rw .` + valueOID("3") + ` counter 4294967295
override .` + valueOID("4") + ` unsigned 3000000000
override .` + valueOID("5") + ` timeticks 4294967295
override .` + valueOID("6") + ` integer -2147483648
override .` + valueOID("7") + ` integer -42
override .` + valueOID("8") + ` octet_str "core-sw-01 (Lab 3)"
override .` + valueOID("9") + ` octet_str 0x776172646f707300
override .` + valueOID("10") + ` octet_str 0xff41
override .` + valueOID("11") + ` octet_str " 1.25"
`})
	item := func(n, name, typ string) model.Item {
		return model.Item{Name: name, OID: valueOID(n), Kind: "scalar", ValueType: typ, Enabled: true}
	}
	items := []model.Item{
		item("1", "c64Above32", "counter"),
		item("2", "c64Near64", "counter"),
		item("3", "c32", "counter"),
		item("4", "gauge32", "gauge"),
		item("5", "ticks", "gauge"),
		item("6", "int32Min", "gauge"),
		item("7", "intNegative", "gauge"),
		item("8", "text", "info"),
		item("9", "hexText", "info"),
		item("10", "badUTF8", "info"),
		item("11", "textNumber", "gauge"),
	}
	numbers := []struct {
		name string
		want float64
	}{
		{"c64Above32", float64(c64Above32)},
		{"c64Near64", float64(c64Near64)},
		{"c32", 4294967295},
		{"gauge32", 3000000000},
		{"ticks", 4294967295},
		{"int32Min", -2147483648},
		{"intNegative", -42},
		{"textNumber", 1.25},
	}
	texts := []struct{ name, want string }{
		{"text", "core-sw-01 (Lab 3)"},
		{"hexText", "wardops"}, // a NUL-terminated DisplayString, served as hex bytes
		{"badUTF8", "\uFFFDA"}, // 0xff is no UTF-8: replaced, so the label stays valid
	}
	lo := netip.MustParseAddr("127.0.0.1")
	for i, version := range []string{"2c", "3"} {
		t.Run("v"+version, func(t *testing.T) {
			p, set := newTestPoller(2*time.Second, 1)
			ss := poll(t, p, device(int64(i+1), lo, port, version), items)
			if one(t, ss, "wardops_snmp_up").Value != 1 {
				t.Fatalf("up is not 1: %v", ss)
			}
			for _, n := range numbers {
				if got := one(t, ss, "wardops_snmp_"+n.name).Value; got != n.want {
					t.Errorf("%s = %s, want %s", n.name, ftoa(got), ftoa(n.want))
				}
			}
			for _, x := range texts {
				s := one(t, ss, "wardops_snmp_"+x.name+"_info")
				if got := label(s, "value"); s.Value != 1 || got != x.want {
					t.Errorf("%s_info = %v value %q, want 1 value %q", x.name, s.Value, got, x.want)
				}
			}
			if n := counterValue(set, `wardops_collector_snmp_errors_total{reason="bad_value"}`); n != 0 {
				t.Errorf("%d bad values", n)
			}
		})
	}

	// A Counter32 wraps: the next poll reads the small raw value, not a negative or adjusted one.
	g := &gosnmp.GoSNMP{Target: lo.String(), Port: uint16(port), Version: gosnmp.Version2c, Community: "wardops-rw",
		Timeout: 2 * time.Second, Retries: 1}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	if _, err := g.Set([]gosnmp.SnmpPDU{{Name: "." + valueOID("3"), Type: gosnmp.Counter32, Value: uint32(5)}}); err != nil {
		t.Fatalf("cannot wrap the Counter32: %v", err)
	}
	p, _ := newTestPoller(2*time.Second, 1)
	d := device(9, lo, port, "2c")
	if got := one(t, poll(t, p, d, items), "wardops_snmp_c32").Value; got != 5 {
		t.Errorf("c32 after the wrap = %s, want 5", ftoa(got))
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestOIDCompare(t *testing.T) {
	f := func(a, b string, want int) {
		t.Helper()
		if got := oidCompare(a, b); got != want {
			t.Errorf("oidCompare(%q, %q) = %d, want %d", a, b, got, want)
		}
		if got := oidCompare(b, a); got != -want {
			t.Errorf("oidCompare(%q, %q) = %d, want %d", b, a, got, -want)
		}
	}
	f("1.3.6.1.2", "1.3.6.1.20", -1)
	f(".1.3.6.1.2.1.2.2.1.10.9", ".1.3.6.1.2.1.2.2.1.10.10", -1)
	f(".1.3.6.1.2.1.2.2.1.10.9", ".1.3.6.1.2.1.2.2.1.10.9", 0)
	f("1.3.6", "1.3.6.1", -1)
	f("1.3.6.12", "1.3.6.1", 1)
	f("1.3.6.1.2.1", "1.3.6.1.10", -1)
	f(".1.3", "1.3", 0)
	f(".1.3.6.1.2.1.31.1.1.1.6.2", ".1.3.6.1.2.1.2.2.1.10.2", 1)
}

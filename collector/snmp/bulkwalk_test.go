package snmp

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/internal/testenv"
)

// walked is one line of snmpbulkwalk -On -Ot output: the instance OID, net-snmp's type and the
// value as text (quotes removed, Hex-STRING rendered as colon hex like our text()).
type walked struct {
	oid, typ, value string
}

// bulkwalk runs net-snmp's own snmpbulkwalk over root and parses every line.
func bulkwalk(t *testing.T, port int, root string) []walked {
	t.Helper()
	bin := testenv.LookBinary(t, "snmpbulkwalk", "snmp")
	cmd := exec.Command(bin, "-v2c", "-c", testCommunty, "-On", "-Ot", "-Oe", "-M", "/dev/null", "-m", "",
		fmt.Sprintf("127.0.0.1:%d", port), root)
	cmd.Env = append(os.Environ(), "MIBDIRS=/dev/null", "MIBS=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("snmpbulkwalk %s: %v", root, err)
	}
	var ws []walked
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		oid, v, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			t.Fatalf("snmpbulkwalk line %q", sc.Text())
		}
		w := walked{oid: strings.TrimPrefix(oid, ".")}
		if typ, val, ok := strings.Cut(v, ": "); ok {
			w.typ, w.value = typ, val
		} else {
			w.typ, w.value = "Timeticks", v // -Ot prints ticks bare; an empty string prints ""
			if v == `""` {
				w.typ, w.value = "STRING", `""`
			}
		}
		switch w.typ {
		case "STRING":
			w.value = strings.TrimSuffix(strings.TrimPrefix(w.value, `"`), `"`)
		case "Hex-STRING":
			w.value = strings.Join(strings.Fields(w.value), ":")
		case "OID":
			w.value = strings.TrimPrefix(w.value, ".")
		}
		ws = append(ws, w)
	}
	return ws
}

// TestIfMIBFullMatchesBulkwalk polls net-snmp with the if-mib-full profile and compares every
// value, series and label with snmpbulkwalk of the same tables: every walked column instance is
// exactly one sample (ifDescr, ifName and ifAlias are labels instead), and each value is equal,
// except counters and sysUpTime, which move while the walk runs and must lie between a poll
// before and a poll after it (modulo 2^32 for Counter32).
func TestIfMIBFullMatchesBulkwalk(t *testing.T) {
	port := startSnmpd(t)
	items := profileItems(t, "if-mib-full")
	p, _ := newTestPoller(2*time.Second, 1)
	d := device(1, netip.MustParseAddr("127.0.0.1"), port, "2c")
	before := poll(t, p, d, items)
	var ws []walked
	for _, root := range []string{"1.3.6.1.2.1.1.3", "1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1"} {
		ws = append(ws, bulkwalk(t, port, root)...)
	}
	time.Sleep(10 * time.Millisecond)
	after := poll(t, p, d, items)

	byOID := map[string]string{} // column or scalar OID → item name
	labelCols := map[string]string{}
	for _, it := range items {
		byOID[strings.TrimSuffix(it.OID, ".0")] = it.Name
		for n, o := range it.Labels {
			labelCols[o] = n
		}
	}
	// rowLabels[index][label] from the walk, to check every sample's lookups.
	rowLabels := map[string]map[string]string{}
	type want struct {
		name, index string
		w           walked
	}
	var wants []want
	for _, w := range ws {
		col, index := w.oid[:strings.LastIndexByte(w.oid, '.')], w.oid[strings.LastIndexByte(w.oid, '.')+1:]
		if n, ok := labelCols[col]; ok {
			if rowLabels[index] == nil {
				rowLabels[index] = map[string]string{}
			}
			rowLabels[index][n] = w.value
			continue
		}
		name, ok := byOID[col]
		if !ok {
			t.Errorf("snmpbulkwalk returned %s, which no if-mib-full item reads", w.oid)
			continue
		}
		wants = append(wants, want{name, index, w})
	}
	if len(wants) < 30 {
		t.Fatalf("snmpbulkwalk returned only %d values", len(wants))
	}

	key := func(s sample.Sample) string {
		return strings.TrimSuffix(strings.TrimPrefix(s.Name, "wardops_snmp_"), "_info") + "|" + label(s, "index")
	}
	index := func(ss []sample.Sample) map[string]sample.Sample {
		m := map[string]sample.Sample{}
		for _, s := range ss {
			if !strings.HasPrefix(s.Name, "wardops_snmp_") {
				continue
			}
			n := strings.TrimSuffix(strings.TrimPrefix(s.Name, "wardops_snmp_"), "_info")
			found := false
			for _, it := range items {
				found = found || it.Name == n
			}
			if !found {
				continue // status series
			}
			if _, dup := m[key(s)]; dup {
				t.Errorf("two samples for %s", key(s))
			}
			m[key(s)] = s
		}
		return m
	}
	b, a := index(before), index(after)
	if len(b) != len(wants) || len(a) != len(wants) {
		t.Errorf("polls returned %d and %d item samples, snmpbulkwalk %d values", len(b), len(a), len(wants))
	}
	for _, wt := range wants {
		k := wt.name + "|" + wt.index
		if wt.index == "0" {
			k = wt.name + "|" // a scalar has no index label
		}
		s0, ok0 := b[k]
		s1, ok1 := a[k]
		if !ok0 || !ok1 {
			t.Errorf("%s (%s = %s %s) missing from a poll", k, wt.w.oid, wt.w.typ, wt.w.value)
			continue
		}
		if wt.index != "0" {
			for _, n := range []string{"ifAlias", "ifDescr", "ifName"} {
				if got, want := label(s0, n), rowLabels[wt.index][n]; got != want {
					t.Errorf("%s label %s = %q, snmpbulkwalk %q", k, n, got, want)
				}
			}
		}
		switch wt.w.typ {
		case "STRING", "Hex-STRING", "OID":
			if got := label(s0, "value"); got != wt.w.value || s0.Value != 1 {
				t.Errorf("%s = %v value %q, snmpbulkwalk %s %q", k, s0.Value, got, wt.w.typ, wt.w.value)
			}
			continue
		}
		v, err := strconv.ParseFloat(wt.w.value, 64)
		if err != nil {
			t.Errorf("%s: snmpbulkwalk value %s %q", k, wt.w.typ, wt.w.value)
			continue
		}
		moving := wt.w.typ == "Counter32" || wt.w.typ == "Counter64" || wt.name == "sysUpTime"
		switch {
		case !moving && (s0.Value != v || s1.Value != v):
			t.Errorf("%s = %s then %s, snmpbulkwalk %s %s", k, ftoa(s0.Value), ftoa(s1.Value), wt.w.typ, wt.w.value)
		case wt.w.typ == "Counter32":
			const wrap = 1 << 32
			lo, x, hi := uint64(s0.Value), uint64(v), uint64(s1.Value)
			if (x-lo)%wrap > (hi-lo)%wrap {
				t.Errorf("%s: snmpbulkwalk %s not between the polls' %s and %s", k, wt.w.value, ftoa(s0.Value), ftoa(s1.Value))
			}
		case moving && (v < s0.Value || v > s1.Value):
			t.Errorf("%s: snmpbulkwalk %s not between the polls' %s and %s", k, wt.w.value, ftoa(s0.Value), ftoa(s1.Value))
		}
	}
}

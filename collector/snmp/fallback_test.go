package snmp

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/sim"
)

// ifCounters maps each if-mib counter with a fallback to its 64-bit and 32-bit columns.
var ifCounters = []struct{ name, hc, c32 string }{
	{"ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.2.2.1.10"},
	{"ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.2.2.1.16"},
	{"ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7", "1.3.6.1.2.1.2.2.1.11"},
	{"ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11", "1.3.6.1.2.1.2.2.1.17"},
}

// frozenSim starts one simulated device whose clock stands still, so a second GET from the test
// reads exactly what the poll read.
func frozenSim(t *testing.T, addr string, opts sim.Options) *sim.Fleet {
	t.Helper()
	at := time.Unix(1_700_000_000, 0)
	opts.Addrs, opts.Community, opts.Interfaces = []netip.Addr{netip.MustParseAddr(addr)}, testCommunty, 8
	opts.Clock = func() time.Time { return at }
	f, err := sim.Start(opts)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// agentGet reads OIDs from the agent with a client of the test's own.
func agentGet(t *testing.T, addr string, port int, v gosnmp.SnmpVersion, oids ...string) []gosnmp.SnmpPDU {
	t.Helper()
	g := &gosnmp.GoSNMP{Target: addr, Port: uint16(port), Version: v, Community: testCommunty, Timeout: time.Second, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	r, err := g.Get(oids)
	if err != nil || r.Error != gosnmp.NoError {
		t.Fatalf("GET %v: %v %v", oids, err, r)
	}
	return r.Variables
}

// TestPollFallbackPerInterface polls agents with all, none and some interfaces in ifXTable: each
// interface gets its 64-bit counter where the agent has it and the 32-bit one otherwise, under the
// same name, with the value the agent serves and the width in counter_bits; ifHighSpeed comes from
// ifSpeed ÷ 10^6 where it is missing; the walk costs nothing more when ifXTable is complete.
func TestPollFallbackPerInterface(t *testing.T) {
	all := map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true}
	for i, tc := range []struct {
		name    string
		version string
		opts    sim.Options
		has64   map[int]bool // ifIndexes with ifXTable rows
		// requests of the first and the second poll: GET, GETBULK, GETNEXT
		first, second [3]uint64
	}{
		{"complete ifXTable", "2c", sim.Options{}, all, [3]uint64{1, 1, 0}, [3]uint64{1, 1, 0}},
		// No ifXTable: the first poll GETs the 32-bit columns after the walk, later polls walk them.
		{"no ifXTable", "2c", sim.Options{Omit: []string{"ifXTable"}}, map[int]bool{}, [3]uint64{2, 1, 0}, [3]uint64{1, 1, 0}},
		// Over v1 a walk of 8 rows is 9 GETNEXTs, plus one for the noSuchName that ends the view at
		// the ifXTable columns, plus one in the first poll for ifName, which precedes them.
		{"no ifXTable over v1", "1", sim.Options{Omit: []string{"ifXTable"}}, map[int]bool{}, [3]uint64{2, 0, 11}, [3]uint64{1, 0, 10}},
		// Some interfaces in ifXTable: every poll GETs the missing ones' 32-bit counters.
		{"ifXTable for some", "2c", sim.Options{NoIfXRows: []int{3, 5}}, map[int]bool{1: true, 2: true, 4: true, 6: true, 7: true, 8: true}, [3]uint64{2, 1, 0}, [3]uint64{2, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := "127.23.6." + strconv.Itoa(200+i) // booted days before the clock: counters past 2^32
			f := frozenSim(t, addr, tc.opts)
			p, set := newTestPoller(time.Second, 0)
			d := device(int64(i+1), netip.MustParseAddr(addr), f.Port(), tc.version)
			items := profileItems(t, "system", "if-mib")
			reqs := func() [3]uint64 {
				var r [3]uint64
				for j, typ := range []string{"get", "getbulk", "getnext"} {
					r[j] = counterValue(set, `wardops_collector_snmp_requests_total{type="`+typ+`"}`)
				}
				return r
			}
			var polls [][]sample.Sample
			for n, want := range [][3]uint64{tc.first, tc.second} {
				before := reqs()
				polls = append(polls, poll(t, p, d, items))
				after := reqs()
				if got := [3]uint64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}; got != want {
					t.Errorf("poll %d sent GET/GETBULK/GETNEXT %v, want %v", n+1, got, want)
				}
			}
			gv := gosnmp.Version2c
			if tc.version == "1" {
				gv = gosnmp.Version1
			}
			for n, out := range polls {
				if one(t, out, "wardops_snmp_up").Value != 1 {
					t.Fatalf("poll %d: up is not 1", n+1)
				}
				for _, c := range ifCounters {
					if got := len(find(out, "wardops_snmp_"+c.name)); got != 8 {
						t.Errorf("poll %d: %d %s samples, want one per interface (8)", n+1, got, c.name)
					}
				}
				for idx := 1; idx <= 8; idx++ {
					ix := strconv.Itoa(idx)
					for _, c := range ifCounters {
						oid, bits := c.c32, "32"
						if tc.has64[idx] {
							oid, bits = c.hc, "64"
						}
						s := one(t, out, "wardops_snmp_"+c.name, "index", ix)
						want := float64(gosnmp.ToBigInt(agentGet(t, addr, f.Port(), gv, oid+"."+ix)[0].Value).Uint64())
						if label(s, "counter_bits") != bits || s.Value != want {
							t.Errorf("poll %d: %s.%d = %v counter_bits %q, want %v (%s.%d) and %q", n+1, c.name, idx, s.Value, label(s, "counter_bits"), want, oid, idx, bits)
						}
						if label(s, "ifDescr") != "GigabitEthernet0/"+strconv.Itoa(idx-1) {
							t.Errorf("%s.%d labels %v", c.name, idx, s.Labels)
						}
					}
					speed := one(t, out, "wardops_snmp_ifHighSpeed", "index", ix)
					want := float64(sim.HighSpeed(idx))
					if !tc.has64[idx] {
						want = float64(sim.Speed(idx)) / 1e6 // 4294.967295 for a 10 Gbit/s port: ifSpeed saturates
					}
					if speed.Value != want || label(speed, "counter_bits") != "" {
						t.Errorf("ifHighSpeed.%d = %v %v, want %v", idx, speed.Value, speed.Labels, want)
					}
				}
				rows := map[string]float64{"ifTable": 8, "ifXTable": float64(len(tc.has64))}
				for table, want := range rows {
					if got := one(t, out, "wardops_snmp_table_rows", "profile", "if-mib", "table", table).Value; got != want {
						t.Errorf("poll %d: table_rows{%s} = %v, want %v", n+1, table, got, want)
					}
				}
				// ifTable stands in for a missing ifXTable: that is not an empty table.
				if got := one(t, out, "wardops_snmp_errors_total", "reason", "empty_table").Value; got != 0 {
					t.Errorf("empty_table = %v", got)
				}
			}
			if got := one(t, polls[0], "wardops_snmp_ifHCInOctets", "index", "2").Value; got == float64(uint32(got)) && tc.has64[2] {
				t.Errorf("ifHCInOctets.2 = %v: the test wants a 64-bit value past 2^32", got)
			}
		})
	}
}

// TestPollEmptyTables: an agent that returns nothing for a profile's tables reads up 1 with
// wardops_snmp_table_rows 0 for each and one empty_table per empty table and poll.
func TestPollEmptyTables(t *testing.T) {
	f := frozenSim(t, "127.23.7.1", sim.Options{Omit: []string{"ifTable", "ifXTable", "hrStorageTable"}})
	p, set := newTestPoller(time.Second, 0)
	d := device(1, netip.MustParseAddr("127.23.7.1"), f.Port(), "2c")
	items := profileItems(t, "system", "if-mib", "host-resources")
	want := []struct {
		profile, table string
		rows           float64
	}{
		{"host-resources", "hrProcessorTable", 2},
		{"host-resources", "hrStorageTable", 0},
		{"if-mib", "ifTable", 0},
		{"if-mib", "ifXTable", 0},
	}
	for n := 1; n <= 2; n++ {
		out := poll(t, p, d, items)
		if one(t, out, "wardops_snmp_up").Value != 1 {
			t.Error("an empty table failed the poll")
		}
		rows := find(out, "wardops_snmp_table_rows")
		if len(rows) != len(want) {
			t.Fatalf("table_rows series %v, want %d", rows, len(want))
		}
		for i, w := range want {
			if label(rows[i], "profile") != w.profile || label(rows[i], "table") != w.table || rows[i].Value != w.rows {
				t.Errorf("table_rows[%d] = %v %v, want %+v", i, rows[i].Labels, rows[i].Value, w)
			}
		}
		if got := one(t, out, "wardops_snmp_errors_total", "reason", "empty_table").Value; got != float64(3*n) {
			t.Errorf("poll %d: per-device empty_table = %v, want %d", n, got, 3*n)
		}
		if len(find(out, "wardops_snmp_ifHCInOctets"))+len(find(out, "wardops_snmp_hrStorageUsed")) != 0 {
			t.Error("samples from an empty table")
		}
		if len(find(out, "wardops_snmp_hrProcessorLoad")) != 2 {
			t.Error("hrProcessorLoad rows missing")
		}
	}
	if got := counterValue(set, `wardops_collector_snmp_errors_total{reason="empty_table"}`); got != 6 {
		t.Errorf("collector empty_table = %d, want 6", got)
	}
}

// TestPollTooBig polls an agent that answers tooBig above 100 varbinds with if-mib-full (41
// columns of 8 rows): the poller halves its request size until the agent answers, gets every
// sample with GETBULK still, and starts the next poll at the size that worked.
func TestPollTooBig(t *testing.T) {
	const addr = "127.23.9.1"
	f := frozenSim(t, addr, sim.Options{TooBigAbove: 100})
	items := profileItems(t, "if-mib-full")
	p, set := newTestPoller(time.Second, 0)
	d := device(1, netip.MustParseAddr(addr), f.Port(), "2c")
	want := 38*8 + 2 + 4 + 4 + 2 // columns × rows, sysUpTime and ifNumber, status, errors, table rows
	first := poll(t, p, d, items)
	if one(t, first, "wardops_snmp_up").Value != 1 || len(first) != want {
		t.Fatalf("first poll: up %v, %d samples, want %d", one(t, first, "wardops_snmp_up").Value, len(first), want)
	}
	retries := counterValue(set, "wardops_collector_snmp_toobig_retries_total")
	if retries == 0 {
		t.Fatal("no tooBig retry counted")
	}
	if n := counterValue(set, `wardops_collector_snmp_requests_total{type="getnext"}`); n != 0 {
		t.Errorf("%d GETNEXT requests: tooBig must not end bulk walking", n)
	}
	second := poll(t, p, d, items)
	if len(second) != want {
		t.Errorf("second poll: %d samples, want %d", len(second), want)
	}
	if n := counterValue(set, "wardops_collector_snmp_toobig_retries_total"); n != retries {
		t.Errorf("second poll retried tooBig again (%d → %d): the working size was not remembered", retries, n)
	}
	for _, s := range first {
		if s.Name == "wardops_snmp_ifHCInOctets" && label(s, "index") == "1" {
			v := agentGet(t, addr, f.Port(), gosnmp.Version2c, "1.3.6.1.2.1.31.1.1.1.6.1")
			if got, _ := number(v[0]); got != s.Value {
				t.Errorf("ifHCInOctets.1 = %v, agent %v", s.Value, got)
			}
		}
	}
}

package sim

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func startFleet(t *testing.T, opts Options) *Fleet {
	t.Helper()
	f, err := Start(opts)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func client(t *testing.T, f *Fleet, addr netip.Addr, v gosnmp.SnmpVersion, user *V3User) *gosnmp.GoSNMP {
	t.Helper()
	g := &gosnmp.GoSNMP{Target: addr.String(), Port: uint16(f.Port()), Version: v, Community: "public",
		Timeout: time.Second, Retries: 0, MaxOids: gosnmp.MaxOids}
	if user != nil {
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{UserName: user.Username, AuthenticationProtocol: gosnmp.SHA,
			AuthenticationPassphrase: user.AuthKey, PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: user.PrivKey}
	}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

func TestFleetAnswers(t *testing.T) {
	user := &V3User{Username: "wardops", AuthProtocol: "SHA", AuthKey: "authpass123", PrivProtocol: "AES", PrivKey: "privpass123"}
	addrs, err := ParseAddrs("127.22.0.1-127.22.0.3")
	if err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, Options{Addrs: addrs, Community: "public", V3: user, Interfaces: 4})
	for _, tc := range []struct {
		name string
		v    gosnmp.SnmpVersion
		user *V3User
		bulk bool
	}{
		{"v1 walk", gosnmp.Version1, nil, false},
		{"v2c bulk", gosnmp.Version2c, nil, true},
		{"v3 authPriv bulk", gosnmp.Version3, user, true},
		{"v3 authPriv walk", gosnmp.Version3, user, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := client(t, f, addrs[1], tc.v, tc.user)
			r, err := g.Get([]string{"1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if got := string(r.Variables[0].Value.([]byte)); got != "sim-127-22-0-2" {
				t.Errorf("sysName = %q", got)
			}
			walk := g.WalkAll
			if tc.bulk {
				walk = g.BulkWalkAll
			}
			pdus, err := walk("1.3.6.1.2.1.31.1.1.1.1")
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			if len(pdus) != 4 || string(pdus[3].Value.([]byte)) != "Gi0/3" {
				t.Errorf("ifName walk = %v", pdus)
			}
		})
	}
	t.Run("missing instance", func(t *testing.T) {
		g := client(t, f, addrs[0], gosnmp.Version2c, nil)
		r, err := g.Get([]string{"1.3.6.1.2.1.1.3.1", "1.3.6.1.2.1.99.0"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Variables[0].Type != gosnmp.NoSuchInstance || r.Variables[1].Type != gosnmp.NoSuchObject {
			t.Errorf("got %v %v", r.Variables[0].Type, r.Variables[1].Type)
		}
	})
	t.Run("reboot and silence", func(t *testing.T) {
		g := client(t, f, addrs[2], gosnmp.Version2c, nil)
		up := func() uint32 {
			r, err := g.Get([]string{"1.3.6.1.2.1.1.3.0"})
			if err != nil {
				t.Fatal(err)
			}
			return r.Variables[0].Value.(uint32)
		}
		before := up()
		if err := f.Reboot(addrs[2]); err != nil {
			t.Fatal(err)
		}
		if after := up(); after >= before || after > 100 {
			t.Errorf("uptime %d after reboot, %d before", after, before)
		}
		f.SetSilent(addrs[2], true)
		g.Timeout = 200 * time.Millisecond
		if _, err := g.Get([]string{"1.3.6.1.2.1.1.3.0"}); err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("silent device answered: %v", err)
		}
		f.SetSilent(addrs[2], false)
		up()
	})
}

func TestParseAddrs(t *testing.T) {
	f := func(in string, want int, wantErr bool) {
		t.Helper()
		got, err := ParseAddrs(in)
		if (err != nil) != wantErr || len(got) != want {
			t.Errorf("ParseAddrs(%q) = %d addrs, %v", in, len(got), err)
		}
	}
	f("127.20.0.1-127.20.3.90", 3*256+90, false)
	f("127.20.0.1, 127.20.0.5-127.20.0.6", 3, false)
	f("10.0.0.1", 0, true)
	f("127.20.0.5-127.20.0.1", 0, true)
	f("127.255.255.255-128.0.0.1", 0, true)
}

// TestOmittedTables: Omit and NoIfXRows shape the view as agents without (some of) ifXTable or
// without any interface answer it, and a stopped clock makes the 32-bit counters exactly the low
// 32 bits of the 64-bit ones.
func TestOmittedTables(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return at }
	const (
		ifHCIn  = "1.3.6.1.2.1.31.1.1.1.6"
		ifIn    = "1.3.6.1.2.1.2.2.1.10"
		ifSpeed = "1.3.6.1.2.1.2.2.1.5"
		hrStor  = "1.3.6.1.2.1.25.2.3.1.5"
	)
	for i, tc := range []struct {
		name string
		opts Options
		rows map[string][]string // column → indexes walked
	}{
		{"full", Options{}, map[string][]string{ifHCIn: {"1", "2", "3", "4"}, ifIn: {"1", "2", "3", "4"}, hrStor: {"1", "2", "3"}}},
		{"no ifXTable", Options{Omit: []string{"ifXTable"}}, map[string][]string{ifHCIn: nil, ifIn: {"1", "2", "3", "4"}}},
		{"ifXTable for some", Options{NoIfXRows: []int{2, 4}}, map[string][]string{ifHCIn: {"1", "3"}, ifIn: {"1", "2", "3", "4"}}},
		{"no interfaces", Options{Omit: []string{"ifTable", "ifXTable"}}, map[string][]string{ifHCIn: nil, ifIn: nil, hrStor: {"1", "2", "3"}}},
		{"no storage", Options{Omit: []string{"hrStorageTable"}}, map[string][]string{hrStor: nil, ifIn: {"1", "2", "3", "4"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Addrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 22, 1, byte(200 + i)})}
			opts.Community, opts.Interfaces, opts.Clock = "public", 4, clock
			f := startFleet(t, opts)
			g := client(t, f, opts.Addrs[0], gosnmp.Version2c, nil)
			for col, want := range tc.rows {
				pdus, err := g.BulkWalkAll(col)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range pdus {
					got = append(got, strings.TrimPrefix(p.Name, "."+col+"."))
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s rows %v, want %v", col, got, want)
				}
			}
		})
	}
	t.Run("values", func(t *testing.T) {
		addr := netip.MustParseAddr("127.22.2.200") // booted 2,761 minutes before the clock
		f := startFleet(t, Options{Addrs: []netip.Addr{addr}, Community: "public", Interfaces: 4, Clock: clock})
		g := client(t, f, addr, gosnmp.Version2c, nil)
		for idx := 1; idx <= 4; idx++ {
			n := strconv.Itoa(idx)
			r, err := g.Get([]string{ifHCIn + "." + n, ifIn + "." + n, ifSpeed + "." + n, "1.3.6.1.2.1.31.1.1.1.15." + n})
			if err != nil {
				t.Fatal(err)
			}
			u := func(i int) uint64 { return gosnmp.ToBigInt(r.Variables[i].Value).Uint64() }
			hc, c32 := u(0), u(1)
			if r.Variables[1].Type != gosnmp.Counter32 || c32 != hc%(1<<32) {
				t.Errorf("ifInOctets.%d = %v %d, want Counter32 %d (low bits of %d)", idx, r.Variables[1].Type, c32, hc%(1<<32), hc)
			}
			if idx < 4 && hc <= 1<<32 {
				t.Errorf("ifHCInOctets.%d = %d: the test wants counters past 2^32", idx, hc)
			}
			speed, high := u(2), u(3)
			if want := map[int]uint64{1: 4294967295, 2: 4294967295, 3: 1e9, 4: 1e9}[idx]; speed != want || high != HighSpeed(idx) {
				t.Errorf("ifSpeed.%d = %d, ifHighSpeed %d; want %d and %d", idx, speed, high, want, HighSpeed(idx))
			}
		}
	})
	if _, err := Start(Options{Addrs: []netip.Addr{netip.MustParseAddr("127.22.3.1")}, Community: "public", Omit: []string{"ipTable"}}); err == nil || !strings.Contains(err.Error(), `unknown table "ipTable"`) {
		t.Errorf("unknown table accepted: %v", err)
	}
}

// TestSharedSocket serves three devices on one wildcard socket: each answers as itself, from
// its own address (the client's connected socket accepts nothing else), over v2c and v3, and an
// address outside the fleet gets no answer.
func TestSharedSocket(t *testing.T) {
	addrs, _ := ParseAddrs("127.22.7.1-127.22.7.3")
	user := &V3User{Username: "u", AuthProtocol: "SHA", AuthKey: "authpass123", PrivProtocol: "AES", PrivKey: "privpass123"}
	f, err := Start(Options{Addrs: addrs, Community: "public", V3: user, SharedSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, a := range addrs {
		for _, v := range []gosnmp.SnmpVersion{gosnmp.Version2c, gosnmp.Version3} {
			var u *V3User
			if v == gosnmp.Version3 {
				u = user
			}
			r, err := client(t, f, a, v, u).Get([]string{"1.3.6.1.2.1.1.5.0"})
			if err != nil {
				t.Fatalf("%s v%s: %v", a, v, err)
			}
			b := a.As4()
			if got, want := string(r.Variables[0].Value.([]byte)), fmt.Sprintf("sim-%d-%d-%d-%d", b[0], b[1], b[2], b[3]); got != want {
				t.Errorf("%s sysName = %q, want %q", a, got, want)
			}
		}
	}
	if _, err := client(t, f, netip.MustParseAddr("127.22.7.9"), gosnmp.Version2c, nil).Get([]string{"1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Error("an address outside the fleet answered")
	}
}

package sim

import (
	"net/netip"
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

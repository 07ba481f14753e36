package snmp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/sim"
)

const (
	testUser     = "wardops"
	testAuthKey  = "authpass123"
	testPrivKey  = "privpass123"
	testCommunty = "public"
)

// profileItems expands built-in profiles into items the way the inventory import does.
func profileItems(t testing.TB, names ...string) []model.Item {
	t.Helper()
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := ps.Expand(names)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]model.Item, 0, len(ts))
	for _, it := range ts {
		out = append(out, model.Item{Name: it.Name, OID: it.OID, Kind: it.Kind, ValueType: it.ValueType, Labels: it.Labels,
			Profile: it.Profile, Table: it.Table, Fallback: it.Fallback, Enabled: true})
	}
	return out
}

func startSim(t testing.TB, addrs string) *sim.Fleet {
	t.Helper()
	as, err := sim.ParseAddrs(addrs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.Start(sim.Options{Addrs: as, Community: testCommunty, Interfaces: 8,
		V3: &sim.V3User{Username: testUser, AuthProtocol: "SHA", AuthKey: testAuthKey, PrivProtocol: "AES", PrivKey: testPrivKey}})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func device(id int64, addr netip.Addr, port int, version string) model.Device {
	d := model.Device{DeviceSummary: model.DeviceSummary{ID: id, Name: "dev-" + addr.String(), IP: addr, Enabled: true},
		SNMP: model.SNMP{Version: version, Port: port, Community: testCommunty}}
	if version == "3" {
		d.SNMP = model.SNMP{Version: "3", Port: port, Username: testUser, AuthProtocol: "SHA", AuthKey: testAuthKey, PrivProtocol: "AES", PrivKey: testPrivKey}
	}
	return d
}

func newTestPollerSet() *metrics.Set { return metrics.NewSet() }

func newTestPoller(timeout time.Duration, retries int) (*Poller, *metrics.Set) {
	set := metrics.NewSet()
	p, err := NewPoller(Options{Timeout: timeout, Retries: retries, Metrics: set})
	if err != nil {
		panic(err)
	}
	return p, set
}

func poll(t testing.TB, p *Poller, d model.Device, items []model.Item) []sample.Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := p.Poll(ctx, d, items)
	if err != nil {
		t.Fatalf("poll %s v%s: %v", d.IP, d.SNMP.Version, err)
	}
	return out
}

// find returns the samples named name whose labels include every pair in want.
func find(ss []sample.Sample, name string, want ...string) []sample.Sample {
	var out []sample.Sample
next:
	for _, s := range ss {
		if s.Name != name {
			continue
		}
		for i := 0; i+1 < len(want); i += 2 {
			if label(s, want[i]) != want[i+1] {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

func label(s sample.Sample, name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

func one(t testing.TB, ss []sample.Sample, name string, want ...string) sample.Sample {
	t.Helper()
	got := find(ss, name, want...)
	if len(got) != 1 {
		t.Fatalf("want one %s%v, got %d: %v", name, want, len(got), got)
	}
	return got[0]
}

func counterValue(set *metrics.Set, name string) uint64 {
	return set.GetOrCreateCounter(name).Get()
}

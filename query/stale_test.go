package query

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

// TestStaleBoundary places each device's newest probe just inside or just outside three of its
// own ping intervals (the fleet default of 30 s, and per-device 10 s and 60 s) and checks the
// status and last probe time the query service gives it, from ping_results and, with that table
// unreadable, from VictoriaMetrics: both paths must draw the line in the same place,
// and a stale device keeps its last probe time on both.
func TestStaleBoundary(t *testing.T) {
	e := newEnv(t, nil) // fleet default interval 30 s
	ctx := context.Background()
	cases := []struct {
		name     string
		interval int // seconds; 0: the fleet default
		age      time.Duration
		up       bool
		want     string
	}{
		// "Just inside" leaves 5 s for seeding and one snapshot build, checked below.
		{"default interval, up, just inside", 0, 85 * time.Second, true, statusUp},
		{"default interval, up, just outside", 0, 91 * time.Second, true, statusUnknown},
		{"default interval, down, just inside", 0, 85 * time.Second, false, statusDown},
		{"default interval, down, just outside", 0, 91 * time.Second, false, statusUnknown},
		{"10 s interval, just inside", 10, 25 * time.Second, true, statusUp},
		{"10 s interval, just outside", 10, 31 * time.Second, true, statusUnknown},
		{"60 s interval, just inside", 60, 175 * time.Second, true, statusUp},
		{"60 s interval, just outside", 60, 181 * time.Second, true, statusUnknown},
	}
	const margin = 5 * time.Second
	first := e.seedInventory(1, 1, nil)[0]
	sums, err := e.st.ListDeviceSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	devs := make([]fleetDev, len(cases))
	for i, c := range cases {
		in := model.DeviceChange{Name: fmt.Sprintf("stale-%d", i), IP: netip.AddrFrom4([4]byte{127, 20, 164, byte(i + 1)}),
			Vendor: "v", DeviceType: "router", BranchID: sums[0].BranchID, Enabled: true, SNMPPort: 161}
		if c.interval > 0 {
			in.PingIntervalSeconds = &c.interval
		}
		id, err := e.st.CreateDevice(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		devs[i] = fleetDev{ID: id, Name: in.Name, IP: in.IP.String(), Branch: first.Branch, Region: first.Region, Enabled: true}
	}
	// One build reads the inventory, whose longest interval sets the next builds' window.
	if _, err := e.srv.snaps.build(ctx, 0); err != nil {
		t.Fatal(err)
	}

	// An old probe first, so every series is known to VictoriaMetrics before the boundary probes
	// arrive: a new sample of a known series is searchable at once, a new series only later.
	old := map[fleetDev][]probe{}
	for _, d := range devs {
		old[d] = []probe{{at: time.Now().Add(-time.Hour), up: true, rtt: 1}}
	}
	e.seedProbes(old)
	eventually(t, "every series searchable", func() bool {
		r, err := e.vm.Query(`count(last_over_time(wardops_ping_up{device=~"stale-.*"}[2h]))`)
		return err == nil && len(r) == 1 && int(r[0].Value) == len(devs)
	})

	base := time.Now().UTC().Truncate(time.Millisecond)
	at := make([]time.Time, len(cases))
	probes := map[fleetDev][]probe{}
	for i, c := range cases {
		at[i] = base.Add(-c.age)
		probes[devs[i]] = []probe{{at: at[i], up: c.up, rtt: 2}}
	}
	e.seedProbes(probes)

	check := func(t *testing.T, wantSource string) {
		snap, err := e.srv.snaps.build(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Source != wantSource {
			t.Fatalf("snapshot from %s, want %s (problems %v)", snap.Source, wantSource, snap.Problems)
		}
		if late := snap.At.Sub(base); late >= margin {
			t.Fatalf("snapshot built %s after the probes were placed: the just-inside probes are no longer inside", late)
		}
		for i, c := range cases {
			fd := snap.device(devs[i].ID)
			if fd == nil {
				t.Fatalf("%s: device %d not in the snapshot", c.name, devs[i].ID)
			}
			if fd.Status != c.want || !fd.LastProbe.Equal(at[i]) {
				t.Errorf("%s: status %s, last probe %s; want %s, last probe %s (%s old at the snapshot)", c.name,
					fd.Status, fd.LastProbe.Format(time.StampMilli), c.want, at[i].Format(time.StampMilli), snap.At.Sub(at[i]))
			}
			if c.want == statusDown && (fd.DownSince == nil || !fd.DownSince.Equal(at[i])) {
				t.Errorf("%s: down since %v, want %s", c.name, fd.DownSince, at[i].Format(time.StampMilli))
			}
		}
	}
	t.Run("ping_results", func(t *testing.T) { check(t, sourcePostgres) })
	e.hidePings()
	t.Run("victoriametrics", func(t *testing.T) { check(t, sourceVM) })
}

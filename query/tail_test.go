package query

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestTailFollowsPingResults builds snapshots one after another over a real ping_results table
// and checks that the first build takes every device's newest row with its outage start, each
// later build reads only the rows that landed since the last one (and those of the landing slack
// again), keeps each device's newest probe whatever order rows land in, dates an outage from the
// first failure it sees after an up probe, asks PostgreSQL once for a device first seen failing,
// comes back after a failed read, and starts again from the newest rows after a long gap.
func TestTailFollowsPingResults(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	devs := e.seedInventory(1, 4, nil)
	a, b, c, d := devs[0], devs[1], devs[2], devs[3]
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	ago := func(s int) time.Time { return t0.Add(-time.Duration(s) * time.Second) }
	type want struct {
		status string
		last   time.Time
		since  time.Time // down only
	}
	steps := []struct {
		name     string
		seed     map[fleetDev][]probe
		hide     bool // ping_results unreadable during the build
		gap      bool // the last successful read longer ago than maxFollowGap
		rows     float64
		outages  float64 // outages placed so far
		source   string
		want     map[fleetDev]want
		wantSame bool // the previous step's devices
	}{
		{
			name: "first read: every device's newest row",
			seed: map[fleetDev][]probe{
				a: {{at: ago(70), up: true, rtt: 1}, {at: ago(40), up: true, rtt: 1}},
				b: {{at: ago(100), up: true, rtt: 1}, {at: ago(70)}, {at: ago(40)}},
				c: {{at: ago(600)}, {at: ago(40)}}, // down for ten minutes
			},
			rows: 3, outages: 0, source: sourcePostgres,
			want: map[fleetDev]want{
				a: {statusUp, ago(40), time.Time{}},
				b: {statusDown, ago(40), ago(70)},
				c: {statusDown, ago(40), ago(600)},
				d: {statusUnknown, time.Time{}, time.Time{}},
			},
		},
		{
			name: "next read: from the cursor less the slack",
			seed: map[fleetDev][]probe{
				a: {{at: ago(5)}},                    // goes down
				b: {{at: ago(5), up: true, rtt: 2}},  // comes back
				c: {{at: ago(45), up: true, rtt: 1}}, // lands late, older than c's newest: the outage began after it
				d: {{at: ago(48)}},                   // lands late but inside the slack: read; first seen failing
			},
			rows: 7, outages: 2, source: sourcePostgres, // the three at -40 s again, and the four new
			want: map[fleetDev]want{
				a: {statusDown, ago(5), ago(5)},
				b: {statusUp, ago(5), time.Time{}},
				c: {statusDown, ago(40), ago(40)},
				d: {statusDown, ago(48), ago(48)},
			},
		},
		{
			name: "a row landing later than the slack is not read",
			seed: map[fleetDev][]probe{d: {{at: ago(60)}}},
			rows: 2, outages: 2, source: sourcePostgres, // the two at -5 s
			wantSame: true,
		},
		{
			name: "ping_results unreadable: VictoriaMetrics", hide: true,
			rows: 0, outages: 2, source: sourceVM,
			want: map[fleetDev]want{
				a: {statusDown, ago(5), ago(5)},
				b: {statusUp, ago(5), time.Time{}},
				c: {statusDown, ago(40), ago(40)},
				d: {statusDown, ago(48), ago(48)}, // VictoriaMetrics has d's -60 s sample too, but older
			},
		},
		{
			name: "readable again: on from the cursor",
			rows: 2, outages: 2, source: sourcePostgres,
			wantSame: true,
		},
		{
			name: "after a long gap: every device's newest row again",
			seed: map[fleetDev][]probe{b: {{at: ago(4)}}}, // b went down again unseen
			gap:  true, rows: 4, outages: 2, source: sourcePostgres,
			want: map[fleetDev]want{
				a: {statusDown, ago(5), ago(5)},
				b: {statusDown, ago(4), ago(4)},
				c: {statusDown, ago(40), ago(40)},
				d: {statusDown, ago(48), ago(60)}, // the row that landed too late to be followed
			},
		},
	}
	var prev map[fleetDev]want
	for _, s := range steps {
		if s.seed != nil {
			e.seedProbes(s.seed)
		}
		if s.gap {
			e.srv.fleet.tail.lastRead = time.Now().Add(-maxFollowGap - time.Second)
		}
		var restore func()
		if s.hide {
			restore = e.hidePings()
		}
		rows0 := testutil.ToFloat64(e.srv.m.probeRows)
		snap, err := e.srv.snaps.build(ctx, 0)
		if restore != nil {
			restore()
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if snap.Source != s.source {
			t.Errorf("%s: source %s, want %s (problems %v)", s.name, snap.Source, s.source, snap.Problems)
		}
		if got := testutil.ToFloat64(e.srv.m.probeRows) - rows0; got != s.rows {
			t.Errorf("%s: read %v rows, want %v", s.name, got, s.rows)
		}
		if got := testutil.ToFloat64(e.srv.m.outagesPlaced); got != s.outages {
			t.Errorf("%s: %v outages placed, want %v", s.name, got, s.outages)
		}
		w := s.want
		if s.wantSame {
			w = prev
		}
		for dev, wd := range w {
			fd := snap.device(dev.ID)
			if fd == nil {
				t.Fatalf("%s: %s not in the snapshot", s.name, dev.Name)
			}
			var since time.Time
			if fd.DownSince != nil {
				since = *fd.DownSince
			}
			if fd.Status != wd.status || !fd.LastProbe.Equal(wd.last) || !since.Equal(wd.since) {
				t.Errorf("%s: %s is %s, last probe %s, down since %s; want %s, %s, %s", s.name, dev.Name,
					fd.Status, fd.LastProbe.Format(time.StampMilli), since.Format(time.StampMilli),
					wd.status, wd.last.Format(time.StampMilli), wd.since.Format(time.StampMilli))
			}
		}
		prev = w
	}
}

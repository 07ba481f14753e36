package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// TestCollectorCutFromPostgres runs three `wardops collector` processes on one private
// PostgreSQL that listens on three loopback addresses, each collector connecting through its
// own. An nftables rule then drops the TCP segments to c2's address only: c2's connections hang
// as behind a cut link (no refusal, no reset), while it still reaches VictoriaMetrics and the
// devices, and c1 and c3 still reach PostgreSQL. c2 must stop probing once its lease lapses, the
// others must take its devices, and no device may have two owners for longer than an interval.
//
// Who probed what is read from ping_results: while c2 is cut its rows wait in its spool, so the
// rows PostgreSQL holds for c2's devices after the cut are the others'; once the cut is lifted
// c2's spool drains and the rows that arrive then are c2's.
func TestCollectorCutFromPostgres(t *testing.T) {
	t.Parallel()
	testenv.LookBinary(t, "victoria-metrics", "victoria-metrics")
	addrs := map[string]string{"c1": "127.0.0.61", "c2": "127.0.0.62", "c3": "127.0.0.63"}
	pg := testenv.PrivatePostgresOn(t, addrs["c1"], addrs["c2"], addrs["c3"])
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()
	const devices = 36
	const interval = 3 * time.Second
	const lease = time.Second
	st, err := store.Open(ctx, store.Options{URL: pg.URL, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	specs := make([]model.ImportDevice, devices)
	for i := range specs {
		specs[i] = model.ImportDevice{Line: i + 2, Branch: "b", Region: "r", Name: fmt.Sprintf("cut-%02d", i),
			IP: netip.AddrFrom4([4]byte{127, 20, 217, byte(i + 1)}).String(), Enabled: true, SNMPPort: 161}
	}
	if _, err := st.ImportInventory(ctx, nil, specs, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	metricsURL := map[string]string{}
	for _, id := range []string{"c1", "c2", "c3"} {
		listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		metricsURL[id] = "http://" + listen + "/metrics"
		startWardops(t, dir, id, []string{"collector"}, "WARDOPS_DATABASE_URL="+pg.URLOn(addrs[id]), "WARDOPS_VM_URL="+vm.URL,
			"WARDOPS_COLLECTOR_ID="+id, "WARDOPS_COLLECTOR_LISTEN="+listen, "WARDOPS_DATA_DIR="+filepath.Join(dir, id),
			"WARDOPS_PING_INTERVAL="+interval.String(), "WARDOPS_PING_TIMEOUT=500ms", "WARDOPS_PING_ECHO_INTERVAL=100ms",
			"WARDOPS_COLLECTOR_LEASE="+lease.String(), "WARDOPS_INVENTORY_RELOAD=1s", "WARDOPS_PUSH_INTERVAL=200ms",
			"WARDOPS_DB_MAX_CONNS=4", "WARDOPS_DB_CONNECT_TIMEOUT=2s")
	}
	testenv.WaitFor(t, 20*time.Second, "three collectors registered", func() (bool, string) {
		cs, err := st.Collectors(ctx)
		return err == nil && len(cs) == 3, fmt.Sprintf("%d collectors, err %v", len(cs), err)
	})
	ids := map[string]int64{}
	devs, err := st.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		ids[d.IP.String()] = d.ID
	}
	group := []model.Collector{{ID: "c1"}, {ID: "c2"}, {ID: "c3"}}
	var c2Devices []model.ImportDevice
	for _, s := range specs {
		if model.Owner(group, ids[s.IP], "r") == "c2" {
			c2Devices = append(c2Devices, s)
		}
	}
	if len(c2Devices) == 0 {
		t.Fatal("c2 owns no device: nothing to hand over")
	}
	// Joining moves devices; measuring starts two intervals after the last join.
	time.Sleep(2 * interval)
	settled := time.Now()
	time.Sleep(2 * interval)

	// c2's own metrics say when it stopped: its probe counter stands still, its owned devices
	// drop to zero. Polled while the cut lasts.
	var mu sync.Mutex
	var lastProbe, ownedZero time.Time
	stopPoll := make(chan struct{})
	var polling sync.WaitGroup
	polling.Add(1)
	go func() {
		defer polling.Done()
		prev := -1.0
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(100 * time.Millisecond):
			}
			m := scrapeFamilies(metricsURL["c2"])
			now := time.Now()
			mu.Lock()
			if p := m["wardops_collector_probes_total"]; p != prev {
				prev, lastProbe = p, now
			}
			if _, ok := m["wardops_collector_owned_devices"]; ok && m["wardops_collector_owned_devices"] == 0 && ownedZero.IsZero() {
				ownedZero = now
			} else if m["wardops_collector_owned_devices"] > 0 {
				ownedZero = time.Time{}
			}
			mu.Unlock()
		}
	}()
	restore := testenv.CutTCP(t, addrs["c2"], pg.Port())
	cut := time.Now()
	time.Sleep(5 * interval)
	close(stopPoll)
	polling.Wait()
	// The rows PostgreSQL holds now for c2's devices after the cut are the others': c2's wait in
	// its spool. Rows from the last interval may still be in c1's or c3's queue, so the window
	// ends an interval back.
	snapshotAt := time.Now()
	windowEnd := snapshotAt.Add(-interval)
	others := map[string][]time.Time{}
	for _, s := range c2Devices {
		others[s.IP] = probeTimes(t, st, s.IP, cut, windowEnd)
	}
	restore()
	testenv.WaitFor(t, 30*time.Second, "c2's spool drained into PostgreSQL", func() (bool, string) {
		m := scrapeFamilies(metricsURL["c2"])
		rows, written := m["wardops_collector_ping_results_rows_total"], m["wardops_collector_ping_results_written_total"]
		return rows > 0 && rows == written, fmt.Sprintf("rows %v, written %v", rows, written)
	})

	var stopAfter, takeover, doubled time.Duration
	var missed, doubleProbed []string
	for _, s := range specs {
		all := probeTimes(t, st, s.IP, settled, windowEnd)
		if len(all) == 0 {
			t.Fatalf("%s: no probe after the group settled", s.Name)
		}
		gaps := []time.Duration{all[0].Sub(settled)}
		for i := 1; i < len(all); i++ {
			gaps = append(gaps, all[i].Sub(all[i-1]))
		}
		gaps = append(gaps, windowEnd.Sub(all[len(all)-1]))
		for i, g := range gaps {
			// Dispatch windows may start a probe up to a second early; two intervals plus that
			// is the hand-over promise.
			if g > 2*interval+time.Second {
				missed = append(missed, fmt.Sprintf("%s (%s gap)", s.Name, g.Round(time.Millisecond)))
				break
			}
			if i > 0 && i < len(gaps)-1 && g < interval/2 {
				doubleProbed = append(doubleProbed, s.Name)
			}
		}
		o, ok := others[s.IP]
		if !ok {
			continue
		}
		// c2's own probes after the cut are the rows that arrived with its spool.
		seen := map[time.Time]bool{}
		for _, ts := range o {
			seen[ts] = true
		}
		var c2Last time.Time
		for _, ts := range all {
			if ts.After(cut) && !seen[ts] {
				c2Last = ts
			}
		}
		if len(o) == 0 {
			missed = append(missed, s.Name+" (never taken over)")
			continue
		}
		takeover = max(takeover, o[0].Sub(cut))
		if !c2Last.IsZero() {
			stopAfter = max(stopAfter, c2Last.Sub(cut))
			doubled = max(doubled, c2Last.Sub(o[0]))
		}
	}
	mu.Lock()
	t.Logf("c2 (%d of %d devices) cut from PostgreSQL only; its lease %s, ping interval %s", len(c2Devices), devices, lease, interval)
	t.Logf("c2's last probe started %s after the cut (ping_results); its probe counter stood still from %s, owned devices 0 from %s",
		stopAfter.Round(time.Millisecond), since(cut, lastProbe), since(cut, ownedZero))
	t.Logf("c2's devices all probed by c1/c3 within %s of the cut; longest double ownership %s; devices double-probed %d; devices missed %d %v",
		takeover.Round(time.Millisecond), max(doubled, 0).Round(time.Millisecond), len(doubleProbed), len(missed), missed)
	mu.Unlock()
	if doubled > interval {
		t.Errorf("a device was owned by c2 and another collector for %s, more than an interval (%s)", doubled.Round(time.Millisecond), interval)
	}
	if stopAfter > lease+interval {
		t.Errorf("c2 went on probing %s after the cut, lease %s", stopAfter.Round(time.Millisecond), lease)
	}
	if ownedZero.IsZero() {
		t.Errorf("c2 never reported owning no device while cut off")
	}
	if len(missed) > 0 {
		t.Errorf("devices left unprobed for more than two intervals: %v", missed)
	}
}

// probeTimes is a device's ping_results timestamps in [from, to], oldest first.
func probeTimes(t *testing.T, st *store.Store, ip string, from, to time.Time) []time.Time {
	t.Helper()
	rows, err := st.PingHistory(context.Background(), netip.MustParseAddr(ip), from, to, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]time.Time, len(rows))
	for i, r := range rows {
		ts[i] = r.Timestamp
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// since prints when t happened after from, or "never".
func since(from, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}

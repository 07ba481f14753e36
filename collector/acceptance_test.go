package collector

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/sim"
	"github.com/wardops/wardops/store"
)

// The acceptance run of the collector on a simulated fleet. Intervals are 10 s for pings and 20 s for polls
// instead of the production 30 s and 60 s: two minutes then hold twelve ping rounds and six poll
// rounds, enough to see gaps and counters move, and every "within one interval" check costs
// seconds rather than half a minute. Fleet size, workers, timeouts and every code path are the
// production ones (cmd/wardops/collector.go's defaults); only the clock runs faster.
const (
	accDevices      = 875
	accPingInterval = 10 * time.Second
	accSNMPInterval = 20 * time.Second
	accReload       = 2 * time.Second
	accRun          = 2 * time.Minute
	// accSlack absorbs what sits between an event and the probe that sees it besides the interval:
	// the inventory query, a busy box's dispatch lag (asserted < 1 s below), clock reads.
	accSlack    = 2 * time.Second
	accCommunty = "public"
)

// accFleet is the simulated fleet of the acceptance run and the roles some devices play.
type accFleet struct {
	sim     *sim.Fleet
	specs   []model.ImportDevice // the demo fleet; the last one is added while the collector runs
	byName  map[string]model.Device
	dropped []string // ICMP and SNMP traffic dropped by nftables for a while
	silent  []string // never answer SNMP
	disable string   // disabled through the database mid-run
	deleted string   // deleted through the database mid-run
	added   string   // imported mid-run
}

// times are the moments the run changed something; checks compare probe timestamps with them.
type accTimes struct {
	start, drop, restore, change, stop time.Time
}

func startAccFleet(t *testing.T, st *store.Store) *accFleet {
	t.Helper()
	base := netip.MustParseAddr("127.21.0.1")
	addrs, err := sim.Range(base, accDevices+1)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := sim.Start(sim.Options{Addrs: addrs, Community: accCommunty})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { fl.Close() })
	// inventory.Demo gives routers and switches system;if-mib, firewalls also host-resources and
	// ATMs system only: the interface checks below follow each device's own profiles.
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: accDevices + 1, Base: base, SNMPPort: fl.Port(), Community: accCommunty})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	creds, specs, err := inventory.Build(doc, ps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportInventory(context.Background(), creds, specs[:accDevices], false); err != nil {
		t.Fatal(err)
	}
	f := &accFleet{sim: fl, specs: specs, byName: map[string]model.Device{}}
	// Indexes past the branch routers (the first 58), so deleting one orphans nobody.
	name := func(i int) string { return specs[i].Name }
	f.dropped = []string{name(101), name(102)}
	f.silent = []string{name(400), name(401), name(402)}
	f.disable, f.deleted, f.added = name(200), name(300), name(accDevices)
	for _, n := range f.silent {
		if err := fl.SetSilent(netip.MustParseAddr(f.spec(n).IP), true); err != nil {
			t.Fatal(err)
		}
	}
	f.refresh(t, st)
	return f
}

func (f *accFleet) refresh(t *testing.T, st *store.Store) {
	t.Helper()
	devs, err := st.ListDevices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		f.byName[d.Name] = d
	}
}

func (f *accFleet) spec(name string) model.ImportDevice {
	for _, s := range f.specs {
		if s.Name == name {
			return s
		}
	}
	panic("no device " + name)
}

// TestAcceptanceFleet runs the collector for two minutes on 875 simulated devices against real
// PostgreSQL and VictoriaMetrics, changes the network and the inventory under it, then checks
// every series, row and self-metric the issue promises.
func TestAcceptanceFleet(t *testing.T) {
	ctx := context.Background()
	st, _ := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	f := startAccFleet(t, st)

	eng, err := icmp.NewProbing(quietLog(), icmp.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	set := metrics.NewSet()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var at accTimes
	at.start = time.Now()
	// The options of cmd/wardops/collector.go with its defaults, but the intervals.
	stop := startCollector(t, Options{
		Schedule: testSchedule(SchedulerOptions{
			Fleet: st, Engine: eng,
			SNMP:         testPoller(t, set),
			PingInterval: accPingInterval, SNMPInterval: accSNMPInterval, InventoryReload: accReload,
		}),
		VM:      testVM(vm.URL, sink.Options{}),
		Pings:   testPings(st, sink.Options{Interval: time.Second}),
		Listen:  listen,
		Log:     quietLog(),
		Metrics: set,
	})

	upOf := func(name string) (float64, bool) {
		r, err := vm.Query(`wardops_ping_up{device_id="` + deviceKey(f.byName[name].ID) + `"}`)
		if err != nil || len(r) != 1 {
			return -1, false
		}
		return r[0].Value, true
	}
	allAre := func(names []string, want float64) func() (bool, string) {
		return func() (bool, string) {
			var got []string
			ok := true
			for _, n := range names {
				v, found := upOf(n)
				ok = ok && found && v == want
				got = append(got, fmt.Sprintf("%s=%v", n, v))
			}
			return ok, strings.Join(got, " ")
		}
	}
	// Budget for a change to show in VictoriaMetrics: the device's next slot (one interval), its
	// probe and confirmation burst (≈4 s), the push (1 s) and VictoriaMetrics making the samples
	// searchable (under 1 s for a known series, 6-10 s for a brand-new one), with room to spare: waitFor returns as soon as the condition holds. The precise "within one interval"
	// checks are made on probe timestamps at the end, not on these wall-clock waits.
	budget := 2*accPingInterval + 10*time.Second

	took := testenv.WaitFor(t, budget+10*time.Second, "every device up in VictoriaMetrics", func() (bool, string) {
		r, err := vm.Query(`count(wardops_ping_up == 1)`)
		if err != nil || len(r) == 0 {
			return false, fmt.Sprint(err)
		}
		return int(r[0].Value) == accDevices, fmt.Sprintf("%v of %d devices up", r[0].Value, accDevices)
	})
	t.Logf("all %d devices up after %s", accDevices, took)
	cpu0, probes0 := processCPU(), scrapeMetrics(t, listen)

	// Traffic dropped on lo: down, then back.
	var restores []func()
	for _, n := range f.dropped {
		restores = append(restores, testenv.DropTraffic(t, f.spec(n).IP, testenv.HookOutput))
	}
	at.drop = time.Now()
	t.Logf("dropped devices read down after %s", testenv.WaitFor(t, budget, "dropped devices read down", allAre(f.dropped, 0)))
	for _, r := range restores {
		r()
	}
	at.restore = time.Now()
	t.Logf("restored devices read up after %s", testenv.WaitFor(t, budget, "restored devices read up", allAre(f.dropped, 1)))

	// Inventory changes through the database, no restart.
	if err := st.SetDeviceEnabled(ctx, f.byName[f.disable].ID, false); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteDevice(ctx, f.byName[f.deleted].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportInventory(ctx, nil, []model.ImportDevice{f.spec(f.added)}, false); err != nil {
		t.Fatal(err)
	}
	at.change = time.Now()
	f.refresh(t, st)
	t.Logf("added device up after %s", testenv.WaitFor(t, budget, "added device up in VictoriaMetrics", allAre([]string{f.added}, 1)))

	// Run out the two minutes, and at least one poll interval past the change so the added
	// device's first poll is in.
	time.Sleep(time.Until(latest(at.start.Add(accRun), at.change.Add(accReload+accSNMPInterval+accSlack))))
	self := scrapeMetrics(t, listen)
	cpu := processCPU() - cpu0
	n := 0.0
	for _, k := range []string{kindICMP, kindSNMP} {
		key := `wardops_collector_probes_total{kind="` + k + `"}`
		n += self[key] - probes0[key]
	}
	// Reported, never asserted: the simulator and the test share the process, so this is an upper
	// bound of the collector's own cost (the cpumeasure build tag measures the collector alone).
	t.Logf("process CPU %.1fs for %v probes (icmp+snmp): %.3f CPU-s per 1,000 probes, simulator included", cpu.Seconds(), n, cpu.Seconds()/n*1000)
	// The window ends when shutdown starts: no probe is dispatched after that, and a shutdown that
	// takes a few seconds to flush on a busy machine must not read as a gap.
	at.stop = time.Now()
	stop()
	if err := vm.ForceFlush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the flushed parts become searchable

	t.Run("scheduler", func(t *testing.T) { checkScheduler(t, self) })
	t.Run("ping series", func(t *testing.T) { checkPingSeries(t, vm, f, at) })
	t.Run("ping_results", func(t *testing.T) { checkPingRows(t, st, vm, f, at) })
	t.Run("snmp", func(t *testing.T) { checkSNMPSeries(t, vm, f, at) })
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// checkScheduler: no probe started a second or more after its slot (three devices never answer
// SNMP, two had their traffic dropped), and no round was skipped.
func checkScheduler(t *testing.T, self map[string]float64) {
	for _, kind := range []string{kindICMP, kindSNMP} {
		// Cumulative le buckets: the probes that started within a second are the le="1" bucket.
		bucket := func(le string) float64 {
			return self[`wardops_collector_scheduler_lag_seconds_bucket{kind="`+kind+`",le="`+le+`"}`]
		}
		n := self[`wardops_collector_scheduler_lag_seconds_count{kind="`+kind+`"}`]
		late := n - bucket("1")
		worst := 0.0
		for _, b := range LagBuckets {
			if bucket(fmt.Sprint(b)) < n {
				worst = max(worst, b)
			}
		}
		if late > 0 {
			t.Errorf("%s: %v of %v probes started a second or more after their slot (some later than %gs)", kind, late, n, worst)
		}
		if n == 0 {
			t.Errorf("%s lag histogram is empty", kind)
		}
		if s := self[`wardops_collector_probes_skipped_total{kind="`+kind+`"}`]; s != 0 {
			t.Errorf("%s: %v rounds skipped", kind, s)
		}
		t.Logf("%s: %v probes, %v failures, lag above %gs for some", kind,
			self[`wardops_collector_probes_total{kind="`+kind+`"}`], self[`wardops_collector_probe_failures_total{kind="`+kind+`"}`], worst)
	}
	if e := self[`wardops_collector_inventory_reload_errors_total`]; e != 0 {
		t.Errorf("%v inventory reloads failed", e)
	}
}

// export fetches a metric's raw series of the run, keyed by device name.
func export(t *testing.T, vm *testenv.VM, metric string, at accTimes) map[string][]testenv.Series {
	t.Helper()
	ss, err := vm.ExportSeries(metric, at.start.Add(-time.Second), at.stop.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]testenv.Series{}
	for _, s := range ss {
		out[s.Labels["device"]] = append(out[s.Labels["device"]], s)
	}
	return out
}

// checkGaps fails when two consecutive samples are more than 1.5 intervals apart, or when the
// series starts later than one interval after from or ends earlier than one interval before to.
func checkGaps(t *testing.T, what string, ts []int64, iv time.Duration, from, to time.Time) {
	t.Helper()
	if len(ts) == 0 {
		t.Errorf("%s: no samples", what)
		return
	}
	if first := time.UnixMilli(ts[0]); first.After(from.Add(iv + accSlack)) {
		t.Errorf("%s: first sample at %s, %s after %s", what, first.Format(time.TimeOnly), first.Sub(from), from.Format(time.TimeOnly))
	}
	if last := time.UnixMilli(ts[len(ts)-1]); last.Before(to.Add(-iv - accSlack)) {
		t.Errorf("%s: last sample at %s, %s before %s", what, last.Format(time.TimeOnly), to.Sub(last), to.Format(time.TimeOnly))
	}
	for i := 1; i < len(ts); i++ {
		if gap := time.Duration(ts[i]-ts[i-1]) * time.Millisecond; gap > iv*3/2 {
			t.Errorf("%s: gap of %s at %s", what, gap, time.UnixMilli(ts[i-1]).Format(time.TimeOnly))
			return
		}
	}
}

// window is the part of the run a device was in the inventory.
func (f *accFleet) window(name string, at accTimes) (from, to time.Time) {
	switch name {
	case f.added:
		return at.change, at.stop
	case f.disable, f.deleted:
		return at.start, at.change
	}
	return at.start, at.stop
}

func checkPingSeries(t *testing.T, vm *testenv.VM, f *accFleet, at accTimes) {
	up := export(t, vm, model.MetricPingUp, at)
	for _, s := range f.specs {
		d := f.byName[s.Name]
		ss := up[s.Name]
		if len(ss) != 1 {
			t.Errorf("%s: %d wardops_ping_up series", s.Name, len(ss))
			continue
		}
		l := ss[0].Labels
		if l["device_id"] != deviceKey(d.ID) || l["ip"] != s.IP || l["branch"] != s.Branch || l["region"] != s.Region || l["vendor"] != s.Vendor {
			t.Errorf("%s: labels %v", s.Name, l)
		}
		from, to := f.window(s.Name, at)
		switch s.Name {
		case f.disable, f.deleted:
			// Nothing probed once the reload that follows the change has run.
			if last := time.UnixMilli(ss[0].Timestamps[len(ss[0].Timestamps)-1]); last.After(at.change.Add(accReload + accSlack)) {
				t.Errorf("%s (%s): still probed at %s, %s after the change", s.Name, map[bool]string{true: "disabled", false: "deleted"}[s.Name == f.disable], last.Format(time.TimeOnly), last.Sub(at.change))
			}
			to = at.change.Add(-accPingInterval) // only the gaps before the change are checked
			checkGaps(t, s.Name, trimAfter(ss[0].Timestamps, at.change), accPingInterval, from, to)
		case f.added:
			// Scheduled at the first reload after the change, probed within the next interval.
			checkGaps(t, s.Name, ss[0].Timestamps, accPingInterval, from.Add(accReload), to)
		default:
			checkGaps(t, s.Name, ss[0].Timestamps, accPingInterval, from, to)
		}
	}
	for _, n := range f.dropped {
		checkDropped(t, n, up[n][0], at)
	}
}

func trimAfter(ts []int64, t time.Time) []int64 {
	i, _ := slices.BinarySearch(ts, t.UnixMilli())
	return ts[:i]
}

// checkDropped: the first probe to start after the drop reads 0 and starts within one interval,
// every one after it reads 0 until shortly before the restore (a probe in flight then may catch a
// reply), and the first probe after the restore reads 1 within one interval, as do all later ones.
func checkDropped(t *testing.T, name string, s testenv.Series, at accTimes) {
	t.Helper()
	firstAfter := func(from time.Time) int {
		i, _ := slices.BinarySearch(s.Timestamps, from.UnixMilli())
		return i
	}
	i := firstAfter(at.drop)
	if i == len(s.Timestamps) || time.UnixMilli(s.Timestamps[i]).After(at.drop.Add(accPingInterval+accSlack)) || s.Values[i] != 0 {
		t.Errorf("%s: no down sample within one interval of the drop at %s: %v", name, at.drop.Format(time.TimeOnly), around(s, i))
	}
	probeSpan := 2*200*time.Millisecond + 2*time.Second + 3*200*time.Millisecond + time.Second // echoes, timeout, confirmation
	for j := i; j < len(s.Timestamps) && time.UnixMilli(s.Timestamps[j]).Before(at.restore.Add(-probeSpan)); j++ {
		if s.Values[j] != 0 {
			t.Errorf("%s: up while dropped at %s", name, time.UnixMilli(s.Timestamps[j]).Format(time.TimeOnly))
		}
	}
	i = firstAfter(at.restore)
	if i == len(s.Timestamps) || time.UnixMilli(s.Timestamps[i]).After(at.restore.Add(accPingInterval+accSlack)) {
		t.Errorf("%s: no sample within one interval of the restore at %s: %v", name, at.restore.Format(time.TimeOnly), around(s, i))
	}
	for j := i; j < len(s.Timestamps); j++ {
		if s.Values[j] != 1 {
			t.Errorf("%s: down at %s after the restore", name, time.UnixMilli(s.Timestamps[j]).Format(time.TimeOnly))
		}
	}
}

// onlyIn lists the times of a that b lacks, a duplicate in a counting as one more; both sorted.
func onlyIn(a, b []int64) []string {
	var out []string
	j := 0
	for _, v := range a {
		for j < len(b) && b[j] < v {
			j++
		}
		if j < len(b) && b[j] == v {
			j++
			continue
		}
		out = append(out, time.UnixMilli(v).Format("15:04:05.000"))
	}
	return out
}

func around(s testenv.Series, i int) string {
	var b strings.Builder
	for j := max(0, i-2); j < min(len(s.Timestamps), i+3); j++ {
		fmt.Fprintf(&b, "%s=%v ", time.UnixMilli(s.Timestamps[j]).Format("15:04:05.000"), s.Values[j])
	}
	return b.String()
}

// checkPingRows: every device has exactly the rows its VictoriaMetrics samples say it was probed,
// at the same times, and a dropped device's rows say unreachable.
func checkPingRows(t *testing.T, st *store.Store, vm *testenv.VM, f *accFleet, at accTimes) {
	ctx := context.Background()
	up := export(t, vm, model.MetricPingUp, at)
	latest, err := st.LatestPings(ctx, at.start)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.specs {
		d := f.byName[s.Name]
		if s.Name != f.disable && s.Name != f.deleted {
			if _, ok := latest[d.ID]; !ok {
				t.Errorf("%s: enabled but no ping_results row since the start", s.Name)
			}
		}
		rows, err := st.PingHistory(ctx, d.IP, at.start.Add(-time.Second), at.stop.Add(time.Second), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(up[s.Name]) != 1 {
			continue // reported by checkPingSeries
		}
		ts := up[s.Name][0].Timestamps
		if len(rows) != len(ts) {
			rowTS := make([]int64, len(rows))
			for i, r := range rows {
				rowTS[i] = r.Timestamp.UnixMilli()
			}
			t.Errorf("%s: %d ping_results rows, %d samples in VictoriaMetrics; only in rows: %v, only in samples: %v",
				s.Name, len(rows), len(ts), onlyIn(rowTS, ts), onlyIn(ts, rowTS))
			continue
		}
		for i, r := range rows {
			if r.Timestamp.UnixMilli() != ts[i] || r.DeviceID != d.ID {
				t.Errorf("%s: row %d at %s (device %d), sample at %d", s.Name, i, r.Timestamp, r.DeviceID, ts[i])
				break
			}
			if r.IsReachable != (up[s.Name][0].Values[i] == 1) {
				t.Errorf("%s: row %d reachable=%v, wardops_ping_up %v", s.Name, i, r.IsReachable, up[s.Name][0].Values[i])
				break
			}
		}
	}
}

// checkSNMPSeries: every SNMP device was polled every interval (the silent ones included, reading
// down, and without delaying the others); interface counters carry ifName and only grow.
func checkSNMPSeries(t *testing.T, vm *testenv.VM, f *accFleet, at accTimes) {
	up := export(t, vm, "wardops_snmp_up", at)
	octets := export(t, vm, "wardops_snmp_ifHCInOctets", at)
	for _, s := range f.specs {
		from, to := f.window(s.Name, at)
		silent, dropped := slices.Contains(f.silent, s.Name), slices.Contains(f.dropped, s.Name)
		if len(up[s.Name]) != 1 {
			t.Errorf("%s: %d wardops_snmp_up series", s.Name, len(up[s.Name]))
			continue
		}
		u := up[s.Name][0]
		switch s.Name {
		case f.disable, f.deleted:
			if last := time.UnixMilli(u.Timestamps[len(u.Timestamps)-1]); last.After(at.change.Add(accReload + accSlack)) {
				t.Errorf("%s: still polled at %s, %s after the change", s.Name, last.Format(time.TimeOnly), last.Sub(at.change))
			}
		case f.added:
			checkGaps(t, s.Name+" snmp", u.Timestamps, accSNMPInterval, from.Add(accReload), to)
		default:
			checkGaps(t, s.Name+" snmp", u.Timestamps, accSNMPInterval, from, to)
		}
		for i, v := range u.Values {
			if want := 1.0; silent {
				want = 0
				if v != want {
					t.Errorf("%s: silent device reads wardops_snmp_up %v", s.Name, v)
				}
			} else if v != want && !dropped {
				t.Errorf("%s: wardops_snmp_up %v at %s", s.Name, v, time.UnixMilli(u.Timestamps[i]).Format(time.TimeOnly))
			}
		}

		ifs := octets[s.Name]
		if !slices.Contains(s.Profiles, "if-mib") || silent {
			if len(ifs) != 0 {
				t.Errorf("%s (profiles %v, silent %v): %d ifHCInOctets series", s.Name, s.Profiles, silent, len(ifs))
			}
			continue
		}
		if len(ifs) != 8 { // the simulator's default interface count
			t.Errorf("%s: %d ifHCInOctets series, want 8", s.Name, len(ifs))
		}
		for _, is := range ifs {
			checkCounter(t, s, is, s.Name == f.disable || s.Name == f.deleted || s.Name == f.added)
		}
	}
}

// checkCounter: labelled by ifName and the device, at least four polls of the six in a full run,
// and growing at every poll but on the simulator's last interface, which is down (zero traffic).
func checkCounter(t *testing.T, s model.ImportDevice, is testenv.Series, partial bool) {
	t.Helper()
	name, idx := is.Labels["ifName"], is.Labels["index"]
	if name == "" || idx == "" || is.Labels["ifDescr"] == "" || is.Labels["ip"] != s.IP || is.Labels["branch"] != s.Branch {
		t.Errorf("%s: interface labels %v", s.Name, is.Labels)
		return
	}
	if !partial && len(is.Values) < 4 {
		t.Errorf("%s %s: %d polls", s.Name, name, len(is.Values))
	}
	down := idx == "8"
	for i := 1; i < len(is.Values); i++ {
		if grew := is.Values[i] > is.Values[i-1]; grew == down || is.Values[i] < is.Values[i-1] {
			t.Errorf("%s %s: ifHCInOctets %v then %v", s.Name, name, is.Values[i-1], is.Values[i])
			return
		}
	}
}

// TestAcceptanceNetSNMP runs the collector against net-snmp's own agent on loopback, once over
// v2c and once with a v3 authPriv (SHA/AES) user: system and interface series reach
// VictoriaMetrics with the device's labels.
func TestAcceptanceNetSNMP(t *testing.T) {
	const user, authKey, privKey = "wardops", "authpass123", "privpass123"
	port := testenv.Snmpd(t, testenv.SnmpdOptions{Community: accCommunty, User: user, AuthKey: authKey, PrivKey: privKey})
	vm := testenv.VictoriaMetrics(t)
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		version string
		row     inventory.Row
	}{
		{"2c", inventory.Row{SNMPVersion: "2c", SNMPCommunity: accCommunty}},
		{"3", inventory.Row{SNMPVersion: "3", SNMPUser: user, SNMPAuthProtocol: "SHA", SNMPAuthKey: authKey, SNMPPrivProtocol: "AES", SNMPPrivKey: privKey}},
	}
	for _, tc := range tests {
		t.Run("v"+tc.version, func(t *testing.T) {
			ctx := context.Background()
			st, _ := testenv.Store(t)
			name := "netsnmp-v" + tc.version // one VictoriaMetrics for both: the name tells them apart
			row := tc.row
			row.Line, row.Branch, row.Region, row.Name, row.IP, row.Vendor = 2, "lab", "north", name, "127.0.0.1", "net-snmp"
			row.SNMPPort, row.SNMPProfiles = strconv.Itoa(port), "system;if-mib"
			creds, specs, err := inventory.Build(&inventory.Document{Rows: []inventory.Row{row}}, ps)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.ImportInventory(ctx, creds, specs, false); err != nil {
				t.Fatal(err)
			}
			devs, err := st.ListDevices(ctx)
			if err != nil || len(devs) != 1 {
				t.Fatalf("devices %v: %v", devs, err)
			}
			eng, err := icmp.NewProbing(quietLog(), icmp.ModeAuto)
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			set := metrics.NewSet()
			// Short intervals: the check needs two polls, not a long run.
			stop := startCollector(t, Options{
				Schedule: testSchedule(SchedulerOptions{
					Fleet: st, Engine: eng,
					SNMP:         testPoller(t, set),
					PingInterval: 2 * time.Second, PingTimeout: 500 * time.Millisecond, SNMPInterval: 2 * time.Second, InventoryReload: time.Second,
				}),
				VM:      testVM(vm.URL, sink.Options{}),
				Pings:   testPings(st, sink.Options{Interval: time.Second}),
				Log:     quietLog(),
				Metrics: set,
			})
			defer stop()
			upTime := `wardops_snmp_sysUpTime{device="` + name + `"}`
			lo := `wardops_snmp_ifHCInOctets{device="` + name + `",ifName="lo"}`
			snmpUp := `wardops_snmp_up{device="` + name + `"}`
			// Two polls in, so the checks below can see sysUpTime move.
			testenv.WaitFor(t, 20*time.Second, "two polls in VictoriaMetrics", func() (bool, string) {
				a, err1 := vm.Query(`count_over_time(` + upTime + `[1m])`)
				b, err2 := vm.Query(lo)
				return len(a) == 1 && a[0].Value >= 2 && len(b) == 1, fmt.Sprintf("sysUpTime %v %v, lo %v %v", a, err1, b, err2)
			})
			stop()
			if err := vm.ForceFlush(); err != nil {
				t.Fatal(err)
			}
			for _, sel := range []string{upTime, lo, snmpUp} {
				ss, err := vm.ExportSeries(sel, time.Now().Add(-time.Minute), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if len(ss) != 1 {
					t.Errorf("%s: %d series", sel, len(ss))
					continue
				}
				s := ss[0]
				for k, v := range map[string]string{"device_id": deviceKey(devs[0].ID), "device": name, "ip": "127.0.0.1", "branch": "lab", "region": "north", "vendor": "net-snmp"} {
					if s.Labels[k] != v {
						t.Errorf("%s: label %s=%q, want %q (%v)", sel, k, s.Labels[k], v, s.Labels)
					}
				}
				for i := 1; i < len(s.Values); i++ {
					if s.Values[i] < s.Values[i-1] || sel == upTime && s.Values[i] == s.Values[i-1] {
						t.Errorf("%s: %v then %v", sel, s.Values[i-1], s.Values[i])
					}
				}
				if sel == snmpUp && slices.Contains(s.Values, 0) {
					t.Errorf("a poll failed: wardops_snmp_up %v", s.Values)
				}
			}
		})
	}
}

package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"github.com/wardops/wardops/alerting"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// AlertingOptions configures RunAlerting (`make bench-alerting`).
type AlertingOptions struct {
	Sizes   []int
	PGAdmin string // maintenance database URL of the PostgreSQL to create scratch databases on
	Out     io.Writer
	Log     *slog.Logger
}

// RunAlerting measures one evaluation cycle of every default rule per fleet size with live data
// (five minutes of rows in ping_results, every device's latest poll in snmp_states), then a storm:
// 10 % of the fleet (whole branches of a router and 16 devices) down in one read, timed from the
// rows landing to the last page committed to the outbox. It prints a table. CPU is this
// process's (user+system), PostgreSQL's and VictoriaMetrics' own excluded.
func RunAlerting(ctx context.Context, o AlertingOptions) error {
	fmt.Fprintln(o.Out, "| devices | cycle (wall, median of 7; slowest) | down (wall) | rules (wall) | CPU | PG queries | VM queries | probes read | storm: pages | storm: rows → last page |")
	fmt.Fprintln(o.Out, "|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range o.Sizes {
		row, err := alertingSize(ctx, o, n)
		if err != nil {
			return fmt.Errorf("size %d: %w", n, err)
		}
		fmt.Fprintln(o.Out, row)
	}
	return nil
}

func alertingSize(ctx context.Context, o AlertingOptions, n int) (string, error) {
	pg := postgres{admin: o.PGAdmin}
	name := fmt.Sprintf("wardops_bench_alerting_%d", n)
	_ = pg.drop(ctx, name)
	dbURL, err := pg.create(ctx, name)
	if err != nil {
		return "", err
	}
	defer pg.drop(context.WithoutCancel(ctx), name)
	st, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 8})
	if err != nil {
		return "", err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return "", err
	}
	// Branches of a router and 16 devices behind it, on 127.30.0.0/15 and up.
	var devs []model.ImportDevice
	for i := 0; i < n; i++ {
		b := i / 17
		ip := netip.AddrFrom4([4]byte{127, byte(30 + i>>16), byte(i >> 8), byte(i)})
		d := model.ImportDevice{Line: i + 2, Branch: fmt.Sprintf("br-%d", b), Region: "r", Name: fmt.Sprintf("d-%d", i),
			IP: ip.String(), Enabled: true, SNMPPort: 161}
		if i%17 != 0 {
			d.Parent = fmt.Sprintf("d-%d", b*17)
		}
		devs = append(devs, d)
	}
	// Imported in chunks of whole branches: one import of 100,000 devices with parents spent
	// over 4 minutes in its single parent UPDATE (an import-path cost, not what is measured
	// here), while chunks of the size the 10,000 fleet imports in cost seconds each.
	for len(devs) > 0 {
		k := min(len(devs), importChunk)
		if _, err := st.ImportInventory(ctx, nil, devs[:k], false); err != nil {
			return "", err
		}
		devs = devs[k:]
	}
	nodes, err := st.AlertDevices(ctx)
	if err != nil {
		return "", err
	}
	now := time.Now()
	// Five minutes of probes (every device every 30 s, all up) and every device's latest SNMP
	// poll: what the default rules judge.
	var rows []model.PingResult
	for k := 9; k >= 0; k-- {
		rows = rows[:0]
		for i, d := range nodes {
			ts := now.Add(-time.Duration(k)*30*time.Second - 30*time.Second + time.Duration(i)*30*time.Second/time.Duration(len(nodes)))
			rows = append(rows, ping(d, ts, true))
		}
		if err := st.InsertPingResults(ctx, rows); err != nil {
			return "", err
		}
	}
	if err := writeSNMPStates(ctx, st, nodes, now, 0, 1); err != nil {
		return "", err
	}
	ev, err := alerting.NewEvaluator(ctx, alerting.Options{Store: st, Alertmanagers: []string{"http://127.0.0.1:9"},
		PingInterval: 30 * time.Second, DownInterval: 2 * time.Second, EvalInterval: 30 * time.Second, ResendInterval: time.Minute,
		ResolvedResend: 15 * time.Minute, Timeout: 10 * time.Second, GroupWait: 30 * time.Second, InventoryEvery: time.Minute,
		Log: o.Log})
	if err != nil {
		return "", err
	}
	defer ev.Close()
	if _, err := ev.Once(ctx, time.Now()); err != nil { // warm-up: loads every device's state
		return "", err
	}
	// Steady state: cycles in a row, each after the 2 s of probes that land between two reads
	// and the SNMP polls of one rule interval (30 s of a 60 s poll interval: half the fleet).
	// The median is reported, and the slowest beside it.
	var runs []cycleRun
	// WARDOPS_BENCH_CPUPROFILE=file profiles the measured cycles (the last size's, when several).
	if f := os.Getenv("WARDOPS_BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return "", err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return "", err
		}
	}
	for k := range measuredCycles {
		batch := rows[:0:0]
		t := time.Now()
		for i, d := range nodes {
			if i%15 == k%15 {
				batch = append(batch, ping(d, t.Add(time.Duration(i)), true))
			}
		}
		if err := st.InsertPingResults(ctx, batch); err != nil {
			return "", err
		}
		if err := writeSNMPStates(ctx, st, nodes, t, k%2, 2); err != nil {
			return "", err
		}
		cpu0 := cpuTime()
		s, err := ev.Once(ctx, time.Now())
		if err != nil {
			return "", err
		}
		runs = append(runs, cycleRun{s: s, cpu: cpuTime() - cpu0})
	}
	pprof.StopCPUProfile() // nothing when not started
	sort.Slice(runs, func(i, j int) bool { return runs[i].wall() < runs[j].wall() })
	med, slowest := runs[len(runs)/2], runs[len(runs)-1]
	s, cpu := med.s, med.cpu
	// Storm: 10 % of the fleet dark at once, as whole branches (a router and the 16 behind it):
	// a branch cut in two would leave a router down with children still answering, and that
	// router rightly waits for those children's next probes (a ping interval the compressed
	// cycle below never plays) before paging with the count of what is behind it. Their failed
	// probes land over one ping cycle as their slots come, mixed with the rest of the fleet's
	// answered probes: one cycle is played here as 15 reads back to back (the 30 s of waiting
	// for slots left out).
	// Every device answers once more first: at 100,000 devices the cycles above take minutes,
	// and a router whose last probe is older than two ping intervals is not known to be up or
	// down, so nothing can be blamed on it (its children would rightly page for themselves).
	fresh := make([]model.PingResult, 0, len(nodes))
	t := time.Now()
	for i, d := range nodes {
		fresh = append(fresh, ping(d, t.Add(time.Duration(i)*time.Microsecond), true))
	}
	if err := st.InsertPingResults(ctx, fresh); err != nil {
		return "", err
	}
	if _, err := ev.Down(ctx, time.Now()); err != nil {
		return "", err
	}
	t = time.Now().Add(time.Millisecond)
	stormN := min(n, (n/10+16)/17*17)
	routers := map[int64]bool{}
	for i := 0; i < stormN; i += 17 {
		routers[nodes[i].ID] = true
	}
	landed := time.Now()
	var pages stormPages
	for round := 0; round < 15+5 && pages.routers < len(routers); round++ {
		var rs []model.PingResult
		if round < 15 {
			for i, d := range nodes {
				if i%15 != round {
					continue
				}
				ts := t.Add(time.Duration(round)*time.Millisecond*20 + time.Duration(i%17)*time.Microsecond)
				rs = append(rs, ping(d, ts, i >= stormN))
			}
		}
		if err := st.InsertPingResults(ctx, rs); err != nil {
			return "", err
		}
		// Down detection alone, as its loop runs every 2 s without waiting for the threshold
		// rules' cycle.
		if _, err := ev.Down(ctx, time.Now()); err != nil {
			return "", err
		}
		if pages, err = countPages(ctx, st, routers, landed); err != nil {
			return "", err
		}
	}
	stormTook := time.Since(landed)
	storm := fmt.Sprintf("%d of %d routers", pages.routers, len(routers))
	if pages.twice > 0 || pages.others > 0 {
		storm += fmt.Sprintf(" (%d twice, %d other devices paged)", pages.twice, pages.others)
	}
	return fmt.Sprintf("| %d | %s (%s) | %s | %s | %s | %d | %d | %d | %s | %s |", n, med.wall().Round(100*time.Microsecond),
		slowest.wall().Round(100*time.Microsecond), s.Down.Round(100*time.Microsecond), s.Rules.Round(100*time.Microsecond), cpu.Round(100*time.Microsecond),
		s.PGQueries, s.VMQueries, s.ProbesRead, storm, stormTook.Round(time.Millisecond)), nil
}

// importChunk is how many devices one import call takes: whole branches of 17.
const importChunk = 17 * 300

// measuredCycles is how many steady-state cycles each size runs.
const measuredCycles = 7

type cycleRun struct {
	s   alerting.CycleStats
	cpu time.Duration
}

func (r cycleRun) wall() time.Duration { return r.s.Down + r.s.Rules }

// stormPages counts the storm's DeviceDown pages: routers paged (each once), routers paged more
// than once, and devices paged that should have been suppressed behind their router.
type stormPages struct{ routers, twice, others int }

func countPages(ctx context.Context, st *store.Store, routers map[int64]bool, since time.Time) (stormPages, error) {
	as, err := st.AlertHistory(ctx, 0, since.Add(-time.Minute))
	if err != nil {
		return stormPages{}, err
	}
	per := map[int64]int{}
	for _, a := range as {
		if a.NotifiedAt != nil && a.Labels["alertname"] == "DeviceDown" {
			per[a.DeviceID]++
		}
	}
	var p stormPages
	for id, k := range per {
		switch {
		case !routers[id]:
			p.others++
		case k > 1:
			p.twice++
			p.routers++
		default:
			p.routers++
		}
	}
	return p, nil
}

func ping(d model.DeviceNode, ts time.Time, up bool) model.PingResult {
	r := model.PingResult{DeviceID: d.ID, DeviceIP: netip.MustParseAddr(d.IP), Timestamp: ts, IsReachable: up, Sent: 3, PacketLoss: 1}
	if up {
		v := 0.2
		r.RTTAvgMs, r.Received, r.PacketLoss = &v, 3, 0
	}
	return r
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeSNMPStates writes the latest SNMP poll, at ts, of every step-th device from first: up,
// two interfaces (one of them shut down), no errors, as the collector would.
func writeSNMPStates(ctx context.Context, st *store.Store, nodes []model.DeviceNode, ts time.Time, first, step int) error {
	var batch []model.SNMPState
	for i := first; i < len(nodes); i += step {
		batch = append(batch, model.SNMPState{DeviceID: nodes[i].ID, PolledAt: ts.Add(time.Duration(i)), Up: true, LastOK: ts,
			InterfacesAt: ts.Add(time.Duration(i)), Interfaces: []model.InterfaceState{
				{Labels: map[string]string{"index": "1", "ifName": "wan0"}, Oper: 1, Admin: 1},
				{Labels: map[string]string{"index": "2", "ifName": "lan0"}, Oper: 2, Admin: 2}},
			ErrorRates: []float64{0, 0}})
		if len(batch) == 5000 {
			if err := st.UpsertSNMPStates(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return st.UpsertSNMPStates(ctx, batch)
}

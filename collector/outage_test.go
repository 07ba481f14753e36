package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/collector/spool"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// outageFleet is n devices on 127.22.0.0/16, a range no other collector test uses.
func outageFleet(n int) []model.ImportDevice {
	specs := make([]model.ImportDevice, 0, n)
	for i := range n {
		ip := netip.AddrFrom4([4]byte{127, 22, byte(i / 250), byte(i%250 + 1)})
		specs = append(specs, deviceSpec(fmt.Sprintf("outage-%d", i), ip))
	}
	return specs
}

// TestCollectorOutages: 875 devices probed every 30 s while
// VictoriaMetrics is SIGKILLed and PostgreSQL (a private cluster: the machine's shared one serves the
// other tests) is stopped for the same 3 minutes. Afterwards no ping series has a gap longer than
// 1.5 intervals across the whole window, and ping_results holds exactly one row for every probe the
// collector counted, with the same timestamps as the samples. The two outages overlap so the test
// takes about 4 minutes instead of 7.
func TestCollectorOutages(t *testing.T) {
	const (
		devices  = 875
		interval = 30 * time.Second
		outage   = 3 * time.Minute
	)
	testStart := time.Now()
	ctx := context.Background()
	pg := testenv.PrivatePostgres(t)
	st, err := store.Open(ctx, store.Options{URL: pg.URL, MaxConns: 8, ConnectTimeout: 2 * time.Second, Keys: testenv.Keys(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportInventory(ctx, nil, outageFleet(devices), false); err != nil {
		t.Fatal(err)
	}
	devs, err := st.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Deduplication, as compose runs it, collapses what the replay window sends twice.
	vm := testenv.VictoriaMetrics(t, "-dedup.minScrapeInterval=1ms")
	eng, err := icmp.NewShared(quietLog(), icmp.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()

	set := metrics.NewSet()
	start := time.Now()
	stop := startCollector(t, Options{
		Schedule: testSchedule(SchedulerOptions{Fleet: st, Engine: eng, PingInterval: interval}),
		// Backoff capped at 10 s rather than 30 s only to keep the test short after the restart.
		VM:      testVM(vm.URL, sink.Options{MaxBackoff: 10 * time.Second}),
		Pings:   testPings(st, sink.Options{MaxBackoff: 10 * time.Second}),
		DataDir: t.TempDir(),
		Log:     quietLog(),
		Metrics: set,
	})
	metric := func(name string) float64 { return testenv.MetricValue(t, set, name) }

	// Every device probed at least once before the backends go.
	testenv.WaitFor(t, interval+15*time.Second, "every device probed once", func() (bool, string) {
		n, _ := testenv.LookupMetric(set, `wardops_collector_probes_total{kind="icmp"}`) // registered once Run got going
		return n >= devices, fmt.Sprintf("%v probes", n)
	})
	// What VictoriaMetrics has held longer than the replay window must be durable before the kill:
	// the window re-sends only its last 30 s, and a freshly started VictoriaMetrics on a busy CI
	// machine lost an acknowledged batch 35 s old (each device's first sample). The samples of the
	// seconds after this flush are still lost by the kill and must come back through the replay.
	if err := vm.ForceFlush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	outageStart := time.Now()
	// SIGKILL: VictoriaMetrics loses the samples of its last seconds that it had already
	// acknowledged (measured without the replay window: every probe of the 9 s before the kill);
	// the collector's replay window sends them again when it is back.
	vm.Stop()
	pg.Stop()
	t.Logf("VictoriaMetrics and PostgreSQL stopped %s after the collector started", outageStart.Sub(start).Round(time.Second))
	time.Sleep(outage - 10*time.Second)
	// Near the end of the outage both backlogs must be on disk, not only in memory.
	for _, name := range []string{"vm", "ping_results"} {
		if b := metric(`wardops_spool_disk_bytes{spool="` + name + `"}`); b <= 0 {
			t.Errorf("spool %s has %v bytes on disk after %s of outage", name, b, outage-10*time.Second)
		}
	}
	spooledVM, spooledPG := metric(`wardops_spool_bytes{spool="vm"}`), metric(`wardops_spool_bytes{spool="ping_results"}`)
	time.Sleep(10 * time.Second)
	vm.Start()
	pg.Start()
	outageEnd := time.Now()
	took := testenv.WaitFor(t, 90*time.Second, "both spools replayed", func() (bool, string) {
		v, p := metric(`wardops_spool_blocks{spool="vm"}`), metric(`wardops_spool_blocks{spool="ping_results"}`)
		return v == 0 && p == 0, fmt.Sprintf("%v vm blocks, %v ping_results blocks left", v, p)
	})
	t.Logf("outage %s; spools held %.0f KiB (vm) and %.0f KiB (ping_results) before the restart, replayed %s after it",
		outageEnd.Sub(outageStart).Round(time.Second), spooledVM/1024, spooledPG/1024, took.Round(100*time.Millisecond))
	// Nothing dropped anywhere (read before stop: closing a spool unregisters its metrics).
	for _, name := range []string{
		`wardops_spool_dropped_blocks_total{spool="vm",reason="cap"}`,
		`wardops_spool_dropped_blocks_total{spool="vm",reason="corrupt"}`,
		`wardops_spool_dropped_blocks_total{spool="ping_results",reason="cap"}`,
		`wardops_spool_dropped_blocks_total{spool="ping_results",reason="corrupt"}`,
		`wardops_collector_push_dropped_blocks_total{reason="rejected"}`,
		`wardops_collector_ping_results_dropped_blocks_total{reason="corrupt"}`,
	} {
		if v := metric(name); v != 0 {
			t.Errorf("%s = %v, want 0", name, v)
		}
	}
	end := time.Now() // before the shutdown flush: no probe is dispatched after this
	stop()
	probes := int(metric(`wardops_collector_probes_total{kind="icmp"}`))
	if metric(`wardops_collector_push_retries_total`) == 0 || metric(`wardops_collector_ping_results_retries_total`) == 0 {
		t.Errorf("no retries counted during the outage")
	}

	// VictoriaMetrics: every device, no gap over the whole window.
	if err := vm.ForceFlush(); err != nil {
		t.Fatal(err)
	}
	series, err := vm.ExportSeries(model.MetricPingUp, start.Add(-time.Minute), end.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	vmTS := map[string][]int64{} // device_id → distinct sample timestamps, sorted
	for _, s := range series {
		id := s.Labels["device_id"]
		vmTS[id] = append(vmTS[id], s.Timestamps...)
	}
	maxGap := interval * 3 / 2
	samples, gaps := 0, 0
	for id, ts := range vmTS {
		slices.Sort(ts)
		ts = slices.Compact(ts)
		vmTS[id] = ts
		samples += len(ts)
		first, last := time.UnixMilli(ts[0]), time.UnixMilli(ts[len(ts)-1])
		if first.After(outageStart) || last.Before(end.Add(-maxGap)) {
			t.Errorf("device %s: samples only from %s to %s, window %s to %s", id, first.Format(time.TimeOnly),
				last.Format(time.TimeOnly), start.Format(time.TimeOnly), end.Format(time.TimeOnly))
		}
		for i := 1; i < len(ts); i++ {
			if d := time.Duration(ts[i]-ts[i-1]) * time.Millisecond; d > maxGap {
				gaps++
				if gaps <= 5 {
					t.Errorf("device %s: gap of %s at %s", id, d, time.UnixMilli(ts[i-1]).Format(time.TimeOnly))
				}
			}
		}
	}
	if len(vmTS) != devices || samples != probes {
		t.Errorf("VictoriaMetrics has %d devices and %d %s samples; want %d devices and one sample per probe (%d)",
			len(vmTS), samples, model.MetricPingUp, devices, probes)
	}

	// PostgreSQL: one row per probe, at the same timestamps as the samples.
	rows, dups, missing := 0, 0, 0
	for _, d := range devs {
		rs, err := st.PingHistory(ctx, d.IP, start.Add(-time.Minute), end.Add(time.Minute), 100000)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range rs {
			got = append(got, r.Timestamp.UnixMilli())
		}
		rows += len(got)
		slices.Sort(got)
		distinct := slices.Compact(slices.Clone(got))
		dups += len(got) - len(distinct)
		want := vmTS[strconv.FormatInt(d.ID, 10)]
		if !slices.Equal(distinct, want) {
			missing++
			if missing <= 5 {
				t.Errorf("device %d (%s): %d ping_results rows, %d samples in VictoriaMetrics; rows missing at %v, samples missing at %v",
					d.ID, d.IP, len(distinct), len(want), absent(want, distinct), absent(distinct, want))
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d devices have ping_results rows missing or extra", missing, len(devs))
	}
	if rows-dups != probes {
		t.Errorf("ping_results holds %d distinct rows, the collector made %d probes", rows-dups, probes)
	}
	if dups > 0 {
		// At-least-once delivery (pingwriter.go): possible only when a COPY committed and its answer
		// was lost as PostgreSQL stopped.
		t.Logf("%d duplicate ping_results rows", dups)
	}
	t.Logf("%d devices, %d probes, %d samples, %d rows, %d gaps; test took %s", len(vmTS), probes, samples, rows, gaps,
		time.Since(testStart).Round(time.Second))
}

// absent lists (up to 3) timestamps of want that got lacks, as clock times.
func absent(want, got []int64) []string {
	var out []string
	for _, ts := range want {
		if _, ok := slices.BinarySearch(got, ts); !ok && len(out) < 3 {
			out = append(out, time.UnixMilli(ts).Format("15:04:05.000"))
		}
	}
	return out
}

// TestCollectorSIGKILLReplay: "a collector SIGKILLed with a non-empty spool replays it
// after restart", on the real binary: a collector probes with VictoriaMetrics down, so its samples
// spool under WARDOPS_DATA_DIR/vm; it is SIGKILLed; a copy of the spool, read here, says which
// samples reached the disk; VictoriaMetrics comes back and a second collector, whose inventory is
// all disabled, only replays: every one of those samples arrives with its original timestamp, and
// they include every probe older than 10 s at the kill (the spool syncs within about 2 s).
func TestCollectorSIGKILLReplay(t *testing.T) {
	const devices = 20
	bin := buildWardops(t)
	st, dbURL := testenv.Store(t)
	ctx := context.Background()
	specs := make([]model.ImportDevice, 0, devices)
	for i := range devices {
		specs = append(specs, deviceSpec(fmt.Sprintf("kill-%d", i), netip.AddrFrom4([4]byte{127, 22, 200, byte(i + 1)})))
	}
	if _, err := st.ImportInventory(ctx, nil, specs, false); err != nil {
		t.Fatal(err)
	}
	vm := testenv.VictoriaMetrics(t)
	vm.Stop()
	dataDir := t.TempDir()
	env := map[string]string{
		"WARDOPS_DATABASE_URL":       dbURL,
		"WARDOPS_VM_URL":             vm.URL,
		"WARDOPS_DATA_DIR":           dataDir,
		"WARDOPS_ICMP_ENGINE":        "shared",
		"WARDOPS_PING_INTERVAL":      "2s",
		"WARDOPS_PING_TIMEOUT":       "500ms",
		"WARDOPS_PING_ECHO_INTERVAL": "50ms",
		"WARDOPS_INVENTORY_RELOAD":   "1s",
		"WARDOPS_PUSH_INTERVAL":      "200ms",
	}

	first := startWardops(t, bin, env)
	testenv.WaitFor(t, 30*time.Second, "samples spooled to disk", func() (bool, string) {
		m, err := first.metrics()
		if err != nil {
			return false, err.Error()
		}
		probes, disk := m[`wardops_collector_probes_total{kind="icmp"}`], m[`wardops_spool_disk_bytes{spool="vm"}`]
		return probes >= 8*devices && disk > 0, fmt.Sprintf("%v probes, %v spool bytes on disk", probes, disk)
	})
	first.kill()
	killedAt := time.Now()

	// What reached the disk, read from a copy so the spool itself is left for the second collector.
	onDisk := spooledPingUp(t, filepath.Join(dataDir, "vm"))
	if len(onDisk) == 0 {
		t.Fatal("the spool of the killed collector holds no wardops_ping_up samples")
	}
	// Every probe older than 10 s at the kill must be among them: ping_results (PostgreSQL was up)
	// says which probes ran.
	devs, err := st.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := 0
	for _, d := range devs {
		rs, err := st.PingHistory(ctx, d.IP, killedAt.Add(-time.Hour), killedAt.Add(-10*time.Second), 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			old++
			if !onDisk[spooledSample{strconv.FormatInt(d.ID, 10), r.Timestamp.UnixMilli()}] {
				t.Errorf("probe of device %d at %s (%s before the kill) is not in the spool", d.ID,
					r.Timestamp.Format("15:04:05.000"), killedAt.Sub(r.Timestamp).Round(time.Millisecond))
			}
		}
		if err := st.SetDeviceEnabled(ctx, d.ID, false); err != nil {
			t.Fatal(err)
		}
	}
	if old == 0 {
		t.Fatal("no probe older than 10 s at the kill: the collector ran too briefly")
	}

	vm.Start()
	second := startWardops(t, bin, env)
	from := killedAt.Add(-time.Hour)
	testenv.WaitFor(t, 30*time.Second, "spooled samples in VictoriaMetrics", func() (bool, string) {
		if err := vm.ForceFlush(); err != nil {
			return false, err.Error()
		}
		series, err := vm.ExportSeries(model.MetricPingUp, from, time.Now())
		if err != nil {
			return false, err.Error()
		}
		got := map[spooledSample]bool{}
		for _, s := range series {
			for _, ts := range s.Timestamps {
				got[spooledSample{s.Labels["device_id"], ts}] = true
			}
		}
		missing := 0
		for s := range onDisk {
			if !got[s] {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d spooled samples missing", missing, len(onDisk))
	})
	if code := second.term(); code != 0 {
		t.Errorf("second collector exited %d after SIGTERM", code)
	}
	t.Logf("%d samples spooled before the SIGKILL (%d probes older than 10 s checked), all replayed", len(onDisk), old)
}

// buildWardops builds the real binary into a temporary directory.
func buildWardops(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "wardops")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/wardops/wardops/cmd/wardops").CombinedOutput()
	if err != nil {
		t.Fatalf("cannot build wardops: %v\n%s", err, out)
	}
	return bin
}

// wardopsProc is a `wardops collector` child process.
type wardopsProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // its /metrics
	log    string
	done   chan struct{}
	exited bool
}

// startWardops runs `wardops collector` with env (and nothing else of ours from WARDOPS_*); cleanup
// kills it if the test has not stopped it.
func startWardops(t *testing.T, bin string, env map[string]string) *wardopsProc {
	t.Helper()
	p := &wardopsProc{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), log: filepath.Join(t.TempDir(), "collector.log"),
		done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(bin, "collector")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARDOPS_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Env = append(p.cmd.Env, "WARDOPS_COLLECTOR_LISTEN="+p.addr)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("cannot start wardops collector: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited {
			p.kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("collector log (pid %d):\n%s", p.cmd.Process.Pid, b)
		}
	})
	return p
}

// metrics scrapes the child's /metrics.
func (p *wardopsProc) metrics() (map[string]float64, error) {
	select {
	case <-p.done:
		b, _ := os.ReadFile(p.log)
		p.t.Fatalf("wardops collector exited early:\n%s", b)
	default:
	}
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out, sc.Err()
}

func (p *wardopsProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.exited = true
}

// term sends SIGTERM and returns the exit code, killing the process after 20 s.
func (p *wardopsProc) term() int {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Error("wardops collector did not exit within 20 s of SIGTERM")
		p.kill()
	}
	p.exited = true
	return p.cmd.ProcessState.ExitCode()
}

type spooledSample struct {
	deviceID string
	ts       int64
}

// spooledPingUp reads a copy of the VictoriaMetrics spool in dir (the original is left untouched)
// and returns its wardops_ping_up samples.
func spooledPingUp(t *testing.T, dir string) map[spooledSample]bool {
	t.Helper()
	cp := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	q, err := spool.Open(cp, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[spooledSample]bool{}
	for q.Len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		b, err := q.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		q.Ack(b)
		zr, err := gzip.NewReader(bytes.NewReader(b.Data))
		if err != nil {
			t.Fatalf("spooled block is not gzip: %v", err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, model.MetricPingUp+"{") {
				continue
			}
			_, rest, _ := strings.Cut(line, `device_id="`)
			id, _, _ := strings.Cut(rest, `"`)
			ts, err := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
			if err != nil || id == "" {
				t.Fatalf("bad spooled line %q", line)
			}
			out[spooledSample{id, ts}] = true
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("cannot read spooled block: %v", err)
		}
	}
	return out
}

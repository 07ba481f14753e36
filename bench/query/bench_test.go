//go:build bench

// Package querybench drives the query service's benchmark: `make bench-query` runs
// go test -tags bench -run TestBenchQuery -v ./bench/query/. It is a measurement, not a timed
// test: it fails only when something does not work, and prints a table.
package querybench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/query"
	"github.com/wardops/wardops/store"
)

// Sizes default to a branch network (875) and a national one (100,000); WARDOPS_BENCH_SIZES=875 runs one.
func sizes() []int {
	s := os.Getenv("WARDOPS_BENCH_SIZES")
	if s == "" {
		return []int{875, 100000}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// cacheTTL is the service's snapshot TTL: its default unless WARDOPS_BENCH_CACHE_TTL says otherwise.
func cacheTTL() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("WARDOPS_BENCH_CACHE_TTL")); err == nil {
		return d
	}
	return time.Second
}

// buildShare is the service's cap on time spent building: its default unless
// WARDOPS_BENCH_BUILD_SHARE says otherwise (1: builds back to back, as before the cap).
func buildShare() float64 {
	if f, err := strconv.ParseFloat(os.Getenv("WARDOPS_BENCH_BUILD_SHARE"), 64); err == nil && f > 0 && f <= 1 {
		return f
	}
	return 0.1
}

// duration is one wrk run: WARDOPS_BENCH_DURATION (default 30 s) split over the rounds. Rounds
// of 10 s hold about ten snapshot builds each: a 5 s round's p99 moved by a tenth between runs
// of the same code, as one build more or less fell into it.
func duration() string {
	d, err := time.ParseDuration(os.Getenv("WARDOPS_BENCH_DURATION"))
	if err != nil || d <= 0 {
		d = 30 * time.Second
	}
	return strconv.Itoa(max(1, int(d/rounds/time.Second))) + "s"
}

// encodings are the Accept-Encoding values measured: gzip as every browser sends, identity as a
// client that asks for none. WARDOPS_BENCH_ENCODINGS=gzip measures one.
func encodings() []string { return listEnv("WARDOPS_BENCH_ENCODINGS", []string{"gzip", "identity"}) }

// paths are the endpoints measured: the dashboard and a device-list page.
// WARDOPS_BENCH_PATHS=/api/v1/dashboard measures one.
func paths() []string {
	return listEnv("WARDOPS_BENCH_PATHS", []string{"/api/v1/dashboard", "/api/v1/devices?limit=100"})
}

// listEnv is a comma-separated variable's values, or def when it is unset.
func listEnv(name string, def []string) []string {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// runWrk loads url with 64 connections for the benchmark's duration and returns wrk's report.
func runWrk(t *testing.T, wrk, url, enc string) string {
	out, err := exec.Command(wrk, "-t2", "-c64", "-d"+duration(), "--latency", "-H", "Accept-Encoding: "+enc, url).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	return string(out)
}

// floorServer serves fixed bodies with a bare net/http handler in this process: the same runtime,
// the same bytes, none of our code. wrk shares the two cores with the service, so the scheduler
// makes much of the tail; the floor row measures that in the same run, and the ratio to it is what
// our stack adds.
type floorServer struct {
	url    string
	bodies map[string][]byte // by Content-Encoding ("identity": none)
}

func startFloor(t *testing.T, bodies map[string][]byte) *floorServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &floorServer{url: "http://" + l.Addr().String() + "/", bodies: bodies}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := "identity"
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			enc = "gzip"
			w.Header().Set("Content-Encoding", "gzip")
		}
		b := f.bodies[enc]
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	return f
}

// profile writes a CPU profile of the server under load to $WARDOPS_BENCH_CPUPROFILE-<n>-<endpoint>
// when that is set, and the allocations since the process started to
// $WARDOPS_BENCH_MEMPROFILE-<n>-<endpoint> when that is, for `go tool pprof`.
func profile(t *testing.T, n int, what string) func() {
	suffix := fmt.Sprintf("-%d-%s", n, strings.Trim(regexp.MustCompile(`\W+`).ReplaceAllString(what, "_"), "_"))
	stopCPU := func() {}
	if prefix := os.Getenv("WARDOPS_BENCH_CPUPROFILE"); prefix != "" {
		f, err := os.Create(prefix + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		stopCPU = func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("CPU profile: %s", f.Name())
		}
	}
	return func() {
		stopCPU()
		if prefix := os.Getenv("WARDOPS_BENCH_MEMPROFILE"); prefix != "" {
			f, err := os.Create(prefix + suffix)
			if err != nil {
				t.Fatal(err)
			}
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("allocation profile: %s", f.Name())
		}
	}
}

// Targets of the query path against the bare handler measured in the same run.
const (
	targetP99Ratio = 1.25 // wardops p99 / floor p99, at most
	targetRPSRatio = 0.8  // wardops req/s / floor req/s, at least
)

func TestBenchQuery(t *testing.T) {
	wrk := testenv.LookBinary(t, "wrk", "wrk")
	var rows, ratios []string
	for _, n := range sizes() {
		r, q := benchFleet(t, wrk, n)
		rows, ratios = append(rows, r...), append(ratios, q...)
	}
	fmt.Println("\n| devices | endpoint | server, Accept-Encoding | body bytes | p50 | p99 | req/s | PG queries/req | VM queries/req |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Printf("\nRatios to the floor in the same run, median of %d alternating rounds (targets: p99 ≤ %.2f×, req/s ≥ %.2f×):\n\n", rounds, targetP99Ratio, targetRPSRatio)
	fmt.Println("| devices | endpoint | Accept-Encoding | p99 wardops / floor | p99 ratio | req/s wardops / floor | req/s ratio | verdict |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range ratios {
		fmt.Println(r)
	}
}

// wrkResult is one wrk run's latency quantiles and throughput.
type wrkResult struct {
	p50, p99 time.Duration
	rps      float64
}

func parseWrkResult(out string) wrkResult {
	p50, p99, rps := parseWrk(out)
	// wrk prints "23.71ms", "1.20s" or "812.00us"; Go spells microseconds "us" too.
	d50, _ := time.ParseDuration(p50)
	d99, _ := time.ParseDuration(p99)
	r, _ := strconv.ParseFloat(rps, 64)
	return wrkResult{p50: d50, p99: d99, rps: r}
}

// rounds is how many alternating wardops/floor runs each row takes its medians over.
const rounds = 3

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianResult takes each figure's median separately over the rounds.
func medianResult(rs []wrkResult) wrkResult {
	var p50, p99, rps []float64
	for _, r := range rs {
		p50, p99, rps = append(p50, float64(r.p50)), append(p99, float64(r.p99)), append(rps, r.rps)
	}
	return wrkResult{p50: time.Duration(median(p50)), p99: time.Duration(median(p99)), rps: median(rps)}
}

// ratioRow shows the median figures of both sides and the median of the per-round ratios (pr for
// p99, rr for req/s), which the verdict is on.
func ratioRow(n int, path, enc string, ours, floor wrkResult, pr, rr float64) string {
	verdict := "PASS"
	if pr > targetP99Ratio || rr < targetRPSRatio {
		verdict = "MISS"
	}
	return fmt.Sprintf("| %d | %s | %s | %s / %s | %.2f× | %.0f / %.0f | %.2f× | %s |", n, path, enc,
		ours.p99.Round(10*time.Microsecond), floor.p99.Round(10*time.Microsecond), pr, ours.rps, floor.rps, rr, verdict)
}

func benchFleet(t *testing.T, wrk string, n int) (rows, ratios []string) {
	st, _ := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()
	start := time.Now()
	specs := make([]model.ImportDevice, n)
	for i := range specs {
		ip := netip.AddrFrom4([4]byte{127, byte(20 + i>>16), byte(i >> 8), byte(i)})
		specs[i] = model.ImportDevice{Line: i + 2, Branch: fmt.Sprintf("branch-%04d", i%max(60, n/100)), Region: fmt.Sprintf("region-%d", i%7),
			Name: fmt.Sprintf("dev-%06d", i), IP: ip.String(), Vendor: "cisco", DeviceType: "router", Enabled: true, SNMPPort: 161}
	}
	if _, err := st.ImportInventory(ctx, nil, specs, false); err != nil {
		t.Fatal(err)
	}
	devs, err := st.ListDeviceSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, st, vm, devs)
	t.Logf("%d devices seeded in %s", n, time.Since(start).Round(time.Millisecond))
	fctx, stopFeed := context.WithCancel(ctx)
	fed := make(chan struct{})
	go func() { defer close(fed); feed(fctx, t, st, vm, devs) }()
	defer func() { stopFeed(); <-fed }()

	if os.Getenv("WARDOPS_BENCH_PROBE") != "" {
		time.Sleep(20 * time.Second)
		for _, q := range []string{
			// The fleet query as one union, as it was before it became three queries.
			`union(label_set(max by (device_id) (round(tlast_over_time(wardops_ping_up[120s]) * 1000) * 2 + last_over_time(wardops_ping_up[120s])), "wq", "state"), label_set(max by (device_id) (last_over_time(wardops_ping_rtt_seconds[120s])), "wq", "rtt"), label_set(max by (device_id) (last_over_time(wardops_ping_loss_ratio[120s])), "wq", "loss"))`,
			`max by (device_id) (tlast_over_time(wardops_ping_up[120s]))`,
			`max by (device_id) (last_over_time(wardops_ping_up[120s]))`,
			`last_over_time(wardops_ping_up[120s])`,
			`count(last_over_time(wardops_ping_up[90s]))`,
			`max by (device_id) (last_over_time(wardops_ping_up[90s]))`,
			`max by (device_id, rollup) (aggr_over_time(("last_over_time", "tlast_over_time"), wardops_ping_up[90s]))`,
			`max by (device_id, rollup, __name__) (aggr_over_time(("last_over_time", "tlast_over_time"), {__name__=~"wardops_ping_up|wardops_ping_rtt_seconds|wardops_ping_loss_ratio"}[90s]) keep_metric_names)`,
			`max by (device_id, __name__) (last_over_time({__name__=~"wardops_ping_up|wardops_ping_rtt_seconds|wardops_ping_loss_ratio"}[90s]) keep_metric_names)`,
		} {
			t0 := time.Now()
			resp, err := http.Get(vm.URL + "/api/v1/query?nocache=1&query=" + url.QueryEscape(q))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("%s: %s, %d bytes, %.80s", q, time.Since(t0).Round(time.Millisecond), len(b), b)
		}
		for range 2 {
			t0 := time.Now()
			var wg sync.WaitGroup
			// The service's three fleet queries (query/vm.go), the same work as the union above.
			for _, q := range []string{
				`max by (device_id) (round(tlast_over_time(wardops_ping_up[120s]) * 1000) * 2 + last_over_time(wardops_ping_up[120s]))`,
				`max by (device_id) (last_over_time(wardops_ping_rtt_seconds[120s]))`,
				`max by (device_id) (last_over_time(wardops_ping_loss_ratio[120s]))`,
			} {
				wg.Go(func() {
					resp, err := http.Get(vm.URL + "/api/v1/query?nocache=1&query=" + url.QueryEscape(q))
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			t.Logf("the three fleet queries side by side: %s", time.Since(t0).Round(time.Millisecond))
		}
	}
	reg := prometheus.NewRegistry()
	srv, err := query.New(query.Options{VMQueryURL: vm.URL, PingInterval: 30 * time.Second, CacheTTL: cacheTTL(), CacheBuildShare: buildShare(), Listen: "127.0.0.1:0",
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Version: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, l) }()
	defer func() { cancel(); <-done }()
	base := "http://" + l.Addr().String()

	t0 := time.Now()
	resp, err := http.Get(base + "/api/v1/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("%d devices: first dashboard (cold build) %s, status %d", n, time.Since(t0).Round(time.Millisecond), resp.StatusCode)
	logBackends(t, base)

	// The load on this shared machine drifts over a run, so wardops and the floor are measured in
	// alternating short rounds on the same bytes, and each figure is the median over the rounds:
	// a burst of load elsewhere then hits both sides instead of one.
	for _, path := range paths() {
		bodies := map[string][]byte{}
		for _, enc := range encodings() {
			_, bodies[enc] = testenv.GetEncoded(t, base+path, enc)
		}
		floor := startFloor(t, bodies)
		for _, enc := range encodings() {
			var ours, flr []wrkResult
			var pr, rr []float64
			before := scrape(t, base)
			for r := range rounds {
				stop := profile(t, n, fmt.Sprintf("%s-%s-%d", path, enc, r))
				out := runWrk(t, wrk, base+path, enc)
				stop()
				o := parseWrkResult(out)
				f := parseWrkResult(runWrk(t, wrk, floor.url, enc))
				ours, flr = append(ours, o), append(flr, f)
				pr, rr = append(pr, float64(o.p99)/float64(f.p99)), append(rr, o.rps/f.rps)
				t.Logf("%d %s (%s) round %d: wardops p99 %s %.0f req/s, floor p99 %s %.0f req/s", n, path, enc, r+1, o.p99, o.rps, f.p99, f.rps)
			}
			after := scrape(t, base)
			logBackends(t, base)
			pg, vmq := "-", "-"
			if reqs := after["requests"] - before["requests"]; reqs > 0 {
				pg = fmt.Sprintf("%.4f", (after["postgres"]-before["postgres"])/reqs)
				vmq = fmt.Sprintf("%.4f", (after["victoriametrics"]-before["victoriametrics"])/reqs)
			}
			o, f := medianResult(ours), medianResult(flr)
			rows = append(rows,
				fmt.Sprintf("| %d | %s | %s | %d | %s | %s | %.0f | %s | %s |", n, path, enc, len(bodies[enc]), o.p50, o.p99, o.rps, pg, vmq),
				fmt.Sprintf("| %d | %s | floor: bare net/http, same bytes, %s | %d | %s | %s | %.0f | - | - |", n, path, enc, len(bodies[enc]), f.p50, f.p99, f.rps))
			ratios = append(ratios, ratioRow(n, path, enc, o, f, median(pr), median(rr)))
		}
	}
	return rows, ratios
}

// seed writes two probes per device (40 s and 10 s ago; every 50th device down on the newest)
// to VictoriaMetrics and ping_results.
func seed(t *testing.T, st *store.Store, vm *testenv.VM, devs []model.DeviceSummary) {
	now := time.Now().UTC().Truncate(time.Second)
	var buf bytes.Buffer
	var rows []model.PingResult
	for i, d := range devs {
		for k, at := range []time.Time{now.Add(-40 * time.Second), now.Add(-10 * time.Second)} {
			rows = append(rows, writeProbe(&buf, i, d, at, !(k == 1 && i%50 == 0)))
		}
		if buf.Len() > 4<<20 {
			if err := importVM(vm, &buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := importVM(vm, &buf); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertPingResults(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(vm.URL + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// feed keeps the fleet live while the rounds run, as the collector would: every device probed
// once per 30 s at its own phase (device i in second i mod 30), each second's probes written to
// VictoriaMetrics and ping_results, every 50th device down. Without it the seeded probes leave
// the fleet query's window after two minutes, and the later rows would measure builds over an
// empty window of an all-unknown fleet. It runs through the floor's rounds too, so the load it
// puts on the machine is on both sides of each ratio.
func feed(ctx context.Context, t *testing.T, st *store.Store, vm *testenv.VM, devs []model.DeviceSummary) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			now = now.UTC()
			slot := int(now.Unix() % 30)
			var rows []model.PingResult
			for i := slot; i < len(devs); i += 30 {
				rows = append(rows, writeProbe(&buf, i, devs[i], now, i%50 != 0))
			}
			if err := importVM(vm, &buf); err != nil {
				t.Errorf("feed: %v", err)
				return
			}
			if err := st.InsertPingResults(ctx, rows); err != nil && ctx.Err() == nil {
				t.Errorf("feed: %v", err)
				return
			}
		}
	}
}

// writeProbe appends device i's probe at at to buf in the collector's series and returns its
// ping_results row.
func writeProbe(buf *bytes.Buffer, i int, d model.DeviceSummary, at time.Time, up bool) model.PingResult {
	lb := fmt.Sprintf(`device_id="%d",device="%s",ip="%s",branch="%s",region="%s",vendor="%s"`, d.ID, d.Name, d.IP, d.Branch, d.Region, d.Vendor)
	rtt := 1 + float64(i%100)/10
	r := model.PingResult{DeviceID: d.ID, DeviceIP: d.IP, Timestamp: at, IsReachable: up, PacketLoss: 1, Sent: 3}
	v := 0
	if up {
		v, r.PacketLoss, r.Received, r.RTTAvgMs = 1, 0, 3, &rtt
	}
	fmt.Fprintf(buf, "wardops_ping_up{%s} %d %d\nwardops_ping_rtt_seconds{%s} %g %d\nwardops_ping_loss_ratio{%s} %g %d\n",
		lb, v, at.UnixMilli(), lb, rtt/1000, at.UnixMilli(), lb, r.PacketLoss, at.UnixMilli())
	return r
}

// importVM sends buf to VictoriaMetrics' import API and empties it.
func importVM(vm *testenv.VM, buf *bytes.Buffer) error {
	defer buf.Reset()
	resp, err := http.Post(vm.URL+"/api/v1/import/prometheus", "text/plain", buf)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("import: %s", resp.Status)
	}
	return nil
}

var metricLine = regexp.MustCompile(`^(wardops_query_backend_duration_seconds_count\{backend="(\w+)"|wardops_query_http_requests_total\{)[^ ]* ([0-9.e+]+)$`)

// scrape sums backend query counts per backend and all HTTP requests from /metrics.
func scrape(t *testing.T, base string) map[string]float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		if m[2] != "" {
			out[m[2]] += v
		} else {
			out["requests"] += v
		}
	}
	return out
}

func parseWrk(out string) (p50, p99, rps string) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "50%":
			p50 = f[1]
		case len(f) >= 2 && f[0] == "99%":
			p99 = f[1]
		case len(f) >= 2 && f[0] == "Requests/sec:":
			rps = f[1]
		}
	}
	return p50, p99, rps
}

// logBackends logs the mean latency of each backend operation so far.
func logBackends(t *testing.T, base string) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`wardops_query_(?:backend|snapshot_build)_duration_seconds_(sum|count)(?:\{backend="(\w+)",op="(\w+)"\})? ([0-9.e+-]+)`)
	sum, cnt := map[string]float64{}, map[string]float64{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[4], 64)
		k := m[2] + "/" + m[3]
		if m[2] == "" {
			k = "snapshot builds"
		}
		if m[1] == "sum" {
			sum[k] = v
		} else {
			cnt[k] = v
		}
	}
	for k, c := range cnt {
		if c > 0 {
			t.Logf("  %s: %d calls, mean %s", k, int(c), time.Duration(sum[k]/c*float64(time.Second)).Round(time.Microsecond))
		}
	}
}

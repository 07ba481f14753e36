package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/sim"
)

// TestRunFirstDashboardAfterQuietPeriod starts `wardops run` (this binary, the same Run path as
// production) on a simulated fleet on 127.20.201.0/24, with three devices silenced by nftables and
// two disabled. One dashboard request comes as soon as the service listens, before any probe (a
// NOC page opened at start-up); then nothing for 45 s. The service builds nothing in that time;
// the next dashboard request waits for one build instead of getting the start-up snapshot, and
// shows the fleet as it is, with generated_at after the request and inside the stated bound
// (cache TTL + build deadline).
func TestRunFirstDashboardAfterQuietPeriod(t *testing.T) {
	testenv.LookBinary(t, "victoria-metrics", "victoria-metrics")
	dbURL := testenv.Database(t)
	vm := testenv.VictoriaMetrics(t)
	const devices = 60
	base := netip.MustParseAddr("127.20.201.1")
	simPort := freeUDPPort(t)
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: devices, Base: base, SNMPPort: simPort, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	disabled := map[int]bool{10: true, 20: true}
	down := map[int]bool{5: true, 15: true, 25: true}
	for i := range doc.Rows {
		if disabled[i] {
			doc.Rows[i].Enabled = "false"
		}
	}
	fleet := filepath.Join(t.TempDir(), "fleet.csv")
	f, err := os.Create(fleet)
	if err != nil {
		t.Fatal(err)
	}
	if err := csv.NewWriter(f).WriteAll(doc.CSVRecords()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Setenv("WARDOPS_DATABASE_URL", dbURL)
	for _, args := range [][]string{{"migrate"}, {"import", fleet}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
	}
	addrs, err := sim.Range(base, devices)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := sim.Start(sim.Options{Addrs: addrs, Port: simPort, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fl.Close() })
	for i := range down {
		testenv.DropTraffic(t, addrs[i].String(), testenv.HookOutput)
	}

	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env = append(os.Environ(), "WARDOPS_TEST_MAIN=1", "WARDOPS_VM_URL="+vm.URL, "WARDOPS_LISTEN="+listen,
		fmt.Sprintf("WARDOPS_COLLECTOR_LISTEN=127.0.0.1:%d", testenv.FreePort(t)),
		"WARDOPS_DATA_DIR="+filepath.Join(dir, "data"), "WARDOPS_PING_INTERVAL=5s", "WARDOPS_CACHE_TTL=1s")
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "run.log"))
			t.Logf("wardops run output:\n%s", b)
		}
	})

	for {
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Since(started) > 30*time.Second {
			t.Fatal("the query service does not listen after 30 s")
		}
		select {
		case err := <-exited:
			t.Fatalf("wardops run exited early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if code := getJSON("http://"+listen+"/api/v1/dashboard", &struct{}{}); code != 200 {
		t.Fatalf("start-up dashboard: %d", code)
	}
	time.Sleep(time.Second) // a build the start-up request started ahead would be done by now
	startup := snapshotBuilds(t, listen)

	// 45 s without a request that reads a snapshot (/metrics reads none). VictoriaMetrics is asked
	// directly at the end, to know the collector had every enabled device by then.
	select {
	case err := <-exited:
		t.Fatalf("wardops run exited early: %v", err)
	case <-time.After(45 * time.Second):
	}
	if got, err := vm.Query(`count(last_over_time(wardops_ping_up[30s]))`); err != nil || len(got) != 1 || got[0].Value != float64(devices-len(disabled)) {
		t.Fatalf("VictoriaMetrics does not have every enabled device after 45 s: %v %+v", err, got)
	}
	if n := snapshotBuilds(t, listen) - startup; n != 0 {
		t.Fatalf("%d snapshot builds with no reader in 45 s", n)
	}

	requested := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + listen + "/api/v1/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		GeneratedAt time.Time                                          `json:"generated_at"`
		Source      string                                             `json:"source"`
		Totals      struct{ Devices, Up, Down, Unknown, Disabled int } `json:"totals"`
	}
	err = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	answered := time.Now()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dashboard: %d %v", resp.StatusCode, err)
	}
	want := struct{ Devices, Up, Down, Unknown, Disabled int }{devices, devices - len(disabled) - len(down), len(down), 0, len(disabled)}
	if d.Totals != want || d.Source != "ping_results" {
		t.Errorf("first dashboard after 45 s: source %q totals %+v, want %+v", d.Source, d.Totals, want)
	}
	// The bound the README states: cache TTL (1 s here) plus one build, which the build deadline
	// (10 s) caps.
	const bound = time.Second + 10*time.Second
	if d.GeneratedAt.Before(requested) || answered.Sub(d.GeneratedAt) > bound {
		t.Errorf("generated_at %s: requested %s, answered %s; want a snapshot built after the request, within %s",
			d.GeneratedAt, requested, answered, bound)
	}
	if age, err := strconv.Atoi(resp.Header.Get("Age")); err != nil || time.Duration(age)*time.Second > bound {
		t.Errorf("Age %q, want at most %s", resp.Header.Get("Age"), bound)
	}
	if n := snapshotBuilds(t, listen) - startup; n != 1 {
		t.Errorf("%d snapshot builds for the request after the quiet period, want 1", n)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("wardops run did not exit cleanly on SIGINT: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("wardops run did not stop within 60 s of SIGINT")
	}
}

var buildsMetric = regexp.MustCompile(`(?m)^wardops_query_snapshot_builds_total\{trigger="\w+"\} (\d+)$`)

// snapshotBuilds reads the query service's build counter; /metrics reads no snapshot itself.
func snapshotBuilds(t *testing.T, listen string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+listen+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := buildsMetric.FindAllStringSubmatch(string(b), -1)
	if len(m) == 0 {
		t.Fatalf("no wardops_query_snapshot_builds_total in /metrics")
	}
	n := 0
	for _, s := range m {
		v, _ := strconv.Atoi(s[1])
		n += v
	}
	return n
}

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// TestThreeCollectorsOneKilled runs three `wardops collector` processes on one database. They
// split the fleet (every device probed once per interval, none twice); one is SIGKILLed, and the
// other two take its devices within two intervals, still probing none twice. The gaps are read
// from ping_results, the record every probe leaves.
func TestThreeCollectorsOneKilled(t *testing.T) {
	testenv.LookBinary(t, "victoria-metrics", "victoria-metrics")
	st, dbURL := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()
	const devices = 36
	const interval = 3 * time.Second
	specs := make([]model.ImportDevice, devices)
	for i := range specs {
		ip := netip.AddrFrom4([4]byte{127, 20, 210, byte(i + 1)})
		specs[i] = model.ImportDevice{Line: i + 2, Branch: "b", Region: "r", Name: fmt.Sprintf("shared-%02d", i), IP: ip.String(), Enabled: true, SNMPPort: 161}
	}
	if _, err := st.ImportInventory(ctx, nil, specs, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := func(id string) *exec.Cmd {
		return startWardops(t, dir, id, []string{"collector"}, "WARDOPS_DATABASE_URL="+dbURL, "WARDOPS_VM_URL="+vm.URL,
			"WARDOPS_COLLECTOR_ID="+id, fmt.Sprintf("WARDOPS_COLLECTOR_LISTEN=127.0.0.1:%d", testenv.FreePort(t)),
			"WARDOPS_DATA_DIR="+filepath.Join(dir, id), "WARDOPS_PING_INTERVAL="+interval.String(), "WARDOPS_PING_TIMEOUT=500ms",
			"WARDOPS_PING_ECHO_INTERVAL=100ms", "WARDOPS_COLLECTOR_LEASE=1s", "WARDOPS_INVENTORY_RELOAD=1s", "WARDOPS_PUSH_INTERVAL=200ms")
	}
	procs := map[string]*exec.Cmd{}
	for _, id := range []string{"c1", "c2", "c3"} {
		procs[id] = start(id)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := st.Collectors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d collectors registered after 20 s, want 3", len(cs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Joining moves devices: the first owner may probe a device once more before it sees the
	// newcomer. Measuring starts two intervals after the last join.
	time.Sleep(2 * interval)
	settled := time.Now()
	time.Sleep(3 * interval)
	owners := map[string]int{}
	for id := int64(1); id <= devices; id++ {
		owners[model.Owner([]model.Collector{{ID: "c1"}, {ID: "c2"}, {ID: "c3"}}, id, "r")]++
	}
	if err := procs["c2"].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	time.Sleep(4 * interval)
	end := time.Now()

	var worst time.Duration
	var worstDev string
	for _, s := range specs {
		rows, err := st.PingHistory(ctx, netip.MustParseAddr(s.IP), settled, end, 100)
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]time.Time, len(rows))
		for i, r := range rows {
			ts[i] = r.Timestamp
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		if len(ts) == 0 {
			t.Fatalf("%s: no probe after the group settled", s.Name)
		}
		gaps := []time.Duration{ts[0].Sub(settled)}
		for i := 1; i < len(ts); i++ {
			gaps = append(gaps, ts[i].Sub(ts[i-1]))
		}
		gaps = append(gaps, end.Sub(ts[len(ts)-1]))
		for i, g := range gaps {
			// Two probes closer than half an interval: two collectors probed the device.
			if i > 0 && i < len(gaps)-1 && g < interval/2 {
				t.Errorf("%s probed twice %s apart (at %s): two owners", s.Name, g.Round(time.Millisecond), ts[i].Format(time.StampMilli))
			}
			if g > worst {
				worst, worstDev = g, s.Name
			}
		}
	}
	// Dispatch windows may start a probe up to a second early; two intervals plus that is the
	// promise, whatever phase of its interval each device was at when c2 died.
	t.Logf("devices per collector before the kill %v; longest gap %s (%s) with c2 killed at +%s",
		owners, worst.Round(time.Millisecond), worstDev, killed.Sub(settled).Round(time.Millisecond))
	if worst > 2*interval+time.Second {
		t.Errorf("a device went %s without a probe, want at most two intervals (%s)", worst.Round(time.Millisecond), 2*interval)
	}
	cs, err := st.Collectors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "c1,c3" {
		t.Errorf("live collectors after the kill: %v, want c1,c3", ids)
	}
}

// startWardops runs this test binary as `wardops args...` with env added to the test's own, its
// output in dir/name.log (shown when the test fails), and stops it with SIGTERM at cleanup.
func startWardops(t *testing.T, dir, name string, args []string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "WARDOPS_TEST_MAIN=1"), env...)
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", name, b)
		}
	})
	return cmd
}

// importLoopbackFleet imports n ping-only devices named prefix-NN on 127.20.<third>.1…n, one
// branch, and returns what it imported: the fleet of the PostgreSQL outage tests, each on a /24 of
// its own.
func importLoopbackFleet(t *testing.T, st *store.Store, prefix string, third byte, n int) []model.ImportDevice {
	t.Helper()
	specs := make([]model.ImportDevice, n)
	for i := range specs {
		specs[i] = model.ImportDevice{Line: i + 2, Branch: "b", Name: fmt.Sprintf("%s-%02d", prefix, i),
			IP: netip.AddrFrom4([4]byte{127, 20, third, byte(i + 1)}).String(), Enabled: true, SNMPPort: 161}
	}
	if _, err := st.ImportInventory(context.Background(), nil, specs, false); err != nil {
		t.Fatal(err)
	}
	return specs
}

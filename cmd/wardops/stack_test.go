package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/dashboards"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/sim"
)

// stack is the whole deployment on loopback, as compose runs it: `wardops run` (collector and
// query service in one process, each with its own /metrics) probing a simulated fleet, a
// VictoriaMetrics single node it pushes to, and vmagent scraping both /metrics endpoints into
// that VictoriaMetrics under the job names the shipped scrape config uses.
type stack struct {
	vm           *testenv.VM
	fleet        *sim.Fleet
	collectorURL string // http://host:port of the collector's /metrics
	queryURL     string // http://host:port of the query service
	devices      []inventory.Row
	dark         []inventory.Row // every packet to them dropped
	rebooted     []inventory.Row // restarted by the simulator after the first polls
	started      time.Time
}

const (
	stackDevices  = 20
	stackBranches = 4
	stackInterval = 2 * time.Second // ping, SNMP and scrape interval: short, so a minute holds enough points
)

// startStack brings the stack up, darkens two devices, reboots one router once its uptime has
// been seen, and returns once every component answers.
func startStack(t *testing.T) *stack {
	t.Helper()
	vmagentBin := testenv.LookBinary(t, "vmagent", "victoria-metrics")
	st, dbURL := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()

	snmpPort := freeUDPPort(t)
	base := netip.MustParseAddr("127.21.190.1")
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: stackDevices, Branches: stackBranches, Base: base, SNMPPort: snmpPort, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	creds, devs, err := inventory.Build(doc, profiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportInventory(ctx, creds, devs, false); err != nil {
		t.Fatal(err)
	}
	addrs, err := sim.Range(base, stackDevices)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := sim.Start(sim.Options{Addrs: addrs, Port: snmpPort, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })

	s := &stack{vm: vm, fleet: fleet, devices: doc.Rows, started: time.Now()}
	// Devices past the routers (the first stackBranches rows): a switch and an ATM go dark.
	s.dark = []inventory.Row{doc.Rows[stackBranches], doc.Rows[stackBranches+1]}
	s.rebooted = []inventory.Row{doc.Rows[0]}
	for _, d := range s.dark {
		testenv.DropTraffic(t, d.IP, testenv.HookOutput)
	}

	dir := t.TempDir()
	collectorAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	queryAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.collectorURL, s.queryURL = "http://"+collectorAddr, "http://"+queryAddr
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env = append(os.Environ(), "WARDOPS_TEST_MAIN=1",
		"WARDOPS_DATABASE_URL="+dbURL, "WARDOPS_VM_URL="+vm.URL,
		"WARDOPS_LISTEN="+queryAddr, "WARDOPS_COLLECTOR_LISTEN="+collectorAddr,
		"WARDOPS_DATA_DIR="+filepath.Join(dir, "data"),
		"WARDOPS_PING_INTERVAL="+stackInterval.String(), "WARDOPS_PING_TIMEOUT=1s", "WARDOPS_PING_ECHO_INTERVAL=100ms",
		"WARDOPS_SNMP_INTERVAL="+stackInterval.String(), "WARDOPS_SNMP_TIMEOUT=500ms", "WARDOPS_SNMP_RETRIES=0",
		"WARDOPS_PUSH_INTERVAL=500ms", "WARDOPS_INVENTORY_RELOAD=5s", "WARDOPS_RATE_LIMIT=0")
	runLog := filepath.Join(dir, "run.log")
	startLogged(t, cmd, runLog)

	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
scrape_configs:
  - job_name: %[2]s
    static_configs: [{targets: [%[3]q]}]
  - job_name: %[4]s
    static_configs: [{targets: [%[5]q]}]
`, stackInterval, dashboards.JobCollector, collectorAddr, dashboards.JobQuery, queryAddr)
	cfgPath := filepath.Join(dir, "vmagent.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(vmagentBin, "-promscrape.config="+cfgPath, "-promscrape.config.strictParse",
		"-remoteWrite.url="+vm.URL+"/api/v1/write", "-remoteWrite.tmpDataPath="+filepath.Join(dir, "vmagent"),
		"-remoteWrite.flushInterval=500ms", "-loggerLevel=WARN",
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", testenv.FreePort(t)))
	startLogged(t, agent, filepath.Join(dir, "vmagent.log"))

	waitHTTP(t, s.queryURL+"/api/v1/health", runLog)
	waitHTTP(t, s.collectorURL+"/metrics", runLog)
	return s
}

// rebootAfterUptime restarts the rebooted devices once their uptime has reached VictoriaMetrics,
// so the next poll sees sysUpTime go back.
func (s *stack) rebootAfterUptime(t *testing.T) {
	t.Helper()
	for _, d := range s.rebooted {
		waitSeries(t, s.vm, fmt.Sprintf(`wardops_snmp_sysUpTime{device=%q}`, d.Name), 60*time.Second)
		if err := s.fleet.Reboot(netip.MustParseAddr(d.IP)); err != nil {
			t.Fatal(err)
		}
	}
}

// startLogged starts cmd with its output in logPath, kills it at cleanup and shows the log when
// the test failed.
func startLogged(t *testing.T, cmd *exec.Cmd, logPath string) {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", filepath.Base(logPath), tail(b, 4000))
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func waitHTTP(t *testing.T, url, logPath string) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not answer within 60 s: %v\n%s", url, err, tail(b, 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSeries waits until expr returns a series from VictoriaMetrics.
func waitSeries(t *testing.T, vm *testenv.VM, expr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := vm.Query(expr)
		if err == nil && len(r) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s returned nothing within %s (err %v)", expr, within, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fetchBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// TestStackOnLiveData runs the stack for about a minute and checks what an operator relies on:
// both /metrics pages pass promtool's checks, and every query of every shipped dashboard and
// template variable returns data from VictoriaMetrics.
func TestStackOnLiveData(t *testing.T) {
	promtool := testenv.LookBinary(t, "promtool", "prometheus")
	s := startStack(t)
	s.rebootAfterUptime(t)

	t.Run("promtool check metrics", func(t *testing.T) {
		for _, u := range []string{s.collectorURL + "/metrics", s.queryURL + "/metrics"} {
			body := fetchBody(t, u)
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(string(body))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics %s: %v\n%s", u, err, out)
			}
			for _, want := range []string{"# TYPE wardops_build_info gauge", `wardops_build_info{`, `goversion="go`} {
				if !strings.Contains(string(body), want) {
					t.Errorf("%s lacks %q", u, want)
				}
			}
		}
	})
}

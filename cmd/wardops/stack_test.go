package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metricsql"

	"github.com/wardops/wardops/dashboards"
	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/sim"
	"github.com/wardops/wardops/store"
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
	alerterURL   string // http://host:port of the alerter's /metrics
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
	// The store seals the simulator's community under the key the child processes get
	// (TestMain's), so the collector can open it.
	dbURL := testenv.Database(t)
	keys, err := seal.Parse(os.Getenv("WARDOPS_SECRET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 8, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	vm := testenv.VictoriaMetrics(t)

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
	alerterAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.collectorURL, s.queryURL, s.alerterURL = "http://"+collectorAddr, "http://"+queryAddr, "http://"+alerterAddr
	// Alertmanager's webhook goes nowhere that answers: the dashboards need only its acceptance.
	am := testenv.Alertmanager(t, fmt.Sprintf("http://127.0.0.1:%d/hook", testenv.FreePort(t)))
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env = append(os.Environ(), "WARDOPS_TEST_MAIN=1",
		"WARDOPS_DATABASE_URL="+dbURL, "WARDOPS_VM_URL="+vm.URL,
		"WARDOPS_LISTEN="+queryAddr, "WARDOPS_COLLECTOR_LISTEN="+collectorAddr, "WARDOPS_ALERTER_LISTEN="+alerterAddr,
		"WARDOPS_ALERTMANAGER_URL="+am.URL, "WARDOPS_ALERTMANAGER_GROUP_WAIT=1s", "WARDOPS_ALERT_EVAL_INTERVAL=2s",
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
  - job_name: %[6]s
    static_configs: [{targets: [%[7]q]}]
`, stackInterval, dashboards.JobCollector, collectorAddr, dashboards.JobQuery, queryAddr, dashboards.JobAlerter, alerterAddr)
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
	waitHTTP(t, s.alerterURL+"/metrics", runLog)
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

// checkDashboards runs every query of every dashboard against VictoriaMetrics with the Grafana
// variables replaced by values of the running fleet: range queries over the run, instant ones
// now, label_values variables through the label values API. Each must parse with metricsql and
// return at least one series (or value).
func (s *stack) checkDashboards(t *testing.T) {
	all, err := dashboards.All()
	if err != nil {
		t.Fatal(err)
	}
	dev := s.rebooted[0]
	ifNames := s.labelValues(t, fmt.Sprintf(`wardops_snmp_ifOperStatus{device=%q}`, dev.Name), "ifName")
	if len(ifNames) < 2 {
		t.Fatalf("device %s has interfaces %v, want two or more", dev.Name, ifNames)
	}
	elapsed := time.Since(s.started).Round(time.Second)
	vars := map[string]string{"region": ".*", "branch": dev.Branch, "device": dev.Name, "instance": ".*",
		"interface": strings.Join(ifNames[:2], "|"), "__range": fmt.Sprintf("%ds", int(elapsed.Seconds())),
		"__rate_interval": "20s", "__interval": "10s"}
	for name, d := range all {
		for _, q := range dashboards.Queries(d) {
			expr := dashboards.Concrete(q.Expr, vars)
			where := name + " / " + q.Where
			if _, err := metricsql.Parse(expr); err != nil {
				t.Errorf("%s: %q does not parse: %v", where, expr, err)
				continue
			}
			switch {
			case q.Label != "":
				if v := s.labelValues(t, expr, q.Label); len(v) == 0 {
					t.Errorf("%s: no values of %s for %s", where, q.Label, expr)
				}
			case q.Instant:
				if r, err := s.vm.Query(expr); err != nil || len(r) == 0 {
					t.Errorf("%s: instant %s returned nothing (err %v)", where, expr, err)
				}
			default:
				if n, err := s.queryRange(expr, s.started, time.Now()); err != nil || n == 0 {
					inst, ierr := s.vm.Query(expr)
					t.Errorf("%s: range %s returned nothing (err %v; instant now: %v %v)", where, expr, err, inst, ierr)
				}
			}
		}
	}
}

// labelValues asks VictoriaMetrics for label's values among the series matching selector, as
// Grafana does for a label_values() variable.
func (s *stack) labelValues(t *testing.T, selector, label string) []string {
	t.Helper()
	u := s.vm.URL + "/api/v1/label/" + label + "/values?" + url.Values{"match[]": {selector},
		"start": {fmt.Sprint(s.started.Add(-time.Minute).Unix())}}.Encode()
	var r struct{ Data []string }
	if err := json.Unmarshal(fetchBody(t, u), &r); err != nil {
		t.Fatal(err)
	}
	return r.Data
}

// queryRange runs expr over [from, to] at a 5 s step and returns how many series came back.
func (s *stack) queryRange(expr string, from, to time.Time) (int, error) {
	u := s.vm.URL + "/api/v1/query_range?" + url.Values{"query": {expr}, "start": {fmt.Sprint(from.Unix())},
		"end": {fmt.Sprint(to.Unix())}, "step": {"5s"}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct{ Result []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s", r.Error)
	}
	return len(r.Data.Result), nil
}

// TestStackOnLiveData runs the stack for about a minute and checks what an operator relies on:
// both /metrics pages pass promtool's checks, and every query of every shipped dashboard and
// template variable returns data from VictoriaMetrics.
func TestStackOnLiveData(t *testing.T) {
	promtool := testenv.LookBinary(t, "promtool", "prometheus")
	s := startStack(t)
	s.rebootAfterUptime(t)
	// VictoriaMetrics range queries end 30 s before now (-search.latencyOffset); give every window and
	// the reboot's poll time to land behind it.
	waitSeries(t, s.vm, fmt.Sprintf(`%s{device=%q} == 1`, model.MetricSNMPRebootDetected, s.rebooted[0].Name), 90*time.Second)
	time.Sleep(35 * time.Second)

	t.Run("promtool check metrics", func(t *testing.T) {
		for _, u := range []string{s.collectorURL + "/metrics", s.queryURL + "/metrics", s.alerterURL + "/metrics"} {
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

	t.Run("every dashboard query returns data", s.checkDashboards)
}

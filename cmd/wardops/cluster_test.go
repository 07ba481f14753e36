package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardops/wardops/alerting"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// tenantPaths is an HTTP front that records each request's path and forwards those under
// /<role>/<tenant>/prometheus to a single-node VictoriaMetrics with that prefix stripped, which is
// what vminsert and vmselect do for their tenant before storing or searching. It stands in for
// them only because the cluster binaries are not packaged for Debian nor served as Go modules
// here; the storage behind it and everything in front of it are real.
type tenantPaths struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths map[string]int // path (prefix kept) → requests
	bad   []string       // paths outside /<role>/<tenant>/prometheus/api/v1/...
}

func newTenantPaths(t *testing.T, role, vmURL string) *tenantPaths {
	re := regexp.MustCompile(`^/` + role + `/([0-9]+(?::[0-9]+)?)/prometheus(/api/v1/.+)$`)
	target, err := url.Parse(vmURL)
	if err != nil {
		t.Fatal(err)
	}
	f := &tenantPaths{paths: map[string]int{}}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.URL.Path = re.FindStringSubmatch(r.In.URL.Path)[2]
		r.Out.URL.RawPath = ""
	}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := re.MatchString(r.URL.Path)
		if ok {
			f.paths[r.URL.Path]++
		} else {
			f.bad = append(f.bad, r.URL.Path)
		}
		f.mu.Unlock()
		if !ok {
			http.Error(w, "unsupported path "+r.URL.Path, http.StatusBadRequest)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *tenantPaths) seen() (paths []string, bad []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, n := range f.paths {
		paths = append(paths, fmt.Sprintf("%s ×%d", p, n))
	}
	sort.Strings(paths)
	return paths, append([]string(nil), f.bad...)
}

// TestRunAgainstClusterPaths runs `wardops run` with cluster URLs of tenant 5:7: writes to a
// real vmagent at .../insert/5:7/prometheus (the vminsert path layout; vmagent takes it when
// given -remoteWrite.multitenantURL), which forwards them by remote write to two tenant fronts,
// each before a real single-node VictoriaMetrics (vmagent 1.79 has no -remoteWrite.shardByURL,
// so the two receive copies rather than shards); reads from .../select/5:7/prometheus through a
// recording front before the first of them. It shows the tenant survives the whole write path,
// the samples land in both nodes, and every query the query service and the alerter send
// carries the select prefix and reads those samples back.
func TestRunAgainstClusterPaths(t *testing.T) {
	t.Parallel()
	const tenant = "5:7"
	const devices = 4
	const interval = 2 * time.Second
	st, dbURL := testenv.Store(t)
	vmA, vmB := testenv.VictoriaMetrics(t), testenv.VictoriaMetrics(t)
	insertA, insertB := newTenantPaths(t, "insert", vmA.URL), newTenantPaths(t, "insert", vmB.URL)
	selectA := newTenantPaths(t, "select", vmA.URL)
	agent := testenv.StartVMAgent(t, "-remoteWrite.multitenantURL="+insertA.srv.URL, "-remoteWrite.multitenantURL="+insertB.srv.URL,
		"-remoteWrite.flushInterval=200ms")
	ctx := context.Background()
	specs := make([]model.ImportDevice, devices)
	for i := range specs {
		specs[i] = model.ImportDevice{Line: i + 2, Branch: "b", Name: fmt.Sprintf("tenant-%02d", i),
			IP: netip.AddrFrom4([4]byte{127, 20, 218, byte(i + 1)}).String(), Enabled: true, SNMPPort: 161}
	}
	if _, err := st.ImportInventory(ctx, nil, specs, false); err != nil {
		t.Fatal(err)
	}
	devs, err := st.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A threshold rule makes the alerter query VictoriaMetrics too, through the same select path.
	threshold := 0.5
	rule := model.Rule{Name: "cluster_read", Kind: model.RuleExpr, Expr: model.MetricPingUp, Comparison: "<", Threshold: &threshold,
		Severity: "info", ScopeKind: model.ScopeAll, Enabled: true}
	if err := alerting.ValidateRule(rule); err != nil {
		t.Fatal(err)
	}
	ruleID, err := st.CreateAlertRule(ctx, rule)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	collector := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	writeURL := agent.URL + "/insert/" + tenant + "/prometheus"
	readURL := selectA.srv.URL + "/select/" + tenant + "/prometheus"
	startWardops(t, dir, "run", []string{"run"}, "WARDOPS_DATABASE_URL="+dbURL, "WARDOPS_VM_URL="+writeURL,
		"WARDOPS_VM_QUERY_URL="+readURL, "WARDOPS_LISTEN="+listen, "WARDOPS_COLLECTOR_LISTEN="+collector,
		fmt.Sprintf("WARDOPS_ALERTER_LISTEN=127.0.0.1:%d", testenv.FreePort(t)), "WARDOPS_DATA_DIR="+filepath.Join(dir, "data"),
		"WARDOPS_PING_INTERVAL="+interval.String(), "WARDOPS_PING_TIMEOUT=500ms", "WARDOPS_PING_ECHO_INTERVAL=100ms",
		"WARDOPS_PUSH_INTERVAL=200ms", "WARDOPS_ALERT_EVAL_INTERVAL=1s")

	// Every device's ping_up lands in both nodes, through vmagent and the tenant fronts.
	for name, vm := range map[string]*testenv.VM{"A": vmA, "B": vmB} {
		testenv.WaitFor(t, 60*time.Second, "ping_up of every device in VictoriaMetrics "+name, func() (bool, string) {
			res, err := vm.Query(`count(` + model.MetricPingUp + `)`)
			if err != nil || len(res) != 1 {
				return false, fmt.Sprintf("%v %v", res, err)
			}
			return res[0].Value == devices, fmt.Sprintf("%v series", res[0].Value)
		})
	}
	m := scrapeFamilies("http://" + collector + "/metrics")
	if m["wardops_collector_push_sent_blocks_total"] == 0 || m["wardops_collector_push_errors_total"] != 0 {
		t.Errorf("collector pushes to vmagent: %v blocks accepted, %v errors", m["wardops_collector_push_sent_blocks_total"],
			m["wardops_collector_push_errors_total"])
	}

	// Reads: a device's ping series (query_range) and its detail page (an instant query for
	// SNMP coverage), both answered from node A through the select front.
	var series struct {
		Series []struct {
			Points [][2]any `json:"points"`
		} `json:"series"`
	}
	testenv.WaitFor(t, 30*time.Second, "ping_up read back through the query service", func() (bool, string) {
		code := getJSON(fmt.Sprintf("http://%s/api/v1/devices/%d/metrics?item=ping_up&step=1s", listen, devs[0].ID), &series)
		return code == 200 && len(series.Series) == 1, fmt.Sprintf("status %d, %d series", code, len(series.Series))
	})
	var detail json.RawMessage
	if code := getJSON(fmt.Sprintf("http://%s/api/v1/devices/%d", listen, devs[0].ID), &detail); code != 200 {
		t.Fatalf("device detail: status %d: %s", code, detail)
	}
	if strings.Contains(string(detail), "cannot query VictoriaMetrics") {
		t.Errorf("device detail could not query VictoriaMetrics through vmselect's path: %s", detail)
	}

	testenv.WaitFor(t, 30*time.Second, "the alerter's threshold rule evaluated from VictoriaMetrics", func() (bool, string) {
		r, err := st.AlertRule(ctx, ruleID)
		return err == nil && r.LastEvalState == "ok", fmt.Sprintf("state %q %q, err %v", r.LastEvalState, r.LastError, err)
	})

	for name, f := range map[string]*tenantPaths{"insert front A": insertA, "insert front B": insertB, "select front": selectA} {
		paths, bad := f.seen()
		t.Logf("%s: %v", name, paths)
		if len(bad) > 0 || len(paths) == 0 {
			t.Errorf("%s: requests outside /<role>/%s/prometheus/api/v1/...: %v (good: %v)", name, tenant, bad, paths)
		}
		for _, p := range paths {
			if !strings.Contains(p, "/"+tenant+"/") {
				t.Errorf("%s: %s names another tenant than %s", name, p, tenant)
			}
		}
	}
	paths, _ := selectA.seen()
	var ranges, instants bool
	for _, p := range paths {
		ranges = ranges || strings.HasPrefix(p, "/select/"+tenant+"/prometheus/api/v1/query_range ")
		instants = instants || strings.HasPrefix(p, "/select/"+tenant+"/prometheus/api/v1/query ")
	}
	if !ranges || !instants {
		t.Errorf("the query service's reads through vmselect's path: %v; want query_range and query", paths)
	}
	t.Logf("collector → vmagent %s (%v blocks accepted) → remote write to 2 single nodes; ping_up of %d devices in each; query service read %d series back",
		writeURL, m["wardops_collector_push_sent_blocks_total"], devices, len(series.Series))
}

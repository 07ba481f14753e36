package query

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RequireReadToken = true })
	e.seedInventory(1, 1, nil)
	r, w, a := e.token("reader", "read"), e.token("writer", "write"), e.token("admin", "admin")
	revoked := e.token("old", "admin")
	if err := e.st.RevokeToken(context.Background(), "old"); err != nil {
		t.Fatal(err)
	}
	body := `{"name":"b-new"}`
	tests := []struct {
		name, method, path, token string
		body                      any
		code                      int
	}{
		{"read without token", "GET", "/api/v1/devices", "", nil, 401},
		{"read with garbage", "GET", "/api/v1/devices", "nope", nil, 401},
		{"read with revoked", "GET", "/api/v1/devices", revoked, nil, 401},
		{"read with read", "GET", "/api/v1/devices", r, nil, 200},
		{"dashboard with read", "GET", "/api/v1/dashboard", r, nil, 200},
		{"health is open", "GET", "/api/v1/health", "", nil, 200},
		{"page is open", "GET", "/", "", nil, 200},
		{"write without token", "POST", "/api/v1/branches", "", body, 401},
		{"write with read", "POST", "/api/v1/branches", r, body, 403},
		{"write with write", "POST", "/api/v1/branches", w, body, 201},
		{"write with admin", "DELETE", "/api/v1/branches/2", a, nil, 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code := e.do(tc.method, tc.path, tc.token, tc.body, nil); code != tc.code {
				t.Fatalf("%d, want %d", code, tc.code)
			}
		})
	}
}

// TestWritesAndSecrets creates, reads, updates and deletes through the API; the SNMP community
// given never comes back from any endpoint.
func TestWritesAndSecrets(t *testing.T) {
	e := newEnv(t, nil)
	e.seedInventory(1, 2, nil)
	w := e.token("writer", "write")
	const secret = "very-secret-community-42"
	var br branchView
	if code := e.do("POST", "/api/v1/branches", w, map[string]any{"name": "თბილისი \"HQ\", 1", "region": "east"}, &br); code != 201 {
		t.Fatalf("create branch: %d", code)
	}
	var dev deviceDetail
	code := e.do("POST", "/api/v1/devices", w, map[string]any{"name": "new-dev", "ip": "127.20.50.1", "branch_id": br.ID,
		"snmp": map[string]any{"version": "2c", "community": secret}, "snmp_profiles": []string{"system"}, "ping_interval_seconds": 60}, &dev)
	if code != 201 || dev.ID == 0 || dev.Branch != br.Name || dev.PingIntervalSeconds != 60 {
		t.Fatalf("create device: %d %+v", code, dev)
	}
	items, err := e.st.DeviceItems(context.Background(), dev.ID)
	if err != nil || len(items) != 2 {
		t.Fatalf("profile items: %v %+v", err, items)
	}
	// The write invalidates the snapshot: the next list shows the device at once.
	var l listResp
	e.get("/api/v1/devices?q=new-dev", &l)
	if l.Total != 1 || l.Items[0].Status != statusUnknown {
		t.Fatalf("new device in list: %+v", l)
	}
	if code := e.do("PATCH", "/api/v1/devices/"+itoa(dev.ID), w, map[string]any{"vendor": "juniper", "enabled": false, "snmp_profiles": []string{}}, &dev); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	if dev.Vendor != "juniper" || dev.Enabled || dev.Name != "new-dev" || dev.Status != statusDisabled {
		t.Fatalf("after patch: %+v", dev)
	}
	if items, _ := e.st.DeviceItems(context.Background(), dev.ID); len(items) != 0 {
		t.Fatalf("profile items after clearing profiles: %+v", items)
	}
	if err := e.st.SetDeviceEnabled(context.Background(), dev.ID, true); err != nil { // the fleet has enabled devices only
		t.Fatal(err)
	}
	if got := fleetCommunity(t, e, dev.ID); got != secret {
		t.Fatalf("community not kept through a patch: %q", got)
	}
	for _, path := range []string{"/api/v1/devices/" + itoa(dev.ID), "/api/v1/devices?limit=5000", "/api/v1/dashboard",
		"/api/v1/branches", "/metrics", "/api/v1/devices/" + itoa(dev.ID) + "/ping-history"} {
		resp, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), secret) || strings.Contains(string(b), "sekret-community") {
			t.Errorf("%s returns an SNMP community", path)
		}
	}
	if code := e.do("DELETE", "/api/v1/devices/"+itoa(dev.ID), w, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := e.get("/api/v1/devices/"+itoa(dev.ID), nil); code != 404 {
		t.Fatalf("deleted device: %d", code)
	}
	if code := e.do("DELETE", "/api/v1/branches/"+itoa(br.ID), w, nil, nil); code != 204 {
		t.Fatalf("delete emptied branch: %d", code)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RateLimit, o.RateLimitLoopback = 0.5, true })
	// Burst 1 at one token per 2 s: the second request within two seconds is refused.
	if code := e.get("/api/v1/health", nil); code == 429 {
		t.Fatalf("first request limited")
	}
	if code := e.get("/api/v1/health", nil); code != 429 {
		t.Fatalf("second request: %d, want 429", code)
	}
	e2 := newEnv(t, func(o *Options) { o.RateLimit = 0.5 })
	for i := 0; i < 5; i++ {
		if code := e2.get("/api/v1/health", nil); code == 429 {
			t.Fatalf("loopback limited although RateLimitLocal is off")
		}
	}
}

// TestPostgresDown closes the pool (a real failure of every later query): the dashboard keeps
// answering from the cached inventory with live state from VictoriaMetrics, and health says so.
func TestPostgresDown(t *testing.T) {
	e := newEnv(t, nil)
	devs, tr := seedScenario(e)
	checkAgainstTruth(t, e, devs, tr, sourcePostgres)
	e.st.Close()
	time.Sleep(2 * e.opts.CacheTTL)
	var d struct {
		dashResp
		InventoryStale bool `json:"inventory_stale"`
	}
	eventually(t, "a snapshot built with PostgreSQL down", func() bool {
		return e.get("/api/v1/dashboard", &d) == 200 && d.InventoryStale
	})
	if d.Totals.Devices != len(devs) || d.Source != sourceVM || !d.Degraded {
		t.Fatalf("dashboard with PostgreSQL down: %+v", d)
	}
	var h healthBody
	if code := e.get("/api/v1/health", &h); code != 503 || h.Database != "unreachable" {
		t.Fatalf("health: %d %+v", code, h)
	}
	var l listResp
	if code := e.get("/api/v1/devices?status=up", &l); code != 200 || l.Total == 0 {
		t.Fatalf("list with PostgreSQL down: %d %+v", code, l)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 2, nil)
	now := time.Now().UTC().Truncate(time.Second)
	// VictoriaMetrics' query_range needs two samples to find the interval, and shows points of the
	// last -search.latencyOffset with the previous value whatever nocache says: hence -90 s and -60 s.
	e.seedProbes(map[fleetDev][]probe{devs[0]: {{at: now.Add(-90 * time.Second), up: true, rtt: 3},
		{at: now.Add(-60 * time.Second), up: true, rtt: 3}, {at: now.Add(-3 * time.Second), up: true, rtt: 3}}})
	var h healthBody
	if code := e.get("/api/v1/health", &h); code != 200 || h.Status != "healthy" || h.NewestSample == nil || !h.NewestSample.Equal(now.Add(-3*time.Second)) {
		t.Fatalf("health: %d %+v", code, h)
	}
	for i := 0; i < 3; i++ {
		e.get("/api/v1/dashboard", nil)
	}
	e.get("/api/v1/devices/"+itoa(devs[0].ID)+"/metrics?item=ping_rtt_seconds", nil)
	resp, err := http.Get(e.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wardops_query_http_requests_total{code="200",method="GET",route="/api/v1/dashboard"} 3`,
		`wardops_query_http_request_duration_seconds_bucket{code="200",method="GET",route="/api/v1/devices/:id/metrics"`,
		`wardops_query_backend_duration_seconds_count{backend="victoriametrics",op="query"}`,
		`wardops_query_backend_duration_seconds_count{backend="victoriametrics",op="query_range"} 1`,
		`wardops_query_backend_errors_total{backend="postgres",op="inventory"} 0`,
		`wardops_query_cache_requests_total{result="hit"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var m struct {
		Series []seriesView `json:"series"`
	}
	if code := e.get("/api/v1/devices/"+itoa(devs[0].ID)+"/metrics?item=ping_rtt_seconds&step=15s&from="+itoa(now.Add(-2*time.Minute).Unix()), &m); code != 200 || len(m.Series) != 1 || len(m.Series[0].Points) == 0 || m.Series[0].Points[0][1] != 0.003 {
		t.Fatalf("metrics: %d %+v", code, m)
	}
}

func TestOpenAlerts(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 3, nil)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	if _, err := e.st.FireAlert(ctx, devs[0].ID, "device down", "critical", "no echo reply", t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.FireAlert(ctx, devs[1].ID, "high rtt", "warning", "rtt 300 ms", t0); err != nil {
		t.Fatal(err)
	}
	var d struct {
		Alerts struct {
			Total int         `json:"total"`
			Items []alertView `json:"items"`
		} `json:"alerts"`
	}
	e.get("/api/v1/dashboard", &d)
	if d.Alerts.Total != 2 || len(d.Alerts.Items) != 2 || d.Alerts.Items[0].Rule != "high rtt" || d.Alerts.Items[1].Device != devs[0].Name {
		t.Fatalf("dashboard alerts: %+v", d.Alerts)
	}
	var dev deviceDetail
	e.get("/api/v1/devices/"+itoa(devs[0].ID), &dev)
	if len(dev.Alerts) != 1 || dev.Alerts[0].Severity != "critical" || !dev.Alerts[0].FiredAt.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("device alerts: %+v", dev.Alerts)
	}
}

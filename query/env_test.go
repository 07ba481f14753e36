package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// env is one test's real PostgreSQL database, real VictoriaMetrics and the query service on
// httptest.
type env struct {
	t    *testing.T
	st   *store.Store
	vm   *testenv.VM
	srv  *Server
	ts   *httptest.Server
	opts Options
	db   string // the test database's URL, for tests that look at tables the API does not show
}

func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	st, db := testenv.Store(t)
	vm := testenv.VictoriaMetrics(t)
	o := Options{VMQueryURL: vm.URL, PingInterval: 30 * time.Second, CacheTTL: 100 * time.Millisecond, CacheBuildShare: 0.1, Listen: "127.0.0.1:0",
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Version: "test", Profiles: testExpander, Targets: model.TargetPolicy{Deny: config.Defaults().ProbeDeny}}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &env{t: t, st: st, vm: vm, srv: srv, ts: ts, opts: o, db: db}
}

// testExpander stands in for the importer's profiles: one profile, "system", with two items.
func testExpander(names []string) ([]model.ItemTemplate, error) {
	var out []model.ItemTemplate
	for _, n := range names {
		if n != "system" {
			return nil, fmt.Errorf("unknown SNMP profile %q", n)
		}
		out = append(out, model.ItemTemplate{Name: "sysUpTime", OID: "1.3.6.1.2.1.1.3.0", Kind: "scalar", ValueType: "gauge", Profile: "system"},
			model.ItemTemplate{Name: "sysName", OID: "1.3.6.1.2.1.1.5.0", Kind: "scalar", ValueType: "info", Profile: "system"})
	}
	return out, nil
}

// fleetDev is one seeded device and its known truth.
type fleetDev struct {
	ID      int64
	Name    string
	IP      string
	Branch  string
	Region  string
	Enabled bool
}

// seedInventory imports branches×perBranch devices on 127.20.b.d; devices listed in disabled
// (by index) are imported disabled. Returns devices in id order.
func (e *env) seedInventory(branches, perBranch int, disabled map[int]bool) []fleetDev {
	e.t.Helper()
	var specs []model.ImportDevice
	n := 0
	for b := 0; b < branches; b++ {
		for d := 0; d < perBranch; d++ {
			specs = append(specs, model.ImportDevice{Line: n + 2, Branch: fmt.Sprintf("branch-%02d", b), Region: fmt.Sprintf("region-%d", b%2),
				Name: fmt.Sprintf("dev-%02d-%02d", b, d), IP: fmt.Sprintf("127.20.%d.%d", b, d+1), Vendor: []string{"cisco", "mikrotik"}[d%2],
				DeviceType: "router", Enabled: !disabled[n], SNMPVersion: "2c", SNMPCommunity: "sekret-community", SNMPPort: 161})
			n++
		}
	}
	if _, err := e.st.ImportInventory(context.Background(), nil, specs, false); err != nil {
		e.t.Fatal(err)
	}
	devs, err := e.st.ListDeviceSummaries(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]fleetDev, len(devs))
	for i, d := range devs {
		out[i] = fleetDev{ID: d.ID, Name: d.Name, IP: d.IP.String(), Branch: d.Branch, Region: d.Region, Enabled: d.Enabled}
	}
	return out
}

// probe is one seeded probe result.
type probe struct {
	at  time.Time
	up  bool
	rtt float64 // ms
}

// seedProbes writes the same probes to VictoriaMetrics (Prometheus text with timestamps, as the
// collector pushes them) and to ping_results, then makes VictoriaMetrics searchable at once.
func (e *env) seedProbes(probes map[fleetDev][]probe) {
	e.t.Helper()
	var buf bytes.Buffer
	var rows []model.PingResult
	for d, ps := range probes {
		labels := fmt.Sprintf(`device_id="%d",device="%s",ip="%s",branch="%s",region="%s",vendor="v"`, d.ID, d.Name, d.IP, d.Branch, d.Region)
		for _, p := range ps {
			ms := p.at.UnixMilli()
			up, loss := 0, 1.0
			r := model.PingResult{DeviceID: d.ID, DeviceIP: netip.MustParseAddr(d.IP), Timestamp: p.at, IsReachable: p.up,
				PacketLoss: 1, Sent: 3}
			if p.up {
				up, loss = 1, 0
				rtt := p.rtt
				r.RTTAvgMs, r.RTTMinMs, r.RTTMaxMs, r.PacketLoss, r.Received = &rtt, &rtt, &rtt, 0, 3
				fmt.Fprintf(&buf, "wardops_ping_rtt_seconds{%s} %g %d\n", labels, p.rtt/1000, ms)
			}
			fmt.Fprintf(&buf, "wardops_ping_up{%s} %d %d\n", labels, up, ms)
			fmt.Fprintf(&buf, "wardops_ping_loss_ratio{%s} %g %d\n", labels, loss, ms)
			rows = append(rows, r)
		}
	}
	if err := e.st.InsertPingResults(context.Background(), rows); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(e.vm.URL+"/api/v1/import/prometheus", "text/plain", &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("VictoriaMetrics import: %s", resp.Status)
	}
	resp, err = http.Get(e.vm.URL + "/internal/force_flush")
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
}

// get fetches path and decodes the JSON answer into out (when not nil), returning the status.
func (e *env) get(path string, out any) int {
	e.t.Helper()
	return e.do("GET", path, "", nil, out)
}

func (e *env) do(method, path, token string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// token creates a token of scope and returns its secret.
func (e *env) token(name, scope string) string {
	e.t.Helper()
	sec, err := NewToken()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateToken(context.Background(), name, scope, HashToken(sec)); err != nil {
		e.t.Fatal(err)
	}
	return sec
}

// eventually polls cond every 50 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func strconvFormat(n int64) string { return fmt.Sprint(n) }

// hidePings renames ping_results away, so that every read of it fails with PostgreSQL's own
// error while the inventory and alerts still read: the live state must then come from
// VictoriaMetrics. The returned func puts the table back.
func (e *env) hidePings() (restore func()) {
	e.t.Helper()
	e.exec(`ALTER TABLE ping_results RENAME TO ping_results_hidden`)
	return func() { e.exec(`ALTER TABLE ping_results_hidden RENAME TO ping_results`) }
}

// lockPings holds an ACCESS EXCLUSIVE lock on ping_results in an open transaction until the
// returned func ends it: every read of the table then waits, as behind a stuck migration or a
// hung server, while the inventory still reads.
func (e *env) lockPings() (release func()) {
	e.t.Helper()
	ctx := context.Background()
	c := e.conn()
	tx, err := c.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, `LOCK TABLE ping_results IN ACCESS EXCLUSIVE MODE`)
	}
	if err != nil {
		c.Close(ctx)
		e.t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			c.Close(ctx)
		})
	}
	e.t.Cleanup(release)
	return release
}

// exec runs one statement on the test database.
func (e *env) exec(q string) {
	e.t.Helper()
	ctx := context.Background()
	c := e.conn()
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, q); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

// conn is a connection of its own to the test database, for the tests that reach past the API;
// the caller closes it.
func (e *env) conn() *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

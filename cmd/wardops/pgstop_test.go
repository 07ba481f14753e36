package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/store"
)

// pgStopOutage is how long TestRunSurvivesPostgresStopped keeps PostgreSQL down: long enough for
// every retry and backoff to reach its cap, and for pooled connections to have been given up.
const pgStopOutage = 3 * time.Minute

// TestRunSurvivesPostgresStopped stops PostgreSQL (a private cluster: the shared one serves the
// other tests, and this one runs beside them) for three minutes under `wardops run`. Every part
// must keep running and recover by itself when the server returns: the query service answers
// healthy and undegraded, the alerter leads and evaluates again, and the collector delivers the
// rows it produced meanwhile. The rows are counted exactly: what the collector's probes produced
// (its own counter) against what ping_results holds, so a lost row cannot hide in a gap.
func TestRunSurvivesPostgresStopped(t *testing.T) {
	t.Parallel()
	testenv.LookBinary(t, "victoria-metrics", "victoria-metrics")
	pg := testenv.PrivatePostgres(t)
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()
	const devices = 12
	const interval = 2 * time.Second
	st, err := store.Open(ctx, store.Options{URL: pg.URL, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	importLoopbackFleet(t, st, "stopped", 216, devices)
	st.Close()

	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	alerter := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	collector := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	proc := startWardops(t, dir, "run", []string{"run"}, "WARDOPS_DATABASE_URL="+pg.URL, "WARDOPS_VM_URL="+vm.URL,
		"WARDOPS_LISTEN="+listen, "WARDOPS_ALERTER_LISTEN="+alerter, "WARDOPS_COLLECTOR_LISTEN="+collector,
		"WARDOPS_DATA_DIR="+filepath.Join(dir, "data"), "WARDOPS_PING_INTERVAL="+interval.String(),
		"WARDOPS_PING_TIMEOUT=500ms", "WARDOPS_PING_ECHO_INTERVAL=100ms", "WARDOPS_DB_CONNECT_TIMEOUT=2s")

	queryOK := func() (bool, string) {
		var h struct {
			Status string `json:"status"`
		}
		var d struct {
			Degraded bool `json:"degraded"`
		}
		hc, dc := getJSON("http://"+listen+"/api/v1/health", &h), getJSON("http://"+listen+"/api/v1/dashboard", &d)
		return hc == 200 && h.Status == "healthy" && dc == 200 && !d.Degraded,
			fmt.Sprintf("health %d %q, dashboard %d degraded=%v", hc, h.Status, dc, d.Degraded)
	}
	// The alerter evaluates when it leads and its down detection reads ping_results again.
	evaluating := func(since float64) func() (bool, string) {
		return func() (bool, string) {
			m := scrapeFamilies("http://" + alerter + "/metrics")
			return m["wardops_alerting_leader"] == 1 && m["wardops_alerting_probes_read_total"] > since,
				fmt.Sprintf("leader %v, probes read %v (before: %v)", m["wardops_alerting_leader"], m["wardops_alerting_probes_read_total"], since)
		}
	}
	// The collector has delivered everything when every row its probes produced was written.
	delivered := func() (bool, string) {
		m := scrapeFamilies("http://" + collector + "/metrics")
		rows, written := m["wardops_collector_ping_results_rows_total"], m["wardops_collector_ping_results_written_total"]
		return rows > 0 && rows == written && m["wardops_collector_ping_results_queue_blocks"] == 0,
			fmt.Sprintf("rows %v, written %v, queued blocks %v", rows, written, m["wardops_collector_ping_results_queue_blocks"])
	}
	testenv.WaitFor(t, 60*time.Second, "query service up", queryOK)
	testenv.WaitFor(t, 60*time.Second, "alerter evaluating", evaluating(0))
	testenv.WaitFor(t, 60*time.Second, "collector delivering", delivered)
	time.Sleep(2 * interval)

	pg.Stop()
	stopped := time.Now()
	// Every part keeps running through the outage: the process stays up and the query service
	// goes on answering (degraded, from what it can still reach).
	polls, answered := 0, 0
	for time.Since(stopped) < pgStopOutage {
		if proc.ProcessState != nil {
			t.Fatalf("wardops run exited during the outage: %v", proc.ProcessState)
		}
		var h struct{}
		polls++
		if getJSON("http://"+listen+"/api/v1/health", &h) != 0 {
			answered++
		}
		time.Sleep(5 * time.Second)
	}
	before := scrapeFamilies("http://" + collector + "/metrics")
	probesRead := scrapeFamilies("http://" + alerter + "/metrics")["wardops_alerting_probes_read_total"]
	pg.Start()
	back := time.Now()
	outage := back.Sub(stopped)

	// Each part is timed from the server's return, polled at once, so none waits behind another.
	type part struct {
		name string
		cond func() (bool, string)
		took time.Duration
	}
	parts := []*part{{name: "query service healthy, dashboard undegraded", cond: queryOK},
		{name: "alerter leading and evaluating", cond: evaluating(probesRead)}, {name: "collector rows all written", cond: delivered}}
	deadline := back.Add(2 * time.Minute)
	for pending := len(parts); pending > 0; time.Sleep(100 * time.Millisecond) {
		pending = 0
		for _, p := range parts {
			if p.took > 0 {
				continue
			}
			if ok, _ := p.cond(); ok {
				p.took = time.Since(back)
				continue
			}
			pending++
		}
		if time.Now().After(deadline) {
			for _, p := range parts {
				if p.took == 0 {
					_, why := p.cond()
					t.Errorf("%s: not recovered 2 minutes after PostgreSQL returned: %s", p.name, why)
				}
			}
			t.FailNow()
		}
	}

	// Rows are counted while no probe is producing: the collector's counters must not move
	// across the count, or it is repeated.
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var expected, found, unique float64
	for try := 0; ; try++ {
		a := scrapeFamilies("http://" + collector + "/metrics")
		var n, u int64
		err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (device_id, "timestamp")) FROM ping_results`).Scan(&n, &u)
		if err != nil {
			t.Fatal(err)
		}
		b := scrapeFamilies("http://" + collector + "/metrics")
		rows := a["wardops_collector_ping_results_rows_total"]
		if rows == a["wardops_collector_ping_results_written_total"] && rows == b["wardops_collector_ping_results_rows_total"] &&
			rows == b["wardops_collector_ping_results_written_total"] {
			expected, found, unique = rows, float64(n), float64(u)
			break
		}
		if try > 200 {
			t.Fatalf("the collector never stood still long enough to count its rows: %v vs %v", a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	during := before["wardops_collector_ping_results_rows_total"] - before["wardops_collector_ping_results_written_total"]
	t.Logf("PostgreSQL stopped for %s; %d/%d health polls answered during the outage; %v rows produced during it were waiting",
		outage.Round(time.Millisecond), answered, polls, during)
	for _, p := range parts {
		t.Logf("recovered %s after PostgreSQL returned: %s", p.took.Round(time.Millisecond), p.name)
	}
	t.Logf("ping_results rows expected %v (the collector's probes), found %v (%v distinct), lost %v, duplicated %v",
		expected, found, unique, expected-unique, found-unique)
	if unique != expected {
		t.Errorf("ping_results holds %v distinct rows, the probes produced %v: %v lost", unique, expected, expected-unique)
	}
	if during < float64(devices)*pgStopOutage.Seconds()/interval.Seconds()*0.9 {
		t.Errorf("only %v rows were waiting at the end of the outage: the collector did not go on probing", during)
	}
}

// scrapeFamilies reads a /metrics page into the sum of each family's samples (all label sets);
// nil on error, so every value reads 0.
func scrapeFamilies(url string) map[string]float64 {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, ok = strings.Cut(line[strings.LastIndexByte(line, '}')+1:], " ")
		}
		var f float64
		if _, err := fmt.Sscan(rest, &f); ok && err == nil {
			out[name] += f
		}
	}
	return out
}

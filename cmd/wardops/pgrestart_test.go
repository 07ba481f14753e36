package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/store"
)

// TestRunSurvivesPostgresRestart restarts PostgreSQL (a private cluster: the shared one serves
// the other tests) under `wardops run` and checks that every part recovers by itself: the query
// service answers healthy and undegraded again, the alerter leads again, the collector's rows
// written during the outage arrive, and ping_results has no gap longer than one and a half
// intervals for any device across it.
func TestRunSurvivesPostgresRestart(t *testing.T) {
	testenv.LookBinary(t, "victoria-metrics", "victoria-metrics")
	pg := testenv.PrivatePostgres(t)
	vm := testenv.VictoriaMetrics(t)
	ctx := context.Background()
	const devices = 12
	const interval = 2 * time.Second
	open := func() *store.Store {
		st, err := store.Open(ctx, store.Options{URL: pg.URL, ConnectTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	specs := importLoopbackFleet(t, st, "restart", 215, devices)
	st.Close()

	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	alerter := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startWardops(t, dir, "run", []string{"run"}, "WARDOPS_DATABASE_URL="+pg.URL, "WARDOPS_VM_URL="+vm.URL,
		"WARDOPS_LISTEN="+listen, "WARDOPS_ALERTER_LISTEN="+alerter,
		fmt.Sprintf("WARDOPS_COLLECTOR_LISTEN=127.0.0.1:%d", testenv.FreePort(t)), "WARDOPS_DATA_DIR="+filepath.Join(dir, "data"),
		"WARDOPS_PING_INTERVAL="+interval.String(), "WARDOPS_PING_TIMEOUT=500ms", "WARDOPS_PING_ECHO_INTERVAL=100ms",
		"WARDOPS_DB_CONNECT_TIMEOUT=2s")
	recovered := func(what string) {
		testenv.WaitFor(t, 60*time.Second, what, func() (bool, string) {
			var h struct {
				Status string `json:"status"`
			}
			var d struct {
				Degraded bool `json:"degraded"`
			}
			hc, dc := getJSON("http://"+listen+"/api/v1/health", &h), getJSON("http://"+listen+"/api/v1/dashboard", &d)
			leader := scrapeGauge("http://"+alerter+"/metrics", "wardops_alerting_leader")
			return hc == 200 && h.Status == "healthy" && dc == 200 && !d.Degraded && leader == 1,
				fmt.Sprintf("health %d %q, dashboard %d degraded=%v, leader %v", hc, h.Status, dc, d.Degraded, leader)
		})
	}
	recovered("all parts up")
	time.Sleep(2 * interval)
	from := time.Now()
	pg.Stop()
	time.Sleep(5 * interval) // probes go on; their rows wait in the spool
	pg.Start()
	restarted := time.Now()
	recovered("all parts recovered after the restart")
	took := time.Since(restarted)
	time.Sleep(3 * interval) // the spool replays within its backoff cap
	to := time.Now().Add(-interval)

	st = open()
	defer st.Close()
	worst := time.Duration(0)
	for _, s := range specs {
		rows, err := st.PingHistory(ctx, netip.MustParseAddr(s.IP), from, to, 1000)
		if err != nil {
			t.Fatal(err)
		}
		ts := []time.Time{from}
		for _, r := range rows {
			ts = append(ts, r.Timestamp)
		}
		ts = append(ts, to)
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		for i := 1; i < len(ts); i++ {
			worst = max(worst, ts[i].Sub(ts[i-1]))
		}
	}
	t.Logf("PostgreSQL down %s; every part recovered %s after it came back; longest ping_results gap %s",
		restarted.Sub(from).Round(time.Millisecond), took.Round(time.Millisecond), worst.Round(time.Millisecond))
	// A dispatch window may start a probe up to a second early.
	if worst > interval*3/2+time.Second {
		t.Errorf("a device has a %s gap in ping_results across the restart: rows were lost", worst.Round(time.Millisecond))
	}
}

// scrapeGauge reads one unlabelled sample from a /metrics page; -1 when it is not there.
func scrapeGauge(url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

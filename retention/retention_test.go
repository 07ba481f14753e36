package retention_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/retention"
	"github.com/wardops/wardops/store"
)

// TestScheduledRetention fills 40 days of ping_results (a row every 30 minutes for two devices,
// plus rows a millisecond either side of the cutoff) and alert_history (resolved before and after
// its cutoff, and one open alert older than both), then lets the scheduled job fire by itself:
// its clock reads 02:59:59.7 in Asia/Tbilisi and it is scheduled at 03:00 there. Exactly the ping
// rows older than 30 days and the alerts resolved more than 365 days ago must be gone, none
// newer; the job must say so in its metrics and schedule tomorrow's run.
func TestScheduledRetention(t *testing.T) {
	st, dbURL := testenv.Store(t)
	ctx := context.Background()
	zone, err := time.LoadLocation("Asia/Tbilisi")
	if err != nil {
		t.Fatalf("tzdata is required: %v", err)
	}
	local := time.Now().In(zone)
	now := time.Date(local.Year(), local.Month(), local.Day(), 2, 59, 59, 700e6, zone)
	pingCutoff := now.Add(-30 * 24 * time.Hour)
	alertCutoff := now.Add(-365 * 24 * time.Hour)

	ips := seedDevices(t, st)
	var rows []model.PingResult
	for _, ip := range ips {
		for at := now.Add(-40 * 24 * time.Hour); at.Before(now); at = at.Add(30 * time.Minute) {
			rows = append(rows, ping(ip, at))
		}
		rows = append(rows, ping(ip, pingCutoff.Add(-time.Millisecond)), ping(ip, pingCutoff), ping(ip, pingCutoff.Add(time.Millisecond)))
	}
	if err := st.InsertPingResults(ctx, rows); err != nil {
		t.Fatal(err)
	}
	alerts := seedAlerts(t, st, dbURL, alertCutoff)

	set := metrics.NewSet()
	job, err := retention.New(retention.Options{Store: st, PingRetention: 30 * 24 * time.Hour, AlertRetention: 365 * 24 * time.Hour,
		Hour: 3, Minute: 0, Zone: zone, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: set,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- job.Run(rctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for testenv.MetricValue(t, set, `wardops_retention_runs_total{result="ok"}`) < 1 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the scheduled run did not happen within 20 s (failed %v)", testenv.MetricValue(t, set, `wardops_retention_runs_total{result="failed"}`))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var wantLeft []string
	var older int
	for _, r := range rows {
		if r.Timestamp.Before(pingCutoff) {
			older++
			continue
		}
		wantLeft = append(wantLeft, r.DeviceIP.String()+" "+r.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	var left []string
	for _, ip := range ips {
		hist, err := st.PingHistory(ctx, ip, now.Add(-50*24*time.Hour), now, 100000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range hist {
			left = append(left, ip.String()+" "+r.Timestamp.Format(time.RFC3339Nano))
		}
	}
	slices.Sort(left)
	slices.Sort(wantLeft)
	if !slices.Equal(left, wantLeft) {
		t.Errorf("ping_results after retention: %d rows, want %d (of %d, %d older than the cutoff %s)",
			len(left), len(wantLeft), len(rows), older, pingCutoff.UTC().Format(time.RFC3339Nano))
		for _, s := range left {
			if !slices.Contains(wantLeft, s) {
				t.Errorf("  kept a row older than the cutoff: %s", s)
				break
			}
		}
		for _, s := range wantLeft {
			if !slices.Contains(left, s) {
				t.Errorf("  deleted a row newer than the cutoff: %s", s)
				break
			}
		}
	}
	if got, want := alertsLeft(t, dbURL), alerts.kept; !slices.Equal(got, want) {
		t.Errorf("alert_history after retention: %v, want %v", got, want)
	}

	if got := testenv.MetricValue(t, set, `wardops_retention_last_cutoff_timestamp_seconds{table="ping_results"}`); got != float64(pingCutoff.Unix()) {
		t.Errorf("cutoff metric %v, want %v", got, pingCutoff.Unix())
	}
	if got := testenv.MetricValue(t, set, `wardops_retention_deleted_rows_total{table="alert_history"}`); got != float64(alerts.deleted) {
		t.Errorf("deleted alert rows metric %v, want %d", got, alerts.deleted)
	}
	if got := testenv.MetricValue(t, set, `wardops_retention_dropped_partitions_total`); got < 9 {
		t.Errorf("dropped partitions metric %v, want the ten days before the cutoff's", got)
	}
	tomorrow := time.Date(local.Year(), local.Month(), local.Day()+1, 3, 0, 0, 0, zone)
	if got := testenv.MetricValue(t, set, `wardops_retention_next_run_timestamp_seconds`); got != float64(tomorrow.Unix()) {
		t.Errorf("next run %v, want %s", time.Unix(int64(got), 0).In(zone), tomorrow)
	}
}

// TestRetentionLockedElsewhere: while another session holds the advisory lock (another
// collector mid-run), a run does nothing and counts itself skipped.
func TestRetentionLockedElsewhere(t *testing.T) {
	st, dbURL := testenv.Store(t)
	ctx := context.Background()
	ips := seedDevices(t, st)
	old := ping(ips[0], time.Now().Add(-40*24*time.Hour))
	if err := st.InsertPingResults(ctx, []model.PingResult{old}); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, `SELECT pg_advisory_lock($1)`, retention.LockKey); err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	job, err := retention.New(retention.Options{Store: st, PingRetention: 30 * 24 * time.Hour, AlertRetention: 365 * 24 * time.Hour,
		Hour: 3, Zone: time.UTC, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	r, err := job.RunOnce(ctx)
	if err != nil || !r.Skipped {
		t.Fatalf("RunOnce with the lock held elsewhere: %+v, %v; want skipped", r, err)
	}
	if got := testenv.MetricValue(t, set, `wardops_retention_runs_total{result="skipped"}`); got != 1 {
		t.Errorf("skipped runs %v, want 1", got)
	}
	hist, err := st.PingHistory(ctx, ips[0], old.Timestamp.Add(-time.Hour), time.Now(), 10)
	if err != nil || len(hist) != 1 {
		t.Fatalf("the old row must stay while the lock is held elsewhere: %v %v", hist, err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock($1)`, retention.LockKey); err != nil {
		t.Fatal(err)
	}
	if r, err := job.RunOnce(ctx); err != nil || r.Skipped || len(r.PingPartitions) == 0 {
		t.Fatalf("RunOnce after the lock was released: %+v, %v; want the old row's partition dropped", r, err)
	}
	if hist, err := st.PingHistory(ctx, ips[0], old.Timestamp.Add(-time.Hour), time.Now(), 10); err != nil || len(hist) != 0 {
		t.Fatalf("the old row must go once the lock is free: %v %v", hist, err)
	}
}

// TestNextRun: the schedule is a wall-clock time in the zone, across daylight-saving changes.
func TestNextRun(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("tzdata is required: %v", err)
	}
	f := func(hour, minute int, from, want string) {
		t.Helper()
		job, err := retention.New(retention.Options{Store: &store.Store{}, PingRetention: time.Hour, AlertRetention: time.Hour,
			Hour: hour, Minute: minute, Zone: berlin, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, from)
		if err != nil {
			t.Fatal(err)
		}
		if got := job.Next(at).UTC().Format(time.RFC3339); got != want {
			t.Errorf("Next(%s) at %02d:%02d Berlin = %s, want %s", from, hour, minute, got, want)
		}
	}
	f(3, 0, "2026-06-10T00:59:00Z", "2026-06-10T01:00:00Z")  // 02:59 CEST: today's 03:00
	f(3, 0, "2026-06-10T01:00:00Z", "2026-06-11T01:00:00Z")  // exactly 03:00: tomorrow's
	f(3, 0, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z")  // 03:00 CEST after the spring change
	f(2, 30, "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z") // 02:30 does not exist: 03:30 CEST
	f(3, 0, "2026-10-24T12:00:00Z", "2026-10-25T02:00:00Z")  // 03:00 CET after the autumn change
}

func ping(ip netip.Addr, at time.Time) model.PingResult {
	return model.PingResult{DeviceID: 1, DeviceIP: ip, Timestamp: at.UTC().Truncate(time.Millisecond), IsReachable: true, Sent: 3, Received: 3}
}

func seedDevices(t *testing.T, st *store.Store) []netip.Addr {
	t.Helper()
	ips := []netip.Addr{netip.MustParseAddr("127.20.164.1"), netip.MustParseAddr("127.20.164.2")}
	var devs []model.ImportDevice
	for i, ip := range ips {
		devs = append(devs, model.ImportDevice{Line: i + 2, Branch: "b1", Name: "dev-" + ip.String(), IP: ip.String(), Enabled: true, SNMPPort: 161})
	}
	if _, err := st.ImportInventory(context.Background(), nil, devs, false); err != nil {
		t.Fatal(err)
	}
	return ips
}

type seededAlerts struct {
	kept    []string // summaries expected after retention, sorted
	deleted int
}

// seedAlerts fires alerts and resolves some of them either side of cutoff. The store has no
// resolve call of its own (the alerting package resolves), so the test sets resolved_at itself.
func seedAlerts(t *testing.T, st *store.Store, dbURL string, cutoff time.Time) seededAlerts {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var devID int64
	if err := conn.QueryRow(ctx, `SELECT min(id) FROM standalone_devices`).Scan(&devID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		summary  string
		resolved time.Time // zero: still open
		gone     bool
	}{
		{"resolved a day before the cutoff", cutoff.Add(-24 * time.Hour), true},
		{"resolved a millisecond before the cutoff", cutoff.Add(-time.Millisecond), true},
		{"resolved at the cutoff", cutoff, false},
		{"resolved a minute after the cutoff", cutoff.Add(time.Minute), false},
		{"open for longer than the retention", time.Time{}, false},
	}
	var out seededAlerts
	for i, c := range cases {
		fired := cutoff.Add(-30 * 24 * time.Hour)
		id, err := st.FireAlert(ctx, devID, "rule-"+string(rune('a'+i)), "warning", c.summary, fired)
		if err != nil {
			t.Fatal(err)
		}
		if !c.resolved.IsZero() {
			if _, err := conn.Exec(ctx, `UPDATE alert_history SET resolved_at = $1 WHERE id = $2`, c.resolved.UTC(), id); err != nil {
				t.Fatal(err)
			}
		}
		if c.gone {
			out.deleted++
		} else {
			out.kept = append(out.kept, c.summary)
		}
	}
	slices.Sort(out.kept)
	return out
}

func alertsLeft(t *testing.T, dbURL string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT summary FROM alert_history ORDER BY summary`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

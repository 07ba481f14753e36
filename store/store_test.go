package store_test

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	dbURL := testenv.Database(t)
	ctx := context.Background()
	// Two instances starting together: the advisory lock makes one wait for the other.
	var wg sync.WaitGroup
	applied := make([][]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 2})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			applied[i], errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	if len(applied[0])+len(applied[1]) == 0 || (len(applied[0]) > 0 && len(applied[1]) > 0) {
		t.Fatalf("exactly one instance should apply the migrations, got %v and %v", applied[0], applied[1])
	}
	s, err := store.Open(ctx, store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := schemaSnapshot(t, dbURL)
	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", again, err)
	}
	if after := schemaSnapshot(t, dbURL); after != before {
		t.Fatalf("second migrate changed the schema:\n%s\n---\n%s", before, after)
	}
}

func schemaSnapshot(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var snap string
	err = c.QueryRow(ctx, `SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name)
		|| (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public')
		|| (SELECT count(*)::text FROM schema_migrations)
		FROM information_schema.columns WHERE table_schema = 'public'`).Scan(&snap)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestSchemaContract(t *testing.T) {
	_, dbURL := testenv.Store(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)

	t.Run("the seven operator indexes exist by name on the right columns", func(t *testing.T) {
		want := map[string]string{
			"idx_ping_results_device_timestamp":     "ping_results|device_ip, \"timestamp\" DESC",
			"idx_monitoring_items_device_enabled":   "monitoring_items|device_id, enabled",
			"idx_alert_history_device_unresolved":   "alert_history|device_id, rule_id, resolved_at",
			"idx_standalone_devices_branch_id":      "standalone_devices|branch_id",
			"idx_standalone_devices_enabled_vendor": "standalone_devices|enabled, vendor",
			"idx_ping_results_device_ip":            "ping_results|device_ip",
			"idx_ping_results_timestamp":            "ping_results|\"timestamp\"",
		}
		for name, on := range want {
			var def string
			err := c.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1`, name).Scan(&def)
			if err != nil {
				t.Errorf("index %s: %v", name, err)
				continue
			}
			table, cols, _ := strings.Cut(on, "|")
			if !strings.Contains(def, " public."+table+" ") || !strings.HasSuffix(def, "btree ("+cols+")") {
				t.Errorf("index %s is %q, want it on %s", name, def, on)
			}
		}
	})
	t.Run("no naive timestamp column", func(t *testing.T) {
		rows, err := c.Query(ctx, `SELECT table_name || '.' || column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'`)
		if err != nil {
			t.Fatal(err)
		}
		naive, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(naive) > 0 {
			t.Fatalf("naive timestamp columns: %v (err %v)", naive, err)
		}
	})
	t.Run("ping_results is range-partitioned by day with partitions ahead", func(t *testing.T) {
		var strategy string
		if err := c.QueryRow(ctx, `SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'ping_results'::regclass`).Scan(&strategy); err != nil || strategy != "r" {
			t.Fatalf("ping_results partition strategy %q, err %v", strategy, err)
		}
		tomorrow := "ping_results_" + time.Now().UTC().AddDate(0, 0, 1).Format("20060102")
		var ok bool
		if err := c.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, tomorrow).Scan(&ok); err != nil || !ok {
			t.Fatalf("partition %s missing", tomorrow)
		}
	})
}

// TestPoolSurvivesFailingCalls: thousands of failing calls, errors, panics and cancelled contexts
// included, must leave no connection acquired.
func TestPoolSurvivesFailingCalls(t *testing.T) {
	dbURL := testenv.Database(t)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 2, StatementTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for i := range 3000 {
		switch i % 6 {
		case 0:
			if _, err := s.GetDevice(ctx, int64(1_000_000+i)); !errors.Is(err, model.ErrNotFound) {
				t.Fatalf("GetDevice: want ErrNotFound, got %v", err)
			}
		case 1:
			if err := s.WithTx(ctx, func(pgx.Tx) error { return boom }); !errors.Is(err, boom) {
				t.Fatalf("WithTx: want boom, got %v", err)
			}
		case 2:
			func() {
				defer func() { _ = recover() }()
				_ = s.WithTx(ctx, func(pgx.Tx) error { panic("in tx") })
			}()
		case 3:
			err := s.WithTx(ctx, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `SELECT * FROM no_such_table`)
				return err
			})
			if err == nil {
				t.Fatal("query of a missing table succeeded")
			}
		case 4:
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, _ = s.ListDevices(cctx)
		case 5:
			if err := s.DeleteDevice(ctx, int64(i)); !errors.Is(err, model.ErrNotFound) {
				t.Fatalf("DeleteDevice: want ErrNotFound, got %v", err)
			}
		}
	}
	if st := s.Stats(); st.Acquired != 0 {
		t.Fatalf("%d connections still acquired after failing calls", st.Acquired)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.ListDevices(cctx); err != nil {
		t.Fatalf("pool exhausted: %v", err)
	}
}

func TestPingResultsLatestAndRetention(t *testing.T) {
	s, _ := testenv.Store(t)
	ctx := context.Background()
	devs := []model.ImportDevice{
		{Line: 2, Branch: "b1", Name: "up-1", IP: "127.20.0.1", Enabled: true, SNMPPort: 161},
		{Line: 3, Branch: "b1", Name: "down-1", IP: "127.20.0.2", Enabled: true, SNMPPort: 161},
		{Line: 4, Branch: "b1", Name: "never", IP: "127.20.0.3", Enabled: true, SNMPPort: 161},
	}
	if _, err := s.ImportInventory(ctx, nil, devs, false); err != nil {
		t.Fatal(err)
	}
	fleet, err := s.LoadFleet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := map[string]int64{}
	for _, d := range fleet.Devices {
		id[d.Name] = d.ID
	}
	now := time.Now().UTC().Truncate(time.Second)
	rtt := 1.5
	var rs []model.PingResult
	for i := range 10 {
		ts := now.Add(time.Duration(i-9) * 30 * time.Second)
		rs = append(rs, model.PingResult{DeviceID: id["up-1"], DeviceIP: netip.MustParseAddr("127.20.0.1"), Timestamp: ts,
			IsReachable: true, RTTAvgMs: &rtt, Sent: 3, Received: 3})
		// down-1 goes down at the 7th probe and stays down.
		up := i < 6
		r := model.PingResult{DeviceID: id["down-1"], DeviceIP: netip.MustParseAddr("127.20.0.2"), Timestamp: ts, IsReachable: up, Sent: 3}
		if up {
			r.RTTAvgMs, r.Received = &rtt, 3
		} else {
			r.PacketLoss = 1
		}
		rs = append(rs, r)
	}
	// A row 40 days old lands in a partition created on demand.
	old := now.AddDate(0, 0, -40)
	rs = append(rs, model.PingResult{DeviceID: id["up-1"], DeviceIP: netip.MustParseAddr("127.20.0.1"), Timestamp: old, IsReachable: true, Sent: 3, Received: 3})
	if err := s.InsertPingResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestPings(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 2 {
		t.Fatalf("latest for %d devices, want 2 (never-probed device has none)", len(latest))
	}
	if l := latest[id["up-1"]]; !l.IsReachable || l.DownSince != nil || !l.Timestamp.Equal(now) {
		t.Fatalf("up-1 latest %+v", l)
	}
	wantSince := now.Add(-3 * 30 * time.Second)
	if l := latest[id["down-1"]]; l.IsReachable || l.DownSince == nil || !l.DownSince.Equal(wantSince) {
		t.Fatalf("down-1 latest %+v, want down since %s", l, wantSince)
	}
	hist, err := s.PingHistory(ctx, netip.MustParseAddr("127.20.0.2"), now.Add(-time.Hour), now, 100)
	if err != nil || len(hist) != 10 || !hist[0].Timestamp.Before(hist[9].Timestamp) {
		t.Fatalf("history: %d rows, err %v", len(hist), err)
	}
	dropped, err := s.DropPingPartitionsBefore(ctx, now.AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dropped)
	if len(dropped) == 0 || dropped[0] != "ping_results_"+old.Format("20060102") {
		t.Fatalf("dropped %v, want the partition of %s", dropped, old.Format(time.DateOnly))
	}
	hist, err = s.PingHistory(ctx, netip.MustParseAddr("127.20.0.1"), old.Add(-time.Hour), now, 100)
	if err != nil || len(hist) != 10 {
		t.Fatalf("after retention: %d rows of up-1, want the 10 recent ones (err %v)", len(hist), err)
	}
}

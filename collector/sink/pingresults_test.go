package sink

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/spool"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// flakyStore fails writes while down, as PostgreSQL does while it is stopped: a fault on demand for
// these short table cases (outage_test.go stops a real private PostgreSQL for the long one).
// Successful writes go to the real store.
type flakyStore struct {
	PingStore
	mu    sync.Mutex
	fails int // writes still to fail; -1: fail until set otherwise
}

func (f *flakyStore) InsertPingResults(ctx context.Context, rs []model.PingResult) error {
	f.mu.Lock()
	fail := f.fails != 0
	if f.fails > 0 {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	return f.PingStore.InsertPingResults(ctx, rs)
}

func (f *flakyStore) set(fails int) {
	f.mu.Lock()
	f.fails = fails
	f.mu.Unlock()
}

func TestPingWriter(t *testing.T) {
	st, _ := testenv.Store(t)
	tests := []struct {
		name  string
		spool bool
		fails int // -1: PostgreSQL stays down until the writer has stopped
		// A spool cap small enough to drop: the newest rows survive, whole batches of the oldest go.
		capBytes    int64
		restart     bool // a second writer on the same spool, PostgreSQL up, replays what the first left
		corrupt     bool // a block that does not decode sits first in the spool
		wantDropped bool
	}{
		{name: "plain, in memory"},
		{name: "down then back, in memory", fails: 3},
		{name: "down then back, spooled", spool: true, fails: 5},
		{name: "down past the spool cap drops oldest", spool: true, fails: -1, capBytes: 4 << 10, restart: true, wantDropped: true},
		{name: "down at shutdown, replayed by the next start", spool: true, fails: -1, restart: true},
		{name: "corrupt block skipped", spool: true, corrupt: true},
	}
	const rows, batch = 250, 10
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			flaky := &flakyStore{PingStore: st, fails: tc.fails}
			newWriter := func(s PingStore) (*PingResults, *metrics.Set) {
				set := metrics.NewSet()
				o := PingResultsOptions{Store: s, Options: Options{
					Batch: batch, Interval: time.Hour, MinBackoff: 10 * time.Millisecond,
					MaxBackoff: 50 * time.Millisecond, FlushTimeout: 200 * time.Millisecond, Log: quietLog(), Metrics: set,
				}}
				if tc.spool {
					sp, err := spool.Open(dir, spool.Options{Name: "ping_results", MaxDiskBytes: tc.capBytes, SegmentBytes: 512,
						MaxMemBytes: 1, FlushInterval: 20 * time.Millisecond, Metrics: set, Log: quietLog()})
					if err != nil {
						t.Fatal(err)
					}
					if tc.corrupt {
						_ = sp.Push([]byte{pingBlockV1, 200, 1}) // 200 rows promised, none there
					}
					o.Queue = NewSpoolQueue(sp)
				}
				w, err := NewPingResults(o)
				if err != nil {
					t.Fatal(err)
				}
				return w, set
			}
			run := func(w *PingResults) (stop func()) {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- w.Run(ctx) }()
				return func() {
					cancel()
					if err := <-done; err != nil {
						t.Fatal(err)
					}
				}
			}
			w, set := newWriter(flaky)
			stop := run(w)
			ip := netip.AddrFrom4([4]byte{127, 20, 50, byte(i + 1)})
			base := time.Now().Add(-time.Hour).Truncate(time.Second)
			rtt := 0.125
			for j := range rows {
				w.Add(model.PingResult{DeviceID: int64(i + 1), DeviceIP: ip, Timestamp: base.Add(time.Duration(j) * time.Second),
					IsReachable: true, RTTAvgMs: &rtt, Sent: 3, Received: 3})
			}
			wait := func(set *metrics.Set, n int) {
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) && int(metric(set, "wardops_collector_ping_results_written_total")) < n {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if tc.fails >= 0 {
				wait(set, rows)
			}
			dropped := 0
			if tc.capBytes > 0 {
				// Read before Close unregisters the spool's metrics; every block reached the disk in Push.
				dropped = int(testenv.MetricValue(t, set, `wardops_spool_dropped_blocks_total{spool="ping_results",reason="cap"}`))
			}
			stop()
			if tc.wantDropped != (dropped > 0) {
				t.Fatalf("spool cap dropped %d blocks", dropped)
			}
			if tc.corrupt {
				if got := testenv.MetricValue(t, set, `wardops_collector_ping_results_dropped_blocks_total{reason="corrupt"}`); got != 1 {
					t.Fatalf("corrupt blocks counted %v, want 1", got)
				}
			}
			if tc.restart {
				w2, set2 := newWriter(st)
				stop2 := run(w2)
				wait(set2, rows-dropped*batch)
				stop2()
			}
			got, err := st.PingHistory(context.Background(), ip, base, time.Now(), 1000)
			if err != nil {
				t.Fatal(err)
			}
			// Exactly the newest rows, in order, once each: the cap drops whole batches of the oldest.
			want := rows - dropped*batch
			if len(got) != want {
				t.Fatalf("%d rows in ping_results, want %d (%d batches dropped)", len(got), want, dropped)
			}
			for j, r := range got {
				if wantTS := base.Add(time.Duration(dropped*batch+j) * time.Second); !r.Timestamp.Equal(wantTS) {
					t.Fatalf("row %d at %s, want %s", j, r.Timestamp, wantTS)
				}
				if r.RTTAvgMs == nil || *r.RTTAvgMs != rtt || r.RTTMinMs != nil || r.Sent != 3 {
					t.Fatalf("row %d not what was added: %+v", j, r)
				}
			}
		})
	}
}

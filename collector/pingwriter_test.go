package collector

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/store"
)

// flakyStore fails its first writes, as PostgreSQL does while it is down: a fault the real server
// cannot be made to produce on demand without stopping it for every other test on the machine.
// Successful writes go to the real store.
type flakyStore struct {
	PingStore
	mu    sync.Mutex
	fails int
}

func (f *flakyStore) InsertPingResults(ctx context.Context, rs []store.PingResult) error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	return f.PingStore.InsertPingResults(ctx, rs)
}

func TestPingWriter(t *testing.T) {
	st, _ := testenv.Store(t)
	tests := []struct {
		name        string
		fails       int
		maxPending  int
		rows        int
		wantWritten int
		wantDropped int
	}{
		{"plain", 0, 1000, 250, 250, 0},
		{"database down then back", 3, 1000, 250, 250, 0},
		{"down past the cap drops oldest", 1000, 100, 250, 0, 150},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := metrics.NewSet()
			w := NewPingWriter(PingWriterOptions{
				Store: &flakyStore{PingStore: st, fails: tc.fails}, Batch: 100, Interval: 50 * time.Millisecond,
				MaxPending: tc.maxPending, MaxBackoff: 100 * time.Millisecond, FlushTimeout: 500 * time.Millisecond,
				Log: quietLog(), Metrics: set,
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- w.Run(ctx) }()
			ip := netip.AddrFrom4([4]byte{127, 20, 50, byte(i + 1)})
			base := time.Now().Add(-time.Hour).Truncate(time.Second)
			for j := range tc.rows {
				w.Add(store.PingResult{DeviceID: int64(i + 1), DeviceIP: ip, Timestamp: base.Add(time.Duration(j) * time.Second), IsReachable: true, Sent: 3, Received: 3})
			}
			if tc.wantWritten > 0 {
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) && int(w.m.written.Get()) < tc.wantWritten {
					time.Sleep(20 * time.Millisecond)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			rows, err := st.PingHistory(context.Background(), ip, base, time.Now(), 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.wantWritten {
				t.Fatalf("%d rows in ping_results, want %d", len(rows), tc.wantWritten)
			}
			for j := 1; j < len(rows); j++ {
				if !rows[j].Timestamp.After(rows[j-1].Timestamp) {
					t.Fatalf("rows out of order or duplicated at %d", j)
				}
			}
			// Dropped: the cap's oldest rows, then whatever the shutdown flush could not write.
			if got := int(w.m.dropped.Get()); got != tc.wantDropped+(tc.rows-tc.wantWritten-tc.wantDropped) {
				t.Fatalf("dropped %d, want %d", got, tc.rows-tc.wantWritten)
			}
		})
	}
}

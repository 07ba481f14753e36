package collector

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func TestLaneWindow(t *testing.T) {
	b := batching{every: 30 * time.Second, probes: 64, max: time.Second}
	for _, tc := range []struct {
		name    string
		b       batching
		targets int64
		want    time.Duration
	}{
		{"no batching", batching{}, 875, 0},
		{"empty fleet", b, 0, 0},
		{"small fleet capped at max", b, 875, time.Second},
		{"10k devices", b, 10_000, 190 * time.Millisecond},
		{"100k devices", b, 100_000, 10 * time.Millisecond},
		{"too dense to batch", b, 1_000_000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLane(kindICMP, 1, tc.b, nil, nil)
			l.count.Store(tc.targets)
			if got := l.window(); got != tc.want {
				t.Errorf("window with %d targets = %v, want %v", tc.targets, got, tc.want)
			}
		})
	}
}

// TestLaneBatchesDispatch checks on the real clock that targets whose slots fall in one window start
// together when it opens: never after their slot, at most one window before it.
func TestLaneBatchesDispatch(t *testing.T) {
	const n = 40
	iv := 4 * time.Second
	set := metrics.NewSet()
	m := newSchedMetrics(set, func(string) int { return 0 })
	var mu sync.Mutex
	started := map[string]time.Time{}
	planned := map[string]time.Time{}
	// probes: n over a 4 s interval → a 1 s window holds about 10 of them.
	l := newLane(kindICMP, n, batching{every: iv, probes: n / 4, max: time.Second}, m.kinds[kindICMP],
		func(_ context.Context, tg *target, due time.Time) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := started[tg.key]; !ok {
				started[tg.key], planned[tg.key] = time.Now(), due
			}
		})
	now := time.Now()
	for i := range n {
		tg := newTarget(deviceKey(int64(i)), iv)
		l.count.Add(1)
		l.schedule(tg, now)
	}
	if w := l.window(); w != time.Second {
		t.Fatalf("window %v, want 1s", w)
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), iv+1500*time.Millisecond)
	defer cancel()
	l.Run(ctx)

	mu.Lock()
	defer mu.Unlock()
	if len(started) != n {
		t.Fatalf("%d of %d targets started within one interval", len(started), n)
	}
	windows := map[time.Time]int{}
	for k, s := range started {
		due := planned[k]
		open := due.Truncate(time.Second)
		if s.Before(open) {
			t.Errorf("%s started %v before its window opened", k, open.Sub(s))
		}
		// Generous for a loaded CI machine; unbatched, most would start hundreds of ms later.
		// The first window may have opened before the lane ran.
		if late := s.Sub(later(open, t0)); late > 150*time.Millisecond {
			t.Errorf("%s started %v after its window opened (slot %v after it)", k, late, due.Sub(open))
		}
		windows[open]++
	}
	if len(windows) > 6 {
		t.Errorf("%d targets started in %d windows, want at most 6 for a 4 s interval", n, len(windows))
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

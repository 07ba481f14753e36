package query

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSlowBuildsDoNotStallReaders: when a build takes longer than the TTL (a large fleet on a
// busy machine), a steady reader waits only for the very first build; after that builds run back
// to back and every answer stays within twice the build time. The builder is a stand-in that only
// sleeps: the test is about the cache's timing, which no real backend can be made to hold steady.
func TestSlowBuildsDoNotStallReaders(t *testing.T) {
	const ttl, build = 50 * time.Millisecond, 200 * time.Millisecond
	var builds atomic.Int64
	m := newMetrics(prometheus.NewRegistry())
	c := newSnapshots(func(ctx context.Context, gen uint64) (*snapshot, error) {
		at := time.Now()
		builds.Add(1)
		time.Sleep(build)
		return &snapshot{At: at, gen: gen}, nil
	}, ttl, 5*time.Second, m)
	defer c.close()
	ctx := context.Background()
	end := time.Now().Add(2 * time.Second)
	var worstWait, worstAge time.Duration
	reads := 0
	for time.Now().Before(end) {
		start := time.Now()
		snap, err := c.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if reads > 0 {
			worstWait = max(worstWait, time.Since(start))
		}
		worstAge = max(worstAge, time.Since(snap.At))
		reads++
		time.Sleep(5 * time.Millisecond)
	}
	// A reader may still meet the instant between one snapshot's expiry and the next build's end
	// (builds do not take exactly the same time), but never waits for a whole build again.
	if worstWait > build/4 {
		t.Errorf("a reader waited %s after the first build, want far less than a build (%s)", worstWait, build)
	}
	// Twice the build plus scheduling slack on a shared machine.
	if worstAge > 2*build+150*time.Millisecond {
		t.Errorf("an answer was %s old, want at most about %s", worstAge, 2*build)
	}
	t.Logf("%d reads, %d builds, longest wait after the first %s, oldest answer %s", reads, builds.Load(), worstWait, worstAge)
}

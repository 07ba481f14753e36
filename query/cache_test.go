package query

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSlowBuildsDoNotStallReaders: when a build takes longer than the TTL (a large fleet on a
// busy machine) and builds may take all the time (share 1), a steady reader waits only for the
// very first build; after that builds run back to back and every answer stays within twice the
// build time. The builder is a stand-in that only
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
	}, ttl, 1, 5*time.Second, m)
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

// TestBuildShareSpacesSlowBuilds: with the default share, slow builds are spaced so that building
// takes about a tenth of the time, readers still never wait after the first build, and no answer
// is older than the stated bound lifeFor(build) + build. A stand-in builder for the same reason as
// above.
func TestBuildShareSpacesSlowBuilds(t *testing.T) {
	const ttl, build, share = 50 * time.Millisecond, 100 * time.Millisecond, 0.1
	var builds atomic.Int64
	c := newSnapshots(func(ctx context.Context, gen uint64) (*snapshot, error) {
		at := time.Now()
		builds.Add(1)
		time.Sleep(build)
		return &snapshot{At: at, gen: gen}, nil
	}, ttl, share, 5*time.Second, newMetrics(prometheus.NewRegistry()))
	defer c.close()
	const run = 3 * time.Second
	end := time.Now().Add(run)
	var worstWait, worstAge time.Duration
	for reads := 0; time.Now().Before(end); reads++ {
		start := time.Now()
		snap, err := c.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if reads > 0 {
			worstWait = max(worstWait, time.Since(start))
		}
		worstAge = max(worstAge, time.Since(snap.At))
		time.Sleep(5 * time.Millisecond)
	}
	// One build per life+build (1 s) plus the first: back to back would have been 30.
	if n := builds.Load(); n > 5 {
		t.Errorf("%d builds in %s, want at most 5 (a tenth of the time spent building)", n, run)
	}
	if worstWait > build/2 {
		t.Errorf("a reader waited %s after the first build, want far less than a build (%s)", worstWait, build)
	}
	if bound := lifeFor(build, ttl, share) + build; worstAge > bound+150*time.Millisecond {
		t.Errorf("an answer was %s old, want at most about %s", worstAge, bound)
	}
	t.Logf("%d builds, longest wait after the first %s, oldest answer %s", builds.Load(), worstWait, worstAge)
}

func TestLifeFor(t *testing.T) {
	for _, tc := range []struct {
		took, ttl time.Duration
		share     float64
		want      time.Duration
	}{
		{20 * time.Millisecond, time.Second, 0.1, time.Second},                // a small fleet: the TTL
		{1500 * time.Millisecond, time.Second, 0.1, 13500 * time.Millisecond}, // 100,000 devices
		{10 * time.Second, time.Second, 0.1, 30 * time.Second},                // a build at its deadline: capped
		{2 * time.Second, time.Second, 1, 2 * time.Second},                    // back to back
		{time.Second, time.Minute, 0.1, time.Minute},                          // a TTL above the cap stands
	} {
		if got := lifeFor(tc.took, tc.ttl, tc.share); got != tc.want {
			t.Errorf("lifeFor(%s, %s, %g) = %s, want %s", tc.took, tc.ttl, tc.share, got, tc.want)
		}
	}
}

// TestPageCacheSharesFirstBody: readers that render the same page at once serve the body kept
// first, so it is compressed once; past the caps each serves its own.
func TestPageCacheSharesFirstBody(t *testing.T) {
	var p pageCache
	first, second := newRendered([]byte(`{"a":1}`)), newRendered([]byte(`{"a":1}`))
	if got := p.put("limit=3", first); got != first {
		t.Fatal("the first body is not the one served")
	}
	if got := p.put("limit=3", second); got != first {
		t.Fatal("a second rendering of a kept page is served instead of the kept one")
	}
	for i := range maxCachedPages {
		p.put("offset="+strconv.Itoa(i), newRendered([]byte("{}")))
	}
	own := newRendered([]byte("{}"))
	if got := p.put("limit=4", own); got != own || p.get("limit=4") != nil {
		t.Fatal("a page past the cap is kept")
	}
}

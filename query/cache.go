package query

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"
)

// snapshots holds the current snapshot. A fresh one (younger than ttl) is served as is; an
// older one is served while one background build replaces it, so no reader waits for the
// backends: at 100,000 devices one VictoriaMetrics fleet query takes seconds, and the dashboard
// must still answer in milliseconds. Only a missing snapshot, one built before a write, or one
// older than maxStale makes callers wait for a build, which singleflight shares among them.
// Either way the backends see at most one build at a time.
type snapshots struct {
	ttl      time.Duration
	deadline time.Duration
	build    func(ctx context.Context, gen uint64) (*snapshot, error)
	m        *metrics

	cur atomic.Pointer[snapshot]
	gen atomic.Uint64 // bumped by writes: the next read must not see the old inventory
	sf  singleflight.Group
	// lastBuild is how long the newest build took (ns). A rebuild starts only once the snapshot is
	// older than that too, so the backends are busy at most half of the time however slow the
	// fleet query gets (seconds at 100,000 devices on a small VictoriaMetrics).
	lastBuild atomic.Int64

	mu     sync.Mutex
	closed bool
	base   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// maxStale is the oldest snapshot served while a rebuild runs; older, callers wait for the build.
const maxStale = time.Minute

// defaultBuildDeadline bounds one build.
const defaultBuildDeadline = 30 * time.Second

var errClosed = errors.New("query service is shutting down")

func newSnapshots(build func(context.Context, uint64) (*snapshot, error), ttl, deadline time.Duration, m *metrics) *snapshots {
	ctx, cancel := context.WithCancel(context.Background())
	return &snapshots{ttl: ttl, deadline: deadline, build: build, m: m, base: ctx, stop: cancel}
}

// get returns the fleet snapshot, building it when needed.
func (c *snapshots) get(ctx context.Context) (*snapshot, error) {
	cur := c.cur.Load()
	if cur != nil && cur.gen >= c.gen.Load() {
		age := time.Since(cur.At)
		if age < max(c.ttl, time.Duration(c.lastBuild.Load())) {
			c.m.cache.WithLabelValues("hit").Inc()
			return cur, nil
		}
		if age < max(maxStale, 2*c.ttl) {
			c.m.cache.WithLabelValues("stale").Inc()
			c.sf.DoChan("fleet", c.rebuild) // result read by the next caller
			return cur, nil
		}
	}
	c.m.cache.WithLabelValues("miss").Inc()
	ch := c.sf.DoChan("fleet", c.rebuild)
	select {
	case r := <-ch:
		if r.Err != nil {
			if cur != nil {
				// Every backend failed: the last good snapshot is better than nothing.
				return cur, nil
			}
			return nil, r.Err
		}
		return r.Val.(*snapshot), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// rebuild runs one build on the service's own context, not a request's: a client hanging up
// must not cancel a build other clients wait for. wg tracks it so close can wait.
func (c *snapshots) rebuild() (any, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.base, c.deadline)
	defer cancel()
	start := time.Now()
	snap, err := c.build(ctx, c.gen.Load())
	c.lastBuild.Store(int64(time.Since(start)))
	if err != nil {
		return nil, err
	}
	c.cur.Store(snap)
	return snap, nil
}

// invalidate makes the next read rebuild, re-reading the inventory: called after every write.
func (c *snapshots) invalidate() { c.gen.Add(1) }

// close stops background builds and waits for them.
func (c *snapshots) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
}

// serveSnapshot writes a body rendered from snap, never stored by a cache in between.
func serveSnapshot(c *gin.Context, snap *snapshot, r *rendered) {
	c.Header("Cache-Control", "no-store")
	serveJSON(c, r)
}

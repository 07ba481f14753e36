package query

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// fleetCache holds the current snapshot. A fresh one (younger than ttl) is served as is; an
// older one is served while one background build replaces it, so no reader waits for the
// backends: at 100,000 devices one VictoriaMetrics fleet query takes seconds, and the dashboard
// must still answer in milliseconds. Only a missing snapshot, one invalidated by a write, or one
// older than maxStale makes callers wait for a build, which singleflight shares among them.
// Either way the backends see at most one build at a time.
type fleetCache struct {
	ttl   time.Duration
	cur   atomic.Pointer[snapshot]
	dirty atomic.Bool // set by writes: the next read must not see the old inventory
	sf    singleflight.Group
	// lastBuild is how long the newest build took (ns). A rebuild starts only once the snapshot is
	// older than that too, so the backends are busy at most half of the time however slow the
	// fleet query gets (seconds at 100,000 devices on a small VictoriaMetrics).
	lastBuild atomic.Int64
}

// maxStale is the oldest snapshot served while a rebuild runs; older, callers wait for the build.
const maxStale = time.Minute

// snapshot returns the fleet snapshot, building it when needed.
func (s *Server) snapshot(ctx context.Context) (*snapshot, error) {
	cur := s.cache.cur.Load()
	if cur != nil && !s.cache.dirty.Load() {
		age := time.Since(cur.At)
		if age < max(s.cache.ttl, time.Duration(s.cache.lastBuild.Load())) {
			s.m.cache.WithLabelValues("hit").Inc()
			return cur, nil
		}
		if age < max(maxStale, 2*s.cache.ttl) {
			s.m.cache.WithLabelValues("stale").Inc()
			s.cache.sf.DoChan("fleet", s.rebuild) // result read by the next caller
			return cur, nil
		}
	}
	s.m.cache.WithLabelValues("miss").Inc()
	ch := s.cache.sf.DoChan("fleet", s.rebuild)
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

// rebuild runs one build on the server's own context, not a request's: a client hanging up
// must not cancel a build other clients wait for. builds tracks it so Close can wait.
func (s *Server) rebuild() (any, error) {
	s.builds.Add(1)
	defer s.builds.Done()
	ctx, cancel := context.WithTimeout(s.baseCtx, s.buildTimeout)
	defer cancel()
	s.cache.dirty.Store(false)
	start := time.Now()
	snap, err := s.build(ctx)
	s.cache.lastBuild.Store(int64(time.Since(start)))
	if err != nil {
		s.log.Warn("cannot build fleet snapshot", "err", err)
		return nil, err
	}
	s.cache.cur.Store(snap)
	return snap, nil
}

// invalidate makes the next read rebuild, re-reading the inventory: called after every write.
func (s *Server) invalidate() {
	s.inv.mu.Lock()
	s.inv.forced = true
	s.inv.mu.Unlock()
	s.cache.dirty.Store(true)
}

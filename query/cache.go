package query

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// fleetCache holds the current snapshot. A fresh one (younger than ttl) is served as is; a
// slightly old one (younger than 2*ttl) is served while one background build replaces it, so a
// wall of screens never waits; an older one or none makes the caller wait for a build, which
// singleflight shares among every caller waiting at that moment. Either way the backends see at
// most one build at a time.
type fleetCache struct {
	ttl   time.Duration
	cur   atomic.Pointer[snapshot]
	dirty atomic.Bool // set by writes: the next read must not see the old inventory
	sf    singleflight.Group
}

// snapshot returns the fleet snapshot, building it when needed.
func (s *Server) snapshot(ctx context.Context) (*snapshot, error) {
	cur := s.cache.cur.Load()
	if cur != nil && !s.cache.dirty.Load() {
		age := time.Since(cur.At)
		if age < s.cache.ttl {
			s.m.cache.WithLabelValues("hit").Inc()
			return cur, nil
		}
		if age < 2*s.cache.ttl {
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
	snap, err := s.build(ctx)
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


package query

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// snapshots hands out the fleet snapshot with bounded staleness, building only when a reader asks.
//
//   - A snapshot is served for ttl after its build finished, or longer when builds are slow, so
//     that building takes at most share of the time (see lifeFor). Its age (now − At, where At is
//     when the build started) is then below that life plus the time of the build that made it.
//   - A reader that finds no servable snapshot waits for a build instead of getting an old one; all
//     readers waiting at the same time share that one build. So the first request after a quiet
//     period waits for one build, and a wall of screens still costs one build per ttl.
//   - A reader that comes in the last stretch of a snapshot's life (twice as long as its build
//     took, at most the whole life: then builds run back to back) starts the next build in the background and is served at once, so that
//     steady readers seldom wait. Only readers start builds: with nobody asking, nothing is built.
//   - A build runs on the service's context, not a request's (a client hanging up must not cancel
//     a build others wait for), and ends by deadline: PostgreSQL gets half of it, then the
//     VictoriaMetrics fallback the rest, so a reader waits at most deadline even when
//     either hangs, and gets a snapshot that says which backend failed.
//   - A write bumps gen; a snapshot built before it is never served again, and a reader after it
//     waits for a build that started after it.
type snapshots struct {
	ttl      time.Duration
	share    float64 // the most of the wall time spent building, (0, 1]
	deadline time.Duration
	build    func(ctx context.Context, gen uint64) (*snapshot, error)
	m        *metrics

	cur atomic.Pointer[snapshot]
	gen atomic.Uint64

	mu sync.Mutex
	// inflight is the build running, nil when none: written under mu, read without it first, so
	// that the readers arriving while a slow build runs (at 100,000 devices every reader in the
	// last stretch of a snapshot's life, tens of thousands a second) do not queue on mu to learn
	// that it does.
	inflight atomic.Pointer[buildCall]
	closed   bool
	base     context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup // the build goroutine, so close can wait for it
}

// defaultBuildDeadline bounds one build: at 100,000 devices the VictoriaMetrics fallback's fleet
// queries take seconds, and a dashboard reader should not wait much longer than that.
const defaultBuildDeadline = 10 * time.Second

// buildCall is one build, shared by every reader that waits for it.
type buildCall struct {
	done chan struct{} // closed when snap and err are set
	snap *snapshot
	err  error
}

var errClosed = errors.New("query service is shutting down")

func newSnapshots(build func(context.Context, uint64) (*snapshot, error), ttl time.Duration, share float64, deadline time.Duration, m *metrics) *snapshots {
	ctx, cancel := context.WithCancel(context.Background())
	return &snapshots{ttl: ttl, share: share, deadline: deadline, build: build, m: m, base: ctx, stop: cancel}
}

// maxLife caps how long a slow build's snapshot is served: one default ping interval, so the
// dashboard is never more than about one probe cycle behind even when builds take seconds.
const maxLife = 30 * time.Second

// lifeFor is how long a snapshot whose build took took is served: the TTL, or long enough that
// building takes at most share of the time (took / (took + life) ≤ share), capped by maxLife (or
// the TTL when that is longer). An answer's age is then at most lifeFor(took) + took.
func lifeFor(took, ttl time.Duration, share float64) time.Duration {
	life := ttl
	if share > 0 && share < 1 {
		life = max(life, time.Duration(float64(took)*(1/share-1)))
	} else {
		life = max(life, took)
	}
	return min(life, max(ttl, maxLife))
}

// get returns a snapshot no older than lifeFor(its build time) plus its build time, waiting for a
// build when needed.
func (c *snapshots) get(ctx context.Context) (*snapshot, error) {
	want := c.gen.Load()
	waited := false
	for {
		cur := c.cur.Load()
		now := time.Now()
		if servable(cur, want, now) {
			if !waited {
				c.served(cur, now)
			} else {
				c.refreshIfDue(cur, now)
			}
			return cur, nil
		}
		call := c.join(cur, "wait")
		if call == nil {
			continue // a build finished since cur was read: look again
		}
		if !waited {
			c.m.cacheMiss.Inc()
			waited = true
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err != nil {
			return nil, call.err
		}
		if call.snap.gen >= want {
			return call.snap, nil
		}
		// That build started before a write this reader must see; the loop starts the next.
	}
}

// servable says whether snap may answer a reader who must see write generation want at now.
func servable(snap *snapshot, want uint64, now time.Time) bool {
	return snap != nil && snap.gen >= want && now.Before(snap.expires)
}

// ready returns the snapshot get would serve at now without waiting, or nil. It changes nothing,
// so a caller that finds it cannot use the snapshot can still hand the request to get; one that
// serves it calls served.
func (c *snapshots) ready(now time.Time) *snapshot {
	if cur := c.cur.Load(); servable(cur, c.gen.Load(), now) {
		return cur
	}
	return nil
}

// served is what serving snap without a wait costs the cache, as in get: a hit, and the next
// build started in the background when snap is in the last stretch of its life.
func (c *snapshots) served(snap *snapshot, now time.Time) {
	c.m.cacheHit.Inc()
	c.refreshIfDue(snap, now)
}

func (c *snapshots) refreshIfDue(snap *snapshot, now time.Time) {
	if !now.Before(snap.refreshAt) {
		c.join(snap, "ahead")
	}
}

// join returns the build in flight or starts one. It returns nil when the current snapshot is no
// longer seen, which means a build finished in between and the caller should look again: so
// readers that all found the same stale snapshot cause one build, not one each.
func (c *snapshots) join(seen *snapshot, trigger string) *buildCall {
	if call := c.inflight.Load(); call != nil {
		return call
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if call := c.inflight.Load(); call != nil {
		return call
	}
	if c.cur.Load() != seen {
		return nil
	}
	call := &buildCall{done: make(chan struct{})}
	if c.closed {
		call.err = errClosed
		close(call.done)
		return call
	}
	c.inflight.Store(call)
	gen := c.gen.Load()
	c.wg.Add(1)
	go c.run(call, gen, trigger)
	return call
}

// run is one build; its result becomes the current snapshot before any waiter is woken.
func (c *snapshots) run(call *buildCall, gen uint64, trigger string) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.base, c.deadline)
	start := time.Now()
	snap, err := c.build(ctx, gen)
	cancel()
	took := time.Since(start)
	c.m.snapshotBuilds.WithLabelValues(trigger).Inc()
	c.m.snapshotBuildDuration.Observe(took.Seconds())
	if err != nil {
		c.m.snapshotBuildErrors.Inc()
	} else {
		// A snapshot is served for a TTL after its build ended, or longer when builds are slow,
		// so that building takes at most share of the wall time: a slow build (the
		// VictoriaMetrics fallback at 100,000 devices costs seconds of CPU) runs on the same cores
		// that answer the readers, and back-to-back builds would double every reader's tail for a
		// fresher answer than the 30 s probe cycle can give. Life is capped so that a build slowed by a hanging backend (up to its deadline)
		// is not then held for long. The next build starts early enough (twice this build's time)
		// to be done when this one expires, so steady readers never wait; with nobody reading,
		// nothing is built.
		done := time.Now()
		life := lifeFor(took, c.ttl, c.share)
		snap.expires = done.Add(life)
		snap.refreshAt = snap.expires.Add(-min(2*took, life))
	}
	c.mu.Lock()
	if err == nil {
		c.cur.Store(snap)
	}
	c.inflight.Store(nil)
	c.mu.Unlock()
	call.snap, call.err = snap, err
	close(call.done)
}

// invalidate makes every later read wait for a snapshot built after this call: called after every
// write, so the writer's next read shows the write.
func (c *snapshots) invalidate() { c.gen.Add(1) }

// close cancels a running build and waits for it; later reads fail with errClosed.
func (c *snapshots) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
}

// setAge says how old the snapshot behind a response is, in whole seconds (RFC 9111 5.1): a client
// can tell a fresh answer from a degraded one without parsing the body.
func setAge(c *gin.Context, snap *snapshot) {
	c.Writer.Header()["Age"] = ageHeader(snap, time.Now())
}

// ageValues are the Age header values of every age a snapshot has within the default bounds (a
// life of at most maxLife plus a build of at most defaultBuildDeadline), made once so that setting
// Age costs no allocation. Each has len == cap, like the other shared header values.
var ageValues = func() [][]string {
	v := make([][]string, (maxLife+defaultBuildDeadline)/time.Second+1)
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

// ageHeader is the Age header value of snap at now: whole seconds, rounded down, never negative.
func ageHeader(snap *snapshot, now time.Time) []string {
	age := max(0, int64(now.Sub(snap.At)/time.Second))
	if age < int64(len(ageValues)) {
		return ageValues[age]
	}
	return []string{strconv.FormatInt(age, 10)}
}

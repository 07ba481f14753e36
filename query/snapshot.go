package query

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardops/wardops/model"
)

// Device states. Unknown is enabled but not probed yet, or no probe newer than three intervals.
const (
	statusUp       = "up"
	statusDown     = "down"
	statusUnknown  = "unknown"
	statusDisabled = "disabled"
)

// Data sources of a snapshot's live state.
const (
	sourceVM       = "victoriametrics"
	sourcePostgres = "ping_results"
)

// staleIntervals is how many of its own ping intervals a device's newest probe may be old before
// the device reads unknown rather than up or down.
const staleIntervals = 3

// downLookback bounds how far back "down since" is searched in ping_results: a device down for
// longer shows the oldest failed probe in the window.
const downLookback = 7 * 24 * time.Hour

// fleetDevice is one device of a snapshot: inventory joined with its latest state.
type fleetDevice struct {
	*model.DeviceSummary // the layout's: shared by every snapshot on one device list
	Status               string
	RTTms                *float64
	Loss                 *float64
	LastProbe            time.Time
	DownSince            *time.Time
	search               string // lower-case "name ip" for the q filter
}

// snapshot is the whole fleet at one moment, shared read-only by every request until the next
// build: the dashboard, the device list and the NOC page all read it.
type snapshot struct {
	At             time.Time // when the build started: every backend read is at or after it
	gen            uint64    // the write generation it was built at
	expires        time.Time // set by snapshots: served until then
	refreshAt      time.Time // set by snapshots: a reader from then on starts the next build
	Source         string
	Degraded       bool
	Problems       []string
	InventoryStale bool
	Devices        []fleetDevice // by id
	layout         *fleetLayout
	rendered       []atomic.Pointer[[]byte] // each device's list JSON, rendered on first use
	Alerts         []model.Alert
	AlertsTotal    int
	AlertsStale    bool
	NewestSample   time.Time
	dashboard      *rendered // the /api/v1/dashboard body
	pages          pageCache // device-list bodies by query string
}

// pageCache keeps the device-list bodies served from one snapshot, so screens polling the same
// page cost one rendering per snapshot. Bounded: distinct query strings beyond the caps are
// rendered per request and not kept.
type pageCache struct {
	mu    sync.Mutex
	m     map[string]*rendered
	bytes int
}

const (
	maxCachedPages     = 256
	maxCachedPageBytes = 8 << 20
)

func (p *pageCache) get(key string) *rendered {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[key]
}

// put keeps r under key unless the caps are reached, and returns the body to serve: the one
// already kept under key when another request rendered the page first. So the readers that all
// miss a page of a new snapshot at once serve one body, and gzip it once between them.
func (p *pageCache) put(key string, r *rendered) *rendered {
	p.mu.Lock()
	defer p.mu.Unlock()
	if kept, ok := p.m[key]; ok {
		return kept
	}
	if len(p.m) >= maxCachedPages || p.bytes+len(r.raw) > maxCachedPageBytes {
		return r
	}
	if p.m == nil {
		p.m = map[string]*rendered{}
	}
	p.m[key] = r
	p.bytes += len(r.raw)
	return r
}

// itemJSON returns the device's list item as JSON, rendering it once per snapshot: a wall of
// screens asking for the same pages costs one encoding per device per second, not per request.
func (s *snapshot) itemJSON(i int) ([]byte, error) {
	if b := s.rendered[i].Load(); b != nil {
		return *b, nil
	}
	b, err := json.Marshal(toDeviceItem(&s.Devices[i]))
	if err != nil {
		return nil, err
	}
	s.rendered[i].Store(&b)
	return b, nil
}

// device returns the device with this id, or nil when the snapshot has none.
func (s *snapshot) device(id int64) *fleetDevice {
	i, ok := s.layout.byID[id]
	if !ok {
		return nil
	}
	return &s.Devices[i]
}

// inventoryCache keeps the last inventory read, so a dashboard build reads the full device list
// only when the fingerprint moved, and so the page stays up while PostgreSQL is down.
type inventoryCache struct {
	mu      sync.Mutex
	version model.InventoryVersion
	layout  *fleetLayout
	alerts  []model.Alert
	alertsN int
	gen     uint64 // the write generation the device list was read at
}

// alertLimit caps the open alerts carried by the dashboard; the total is reported beside them.
const alertLimit = 200

// fleetBuilder makes snapshots: it joins the inventory (PostgreSQL) with the live state
// (ping_results followed by probeTail, or VictoriaMetrics when that fails).
type fleetBuilder struct {
	buildMu      sync.Mutex // one build at a time: it owns tail and prunedAt
	tail         *probeTail
	prunedAt     time.Time
	st           FleetStore
	vm           metricsReader // nil: no fallback for the live state
	m            *metrics
	pingInterval time.Duration // for devices without an interval of their own
	inv          inventoryCache
	log          *slog.Logger
}

// problem records a backend failure on the snapshot in generic words and logs its detail: the
// error text carries database users, hosts and ports, which readers of the dashboard must not see.
func (s *fleetBuilder) problem(snap *snapshot, what string, err error) {
	s.log.Warn("snapshot built around a backend failure", "problem", what, "err", err)
	snap.Problems = append(snap.Problems, what+" (backend error; details in the service log)")
}

// build reads the backends and joins them: a cheap fingerprint and, when it moved or a write came
// after the last read (gen), the device list (PostgreSQL), the open alerts (PostgreSQL), and, in
// parallel, the probes that landed in ping_results since the last build (probeTail), with the
// start of any outage the tail has not seen begin. When that read fails the state comes from
// VictoriaMetrics instead: every device's newest sample, three queries side by side. The first,
// parallel round gets half of ctx's time, so that a backend that hangs still leaves the fallback
// the other half and the build ends by ctx's deadline with an answer.
func (s *fleetBuilder) build(ctx context.Context, gen uint64) (*snapshot, error) {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	now := time.Now().UTC()
	snap := &snapshot{At: now, Source: sourcePostgres, gen: gen}
	first, cancel := halfOf(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var lay *fleetLayout
	var invErr, alertErr, tailErr, placeErr error
	wg.Go(func() { lay, invErr, alertErr = s.readInventory(first, gen) })
	wg.Go(func() { tailErr, placeErr = s.readTail(first, now) })
	wg.Wait()
	if lay == nil && invErr != nil {
		return nil, invErr
	}
	if invErr != nil {
		snap.InventoryStale = true
		s.problem(snap, "postgres: inventory from cache", invErr)
	}
	if alertErr != nil {
		snap.AlertsStale = true
		s.problem(snap, "postgres: alerts from cache", alertErr)
	}
	live, since := s.tail.live, s.tail.since
	if placeErr != nil {
		s.problem(snap, "postgres: down since", placeErr)
	}
	if tailErr != nil {
		snap.Source = sourceVM
		s.problem(snap, "postgres: live state from victoriametrics", tailErr)
		// One interval wider than the stale rule of the slowest device, so that judge, not the
		// query window, tells stale from fresh, and a stale device keeps its last probe time.
		window := (staleIntervals + 1) * s.maxInterval()
		var err error
		live, err = readFleet(ctx, s.vm, window, now)
		if err != nil {
			s.problem(snap, "victoriametrics: fleet state", err)
			live = nil
		}
		since = nil
	}
	snap.layout = lay
	snap.Devices = make([]fleetDevice, len(lay.devices))
	snap.rendered = make([]atomic.Pointer[[]byte], len(lay.devices))
	var down []int64
	for i := range lay.devices {
		fd := &snap.Devices[i]
		fd.DeviceSummary, fd.search = &lay.devices[i], lay.search[i]
		s.judge(fd, live, now)
		if fd.LastProbe.After(snap.NewestSample) {
			snap.NewestSample = fd.LastProbe
		}
		if fd.Status == statusDown {
			down = append(down, fd.ID)
		}
	}
	if since == nil && len(down) > 0 {
		var err error
		since, err = s.downSince(ctx, down, now)
		if err != nil {
			s.problem(snap, "postgres: down since", err)
		}
	}
	for _, id := range down {
		fd := snap.device(id)
		t, ok := since[id]
		if !ok && tailErr != nil {
			// ping_results unreadable: the start the tail saw before, if it saw the device down.
			// An up probe it has not seen since would make that too early; an outage shown too
			// long is the safer error while the table cannot be read.
			t, ok = s.tail.since[id]
		}
		if !ok {
			// No failed probe in ping_results (yet): the newest probe, which failed, is the best bound.
			t = fd.LastProbe
		}
		fd.DownSince = &t
	}
	if tailErr == nil && now.Sub(s.prunedAt) > pruneEvery {
		s.tail.prune(now.Add(-maxFollowGap), lay.byID)
		s.prunedAt = now
	}
	snap.Degraded = len(snap.Problems) > 0
	s.inv.mu.Lock()
	snap.Alerts, snap.AlertsTotal = s.inv.alerts, s.inv.alertsN
	s.inv.mu.Unlock()
	body, err := renderDashboard(snap)
	if err != nil {
		return nil, fmt.Errorf("cannot render dashboard: %w", err)
	}
	snap.dashboard = newRendered(body)
	// Compressed here, before the snapshot is served, not by its first gzip reader: at 100,000
	// devices the body is about 190 KB, and every screen asking in the moment after a new
	// snapshot appeared would wait for that one compression.
	snap.dashboard.gzipped()
	return snap, nil
}

// readInventory returns the device list, re-read only when its fingerprint moved, and refreshes
// the cached open alerts. On a PostgreSQL error the last good data is returned with the error.
func (s *fleetBuilder) readInventory(ctx context.Context, gen uint64) (*fleetLayout, error, error) {
	s.inv.mu.Lock()
	defer s.inv.mu.Unlock()
	invErr := func() error {
		done := s.m.backend("postgres", "inventory")
		defer done()
		v, err := s.st.InventoryVersion(ctx)
		if err != nil {
			s.m.backendError("postgres", "inventory")
			return err
		}
		if s.inv.layout != nil && v == s.inv.version && s.inv.gen == gen {
			return nil
		}
		devs, err := s.st.ListDeviceSummaries(ctx)
		if err != nil {
			s.m.backendError("postgres", "inventory")
			return err
		}
		s.inv.layout, s.inv.version, s.inv.gen = newFleetLayout(devs), v, gen
		return nil
	}()
	alertErr := func() error {
		done := s.m.backend("postgres", "alerts")
		defer done()
		as, n, err := s.st.OpenAlerts(ctx, 0, alertLimit)
		if err != nil {
			s.m.backendError("postgres", "alerts")
			return err
		}
		s.inv.alerts, s.inv.alertsN = as, n
		return nil
	}()
	return s.inv.layout, invErr, alertErr
}

// maxInterval is the longest ping interval of the fleet, which sets the VictoriaMetrics fallback's
// window.
func (s *fleetBuilder) maxInterval() time.Duration {
	s.inv.mu.Lock()
	defer s.inv.mu.Unlock()
	if s.inv.layout == nil {
		return s.pingInterval
	}
	return max(s.inv.layout.maxIntvl, s.pingInterval)
}

// judge sets a device's status from its latest probe: stale after staleIntervals of its intervals.
func (s *fleetBuilder) judge(fd *fleetDevice, live map[int64]liveState, now time.Time) {
	if !fd.Enabled {
		fd.Status = statusDisabled
		return
	}
	st, ok := live[fd.ID]
	if !ok {
		fd.Status = statusUnknown
		return
	}
	fd.LastProbe = st.At
	interval := fd.PingInterval
	if interval <= 0 {
		interval = s.pingInterval
	}
	switch {
	case st.At.Before(now.Add(-staleIntervals * interval)):
		fd.Status = statusUnknown
	case st.Up:
		fd.Status, fd.RTTms, fd.Loss = statusUp, st.RTTms, st.LossRatio
	default:
		fd.Status, fd.Loss = statusDown, st.LossRatio
	}
}

func (s *fleetBuilder) downSince(ctx context.Context, ids []int64, now time.Time) (map[int64]time.Time, error) {
	defer s.m.backend("postgres", "down_since")()
	m, err := s.st.DownSince(ctx, ids, now.Add(-downLookback))
	if err != nil {
		s.m.backendError("postgres", "down_since")
	}
	return m, err
}

// pruneEvery is how often a build drops the tail's devices the inventory no longer lists: a
// pass over the whole tail, so not on every build.
const pruneEvery = time.Minute

// readTail brings the tail up to date and places the outages it has not seen begin; the first
// error says the state could not be read, the second only that some down-since times are missing.
func (s *fleetBuilder) readTail(ctx context.Context, now time.Time) (error, error) {
	done := s.m.backend("postgres", "probes")
	n, err := s.tail.read(ctx, s.st, now)
	done()
	if err != nil {
		s.m.backendError("postgres", "probes")
		return err, nil
	}
	s.m.probeRows.Add(float64(n))
	n, err = s.tail.placeOutages(ctx, func(ctx context.Context, ids []int64) (map[int64]time.Time, error) {
		return s.downSince(ctx, ids, now)
	})
	if err == nil {
		s.m.outagesPlaced.Add(float64(n))
	}
	return nil, err
}

// halfOf is ctx with half of its remaining time, or ctx itself when it has no deadline.
func halfOf(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(dl)/2)
}

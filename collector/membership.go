package collector

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/internal/logthrottle"
	"github.com/wardops/wardops/model"
)

// MemberStore is membership's seam to PostgreSQL; *store.Store implements it.
type MemberStore interface {
	Heartbeat(ctx context.Context, id, zone string, lease time.Duration) ([]model.Collector, error)
	LeaveCollectors(ctx context.Context, id string) error
}

// MembershipOptions configures how collectors pointed at one database share the fleet.
type MembershipOptions struct {
	Store MemberStore
	ID    string // unique among the collectors; the host name by default (config)
	Zone  string // "": any region's devices; else this region's, and regions with no collector
	// Lease is how long a heartbeat counts. A collector that misses it loses its devices to the
	// others, and itself stops probing once its own lease has run out without a renewal, so two
	// collectors never both own a device for longer than about a lease. A collector that was
	// alone at its last heartbeat keeps probing: nobody can have taken over, and a PostgreSQL
	// outage must not blind the only collector (its rows wait in the spool).
	Lease   time.Duration
	Log     *slog.Logger
	Metrics *metrics.Set
}

// Membership heartbeats this collector into the collectors table and keeps the live member list,
// from which Owns assigns each device to exactly one collector (model.Owner). Its zero value is
// not usable; a nil *Membership owns everything (one collector, no sharing).
type Membership struct {
	o       MembershipOptions
	changed chan struct{} // signalled when the member list or the lease state changes
	log     *logthrottle.Throttle

	mu         sync.Mutex
	members    []model.Collector
	validUntil time.Time // our lease by our clock: set from before the heartbeat was sent
	key        string    // fingerprint of members and lease state
	owned      int
	// held is cancelled when the lease lapses (and renewed when it is regained): fleet loads run
	// under it, so a load stuck on a PostgreSQL connection that went silent (packets dropped, no
	// reset) cannot keep the scheduler from dropping a share the others have taken over.
	held     context.Context
	dropHeld context.CancelFunc
}

// NewMembership checks the options.
func NewMembership(o MembershipOptions) (*Membership, error) {
	if o.Store == nil || o.ID == "" || o.Lease <= 0 || o.Log == nil || o.Metrics == nil {
		return nil, errors.New("cannot build membership: Store, ID, a positive Lease, Log and Metrics are required")
	}
	m := &Membership{o: o, changed: make(chan struct{}, 1), log: logthrottle.New(30 * time.Second)}
	m.held, m.dropHeld = context.WithCancel(context.Background())
	o.Metrics.NewGauge(`wardops_collector_members`, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return float64(len(m.members))
	})
	o.Metrics.NewGauge(`wardops_collector_lease_valid`, func() float64 {
		if m.leaseValid(time.Now()) {
			return 1
		}
		return 0
	})
	o.Metrics.NewGauge(`wardops_collector_owned_devices`, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return float64(m.owned)
	})
	return m, nil
}

// Changed is signalled when assignment may have moved: the scheduler reloads at once.
func (m *Membership) Changed() <-chan struct{} {
	if m == nil {
		return nil
	}
	return m.changed
}

// Run heartbeats every third of the lease until ctx ends, then leaves, so the others take this
// collector's devices at once rather than a lease later. The first heartbeat has already been
// sent by Join.
func (m *Membership) Run(ctx context.Context) error {
	t := time.NewTicker(m.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.o.Store.LeaveCollectors(lctx, m.o.ID); err != nil {
				m.o.Log.Warn("cannot leave the collector group; the others wait for the lease", "err", err)
			}
			return nil
		case <-t.C:
			m.beat(ctx)
		}
	}
}

// Join sends the first heartbeat, so the first fleet load already knows the members.
func (m *Membership) Join(ctx context.Context) { m.beat(ctx) }

func (m *Membership) beat(ctx context.Context) {
	sent := time.Now()
	hctx, cancel := context.WithTimeout(ctx, m.o.Lease/3)
	members, err := m.o.Store.Heartbeat(hctx, m.o.ID, m.o.Zone, m.o.Lease)
	cancel()
	m.mu.Lock()
	if err == nil {
		m.members, m.validUntil = members, sent.Add(m.o.Lease)
	}
	key := m.keyLocked(time.Now())
	moved := key != m.key
	switch {
	case key == "lapsed" && m.held.Err() == nil:
		m.dropHeld()
	case key != "lapsed" && m.held.Err() != nil:
		m.held, m.dropHeld = context.WithCancel(context.Background())
	}
	m.key = key
	m.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		m.log.Log(m.o.Log, slog.LevelWarn, "cannot heartbeat; this collector stops probing when its lease runs out",
			"err", err, "lease", m.o.Lease)
	}
	if moved {
		m.o.Log.Info("collector group changed", "members", memberIDs(members), "lease_valid", err == nil)
		select {
		case m.changed <- struct{}{}:
		default:
		}
	}
}

func (m *Membership) leaseValidLocked(now time.Time) bool { return now.Before(m.validUntil) }

func (m *Membership) owns(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ownsLocked(now)
}

func (m *Membership) leaseValid(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaseValidLocked(now)
}

func (m *Membership) keyLocked(now time.Time) string {
	if !m.ownsLocked(now) {
		return "lapsed"
	}
	return memberIDs(m.members)
}

// ownsLocked says whether this collector may probe its share: its lease holds, or it was alone.
func (m *Membership) ownsLocked(now time.Time) bool {
	if m.leaseValidLocked(now) {
		return true
	}
	return len(m.members) == 1 && m.members[0].ID == m.o.ID
}

func memberIDs(ms []model.Collector) string {
	ids := make([]string, len(ms))
	for i, c := range ms {
		ids[i] = c.ID + "@" + c.Zone
	}
	return strings.Join(ids, ",")
}

// Fingerprint changes whenever the assignment may have: members joined or left, or our lease
// lapsed.
func (m *Membership) Fingerprint() string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keyLocked(time.Now())
}

// filter keeps the devices this collector owns, and their items. With a lapsed lease it owns none.
func (m *Membership) filter(f *model.Fleet) *model.Fleet {
	if m == nil {
		return f
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &model.Fleet{Items: map[int64][]model.Item{}}
	if m.ownsLocked(time.Now()) {
		for _, d := range f.Devices {
			if model.Owner(m.members, d.ID, d.Region) == m.o.ID {
				out.Devices = append(out.Devices, d)
				out.Items[d.ID] = f.Items[d.ID]
			}
		}
	}
	m.owned = len(out.Devices)
	return out
}

// ownedFleet is the scheduler's fleet when collectors share it: the inventory narrowed to this
// collector's devices, and a version that moves with the membership as well as the inventory.
type ownedFleet struct {
	inner FleetLoader
	m     *Membership
	last  *fullFleet // nil: every load reads the inventory
}

// fullFleet is the last whole inventory read, kept so that a change of the collector group
// (a member died or joined: every survivor reloads at once) only narrows it again instead of
// reading 100,000 devices and their items from PostgreSQL while the hand-over waits. It is reused
// while the inventory's version is unchanged and for at most fullReloadEvery, like the
// scheduler's own version check.
type fullFleet struct {
	mu      sync.Mutex
	version string
	at      time.Time
	fleet   *model.Fleet
}

func newOwnedFleet(inner FleetLoader, m *Membership) ownedFleet {
	return ownedFleet{inner: inner, m: m, last: &fullFleet{}}
}

// whileHeld narrows ctx to the time this collector holds its share; ok is false when it holds
// none now, and there is nothing to ask PostgreSQL for.
func (o ownedFleet) whileHeld(ctx context.Context) (_ context.Context, cancel func(), ok bool) {
	o.m.mu.Lock()
	held, owns := o.m.held, o.m.ownsLocked(time.Now())
	o.m.mu.Unlock()
	if !owns {
		return ctx, func() {}, false
	}
	ctx, cancelCtx := context.WithCancel(ctx)
	stop := context.AfterFunc(held, cancelCtx)
	return ctx, func() { stop(); cancelCtx() }, true
}

func (o ownedFleet) LoadFleet(ctx context.Context) (*model.Fleet, error) {
	ctx, cancel, ok := o.whileHeld(ctx)
	defer cancel()
	if !ok {
		return o.m.filter(&model.Fleet{}), nil
	}
	f, err := o.load(ctx)
	if err != nil {
		// Cut off from PostgreSQL the lease runs out too: then stop probing rather than keep a
		// share the others have taken over by now (unless there are no others).
		if !o.m.owns(time.Now()) {
			return o.m.filter(&model.Fleet{}), nil
		}
		return nil, err
	}
	return o.m.filter(f), nil
}

// load returns the whole inventory: the one read last while its version stands, else a new read.
func (o ownedFleet) load(ctx context.Context) (*model.Fleet, error) {
	fv, ok := o.inner.(fleetVersioner)
	if o.last == nil || !ok {
		return o.inner.LoadFleet(ctx)
	}
	// The version is read before the fleet: an inventory change in between is stored under the
	// older version, so the next load reads again instead of missing it.
	v, err := fv.FleetVersion(ctx)
	if err != nil {
		return nil, err
	}
	o.last.mu.Lock()
	defer o.last.mu.Unlock()
	if o.last.fleet != nil && o.last.version == v && time.Since(o.last.at) < fullReloadEvery {
		return o.last.fleet, nil
	}
	f, err := o.inner.LoadFleet(ctx)
	if err != nil {
		return nil, err
	}
	o.last.version, o.last.at, o.last.fleet = v, time.Now(), f
	return f, nil
}

func (o ownedFleet) FleetVersion(ctx context.Context) (string, error) {
	fv, ok := o.inner.(fleetVersioner)
	if !ok {
		return "", errors.New("fleet has no version")
	}
	ctx, cancel, ok := o.whileHeld(ctx)
	defer cancel()
	if !ok {
		// Nothing to compare: a lapsed collector owns no device whatever the inventory holds.
		return "|" + o.m.Fingerprint(), nil
	}
	v, err := fv.FleetVersion(ctx)
	if err != nil {
		return "", err
	}
	return v + "|" + o.m.Fingerprint(), nil
}

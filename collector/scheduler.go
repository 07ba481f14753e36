package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"

	"github.com/wardops/wardops/internal/logthrottle"
)

// SNMPPoller polls one device's items in one session. Returned samples carry only their own labels
// (the table index, ifName...); the scheduler adds the device labels, and the poll's start time
// when a sample has no timestamp. A poll error with samples still reports the samples.
type SNMPPoller interface {
	Poll(ctx context.Context, dev model.Device, items []model.Item) ([]sample.Sample, error)
}

// labelledPoller is implemented by pollers that put the device labels in front of every
// sample's own themselves (snmp.Poller, which reuses each series' label block across polls), so
// the scheduler need not build a label slice per sample.
type labelledPoller interface {
	PollLabelled(ctx context.Context, dev model.Device, items []model.Item, base []sample.Label) ([]sample.Sample, error)
}

// forgetter is implemented by pollers that keep per-device state (snmp.Poller: cached labels,
// last uptime): a device gone from the inventory is forgotten at once, not swept hours later.
type forgetter interface {
	Forget(deviceID int64)
}

// FleetLoader reads the inventory; *store.Store implements it.
type FleetLoader interface {
	LoadFleet(ctx context.Context) (*model.Fleet, error)
}

// fleetVersioner is implemented by loaders that can tell cheaply whether the inventory changed
// (*store.Store does); the scheduler then skips reloads that would change nothing.
type fleetVersioner interface {
	FleetVersion(ctx context.Context) (string, error)
}

// fullReloadEvery bounds how long a version check alone may stand in for a reload, in case a
// change slips past the fingerprint (a row edited by hand without touching updated_at).
const fullReloadEvery = 5 * time.Minute

// SchedulerOptions configures a Scheduler. The operator settings (intervals, counts, workers) have
// their defaults in config and must be set; the confirmation burst's zero values take the
// defaults noted.
type SchedulerOptions struct {
	Fleet  FleetLoader
	Engine icmp.Engine
	SNMP   SNMPPoller // nil: no SNMP polling

	PingInterval    time.Duration // default per device; model.Device.PingInterval overrides
	PingCount       int           // echoes per probe
	EchoInterval    time.Duration // pacing between a probe's echoes
	PingTimeout     time.Duration // wait after the last echo
	ConfirmCount    int           // echoes of the confirmation burst after a total loss (3)
	ConfirmInterval time.Duration // their pacing (200ms)
	ConfirmTimeout  time.Duration // wait after the burst's last echo (1s)

	SNMPInterval    time.Duration   // default per item; model.Item.Interval overrides
	ProbeWorkers    int             // ICMP probes in flight at most
	SNMPWorkers     int             // SNMP polls in flight at most
	InventoryReload time.Duration   // how often the fleet is re-read
	Reload          <-chan struct{} // optional: reload at once (the collector group changed)
	// Targets is checked again here, after the importer and the API: a row written by hand (or
	// before the policy changed) is skipped, logged and counted, never probed.
	Targets model.TargetPolicy

	Samples func(ss ...sample.Sample)    // where samples go (the VictoriaMetrics sink)
	Pings   func(rs ...model.PingResult) // where ping_results rows go (the ping_results sink)
	// SNMPStates, when set, takes each SNMP poll's samples for the alerter's SNMP rules
	// (snmpstates.go): the device, its labels in front of every sample's, the poll's start and
	// whether it succeeded.
	SNMPStates func(dev model.Device, base []sample.Label, at time.Time, ss []sample.Sample, ok bool)
	Log        *slog.Logger
	Metrics    *metrics.Set
}

// settingsOf is the operator settings of o, for an error message.
func settingsOf(o SchedulerOptions) map[string]any {
	return map[string]any{"PingInterval": o.PingInterval, "PingCount": o.PingCount, "EchoInterval": o.EchoInterval,
		"PingTimeout": o.PingTimeout, "SNMPInterval": o.SNMPInterval, "ProbeWorkers": o.ProbeWorkers,
		"SNMPWorkers": o.SNMPWorkers, "InventoryReload": o.InventoryReload}
}

// deviceInfo is a device with its series labels built once per reload, not once per sample.
type deviceInfo struct {
	dev    model.Device
	labels []sample.Label
}

type itemSet struct{ items []model.Item }

// Scheduler probes every enabled device on its own phase of its interval and reloads the
// inventory so changes take effect without a restart.
type Scheduler struct {
	o    SchedulerOptions
	m    *schedMetrics
	ping *lane
	snmp *lane

	// Touched by the reload goroutine only.
	pingTargets    map[int64]*target
	snmpTargets    map[string]*target
	fleetVersion   string // fingerprint of the fleet last applied
	lastFullReload time.Time

	icmpErrLog, snmpErrLog, reloadLog *logthrottle.Throttle
}

// NewScheduler checks the options and registers the scheduler's metrics.
func NewScheduler(o SchedulerOptions) (*Scheduler, error) {
	if o.Fleet == nil || o.Engine == nil || o.Samples == nil || o.Pings == nil || o.Log == nil || o.Metrics == nil {
		return nil, errors.New("cannot build scheduler: Fleet, Engine, Samples, Pings, Log and Metrics are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	if o.PingInterval <= 0 || o.EchoInterval <= 0 || o.PingTimeout <= 0 || o.SNMPInterval <= 0 || o.InventoryReload <= 0 ||
		o.PingCount <= 0 || o.ProbeWorkers <= 0 || o.SNMPWorkers <= 0 {
		return nil, fmt.Errorf("cannot build scheduler: every interval, count and worker limit must be positive (%+v)", settingsOf(o))
	}
	def(&o.ConfirmInterval, 200*time.Millisecond)
	def(&o.ConfirmTimeout, time.Second)
	defInt(&o.ConfirmCount, 3)
	s := &Scheduler{
		o:           o,
		pingTargets: map[int64]*target{},
		snmpTargets: map[string]*target{},
		icmpErrLog:  logthrottle.New(10 * time.Second),
		snmpErrLog:  logthrottle.New(10 * time.Second),
		reloadLog:   logthrottle.New(time.Minute),
	}
	s.m = newSchedMetrics(o.Metrics, func(kind string) int {
		if kind == kindICMP {
			return int(s.ping.count.Load())
		}
		return int(s.snmp.count.Load())
	})
	// 64 probes per window matches the engine's receive batch and stays far below a receive
	// buffer's worth of replies, even when the socket is unprivileged (rmem_max, about 200 KiB).
	s.ping = newLane(kindICMP, o.ProbeWorkers, batching{every: o.PingInterval, probes: 64, max: time.Second}, s.m.kinds[kindICMP], s.probeICMP)
	s.snmp = newLane(kindSNMP, o.SNMPWorkers, batching{}, s.m.kinds[kindSNMP], s.pollSNMP)
	return s, nil
}

// Run schedules until ctx ends, then returns once every probe in flight has finished (each is
// bounded by its own timeouts), so the writers can flush everything the probes produced.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.ping.Run(ctx) }()
	go func() { defer wg.Done(); s.snmp.Run(ctx) }()
	t := time.NewTicker(s.o.InventoryReload)
	defer t.Stop()
	for {
		s.reload(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
		case <-s.o.Reload:
		}
	}
}

// reload reads the fleet and applies it; on error the last fleet keeps being probed.
func (s *Scheduler) reload(ctx context.Context) {
	var version string
	if fv, ok := s.o.Fleet.(fleetVersioner); ok {
		v, err := fv.FleetVersion(ctx)
		if err == nil && v == s.fleetVersion && time.Since(s.lastFullReload) < fullReloadEvery {
			s.m.reloadsSkipped.Inc()
			return
		}
		version = v
	}
	f, err := s.o.Fleet.LoadFleet(ctx)
	s.m.reloads.Inc()
	if err != nil {
		if ctx.Err() == nil {
			s.m.reloadErrors.Inc()
			s.reloadLog.Log(s.o.Log, slog.LevelWarn, "cannot reload inventory; probing the last one", "err", err)
		}
		return
	}
	s.fleetVersion, s.lastFullReload = version, time.Now()
	s.apply(f, time.Now())
}

// apply diffs the fleet against the targets: new ones are scheduled at their next slot, changed
// ones get the new device (labels, address) in place and are rescheduled only when their interval
// changed, gone ones are marked removed so their pending heap entry is discarded.
func (s *Scheduler) apply(f *model.Fleet, now time.Time) {
	seenPing := make(map[int64]bool, len(f.Devices))
	seenSNMP := map[string]bool{}
	for _, d := range f.Devices {
		if err := s.o.Targets.Check(d.IP); err != nil {
			s.m.refused.Inc()
			s.reloadLog.Log(s.o.Log, slog.LevelWarn, "device not probed", "device_id", d.ID, "err", err)
			continue // not seen: a target it had is removed below
		}
		seenPing[d.ID] = true
		info := &deviceInfo{dev: d, labels: DeviceLabels(d)}
		iv := d.PingInterval
		if iv <= 0 {
			iv = s.o.PingInterval
		}
		s.upsert(s.ping, s.pingTargets[d.ID], "icmp/"+deviceKey(d.ID), iv, info, nil, now, func(t *target) { s.pingTargets[d.ID] = t })
		if s.o.SNMP == nil || d.SNMP.Version == "" {
			continue
		}
		for iv, items := range s.groupItems(f.Items[d.ID]) {
			key := "snmp/" + deviceKey(d.ID) + "/" + strconv.FormatInt(int64(iv/time.Millisecond), 10)
			seenSNMP[key] = true
			s.upsert(s.snmp, s.snmpTargets[key], key, iv, info, &itemSet{items: items}, now, func(t *target) { s.snmpTargets[key] = t })
		}
	}
	for id, t := range s.pingTargets {
		if !seenPing[id] {
			t.removed.Store(true)
			s.ping.count.Add(-1)
			delete(s.pingTargets, id)
			if fg, ok := s.o.SNMP.(forgetter); ok {
				fg.Forget(id)
			}
		}
	}
	for key, t := range s.snmpTargets {
		if !seenSNMP[key] {
			t.removed.Store(true)
			s.snmp.count.Add(-1)
			delete(s.snmpTargets, key)
		}
	}
}

func (s *Scheduler) upsert(l *lane, t *target, key string, iv time.Duration, info *deviceInfo, items *itemSet, now time.Time, add func(*target)) {
	if t == nil {
		t = newTarget(key, iv)
		t.dev.Store(info)
		t.items.Store(items)
		add(t)
		l.count.Add(1)
		l.schedule(t, now)
		return
	}
	t.dev.Store(info)
	t.items.Store(items)
	if t.every() != iv {
		t.interval.Store(int64(iv))
		l.schedule(t, now)
	}
}

// groupItems splits a device's items by effective interval: one poll per device and interval.
func (s *Scheduler) groupItems(items []model.Item) map[time.Duration][]model.Item {
	out := map[time.Duration][]model.Item{}
	for _, it := range items {
		iv := it.Interval
		if iv <= 0 {
			iv = s.o.SNMPInterval
		}
		out[iv] = append(out[iv], it)
	}
	return out
}

// DeviceLabels are the labels every series of a device carries (the stable interface in doc.go).
func DeviceLabels(d model.Device) []sample.Label {
	return []sample.Label{
		{Name: "device_id", Value: deviceKey(d.ID)},
		{Name: "device", Value: d.Name},
		{Name: "ip", Value: d.IP.String()},
		{Name: "branch", Value: d.Branch},
		{Name: "region", Value: d.Region},
		{Name: "vendor", Value: d.Vendor},
	}
}

// probeICMP runs one probe and, when every echo was lost on a device not already known down, a
// short confirmation burst: a dead device is reported dead seconds after its slot, and a single
// unlucky round does not flap an up device.
func (s *Scheduler) probeICMP(ctx context.Context, t *target, _ time.Time) {
	info := t.dev.Load()
	km := s.m.kinds[kindICMP]
	start := time.Now()
	res, err := s.o.Engine.Probe(ctx, icmp.Request{Addr: info.dev.IP, Count: s.o.PingCount, Interval: s.o.EchoInterval, Timeout: s.o.PingTimeout})
	if res.Received == 0 && t.lastUp.Load() != 0 && ctx.Err() == nil {
		s.m.confirmations.Inc()
		c, cerr := s.o.Engine.Probe(ctx, icmp.Request{Addr: info.dev.IP, Count: s.o.ConfirmCount, Interval: s.o.ConfirmInterval, Timeout: s.o.ConfirmTimeout})
		res.Sent += c.Sent
		res.Received = c.Received
		res.Min, res.Max, res.Avg, res.StdDev = c.Min, c.Max, c.Avg, c.StdDev
		if err == nil {
			err = cerr
		}
	}
	km.probes.Inc()
	km.duration.UpdateDuration(start)
	if err != nil {
		// A send the kernel refused (no route, a firewall drop) means the device is unreachable
		// from here: it is reported down like a silent one, and counted as an error too.
		km.errors.Inc()
		s.icmpErrLog.Log(s.o.Log, slog.LevelWarn, "icmp probe failed", "device", info.dev.Name, "ip", info.dev.IP, "err", err)
		res.Received = 0
	}
	if res.Start.IsZero() {
		res.Start = start
	}
	up := res.Received > 0
	if up {
		t.lastUp.Store(1)
	} else {
		t.lastUp.Store(0)
		km.failures.Inc()
	}
	ss := PingSamples(info.labels, res)
	s.m.samples.Add(len(ss))
	s.o.Samples(ss...)
	s.o.Pings(PingRow(info.dev, res))
}

// pollSNMP polls one device's items of one interval.
func (s *Scheduler) pollSNMP(ctx context.Context, t *target, _ time.Time) {
	info, items := t.dev.Load(), t.items.Load()
	km := s.m.kinds[kindSNMP]
	start := time.Now()
	var ss []sample.Sample
	var err error
	lp, labelled := s.o.SNMP.(labelledPoller)
	if labelled {
		ss, err = lp.PollLabelled(ctx, info.dev, items.items, info.labels)
	} else {
		ss, err = s.o.SNMP.Poll(ctx, info.dev, items.items)
	}
	km.probes.Inc()
	km.duration.UpdateDuration(start)
	if err != nil {
		km.failures.Inc()
		s.snmpErrLog.Log(s.o.Log, slog.LevelWarn, "snmp poll failed", "device", info.dev.Name, "ip", info.dev.IP, "err", err)
	}
	if len(ss) == 0 {
		return
	}
	ts := start.UnixMilli()
	for i := range ss {
		if !labelled {
			ss[i].Labels = slices.Concat(info.labels, ss[i].Labels)
			ss[i].LabelText = "" // rendered without the device labels: the writer renders again
		}
		if ss[i].Timestamp == 0 {
			ss[i].Timestamp = ts
		}
	}
	if s.o.SNMPStates != nil {
		s.o.SNMPStates(info.dev, info.labels, start, ss, err == nil)
	}
	s.m.samples.Add(len(ss))
	s.o.Samples(ss...)
}

// Targets reports how many ICMP and SNMP targets are scheduled, for tests and logs.
func (s *Scheduler) Targets() (icmpTargets, snmpTargets int) {
	return int(s.ping.count.Load()), int(s.snmp.count.Load())
}

func (s *Scheduler) String() string {
	i, n := s.Targets()
	return fmt.Sprintf("scheduler: %d icmp targets, %d snmp targets", i, n)
}

package collector

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// SNMPStateStore is the seam to PostgreSQL's snmp_states; *store.Store implements it.
type SNMPStateStore interface {
	UpsertSNMPStates(ctx context.Context, ss []model.SNMPState) error
}

// snmpStatesEvery is how often the latest polls are written: the alerter's SNMP rules judge
// windows of minutes, a second more of latency changes nothing.
const snmpStatesEvery = time.Second

// snmpStates hands each device's latest SNMP poll to the alerter through PostgreSQL, as
// ping_results hands it the probes. The rules judge only the newest poll of a device, so while
// PostgreSQL is down this keeps one state per device (memory bounded by the fleet), not a queue:
// a newer poll replaces the one waiting, carrying forward what it does not itself move (the last
// success, the last reboot, the interfaces a failed poll did not read), and everything waiting is
// written when PostgreSQL answers again. The samples themselves go to VictoriaMetrics through the
// durable spool as always.
type snmpStates struct {
	st  SNMPStateStore
	log *slog.Logger

	mu      sync.Mutex
	pending map[int64]model.SNMPState
	// last holds each device's error counters at its previous poll, by interface index, for
	// the error rate.
	last map[int64]errorTotals

	written, failed *metrics.Counter
}

type errorTotals struct {
	at     time.Time
	totals map[string]float64
}

func newSNMPStates(st SNMPStateStore, log *slog.Logger, set *metrics.Set) *snmpStates {
	s := &snmpStates{st: st, log: log, pending: map[int64]model.SNMPState{}, last: map[int64]errorTotals{},
		written: set.NewCounter(`wardops_collector_snmp_states_written_total`),
		failed:  set.NewCounter(`wardops_collector_snmp_states_write_errors_total`)}
	set.NewGauge(`wardops_collector_snmp_states_pending`, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.pending))
	})
	return s
}

// ifRow gathers one interface's columns from a poll's samples.
type ifRow struct {
	labels      map[string]string
	oper, admin int
	errs        float64
	haveErrs    bool
}

// observe reduces one poll's samples (base is the device's labels, in front of each sample's
// own) to the device's SNMP state and queues it.
func (s *snmpStates) observe(dev model.Device, base []sample.Label, at time.Time, ss []sample.Sample, ok bool) {
	st := model.SNMPState{DeviceID: dev.ID, PolledAt: at, Up: ok}
	if ok {
		st.LastOK = at
	}
	rows := map[string]*ifRow{}
	var order []string
	for i := range ss {
		smp := &ss[i]
		switch smp.Name {
		case model.MetricSNMPRebootDetected:
			if smp.Value == 1 {
				st.RebootedAt = at
			}
			continue
		case model.MetricIfOperStatus, model.MetricIfAdminStatus, model.MetricIfInErrors, model.MetricIfOutErrors:
		default:
			continue
		}
		own := smp.Labels[min(len(base), len(smp.Labels)):]
		idx := ""
		for _, l := range own {
			if l.Name == "index" {
				idx = l.Value
			}
		}
		r := rows[idx]
		if r == nil {
			r = &ifRow{labels: make(map[string]string, len(own))}
			for _, l := range own {
				// The counter width tells two series of one counter apart, not two interfaces.
				if l.Name != "counter_bits" {
					r.labels[l.Name] = l.Value
				}
			}
			rows[idx] = r
			order = append(order, idx)
		}
		switch smp.Name {
		case model.MetricIfOperStatus:
			r.oper = int(smp.Value)
		case model.MetricIfAdminStatus:
			r.admin = int(smp.Value)
		default:
			r.errs += smp.Value
			r.haveErrs = true
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.last[dev.ID]
	next := errorTotals{at: at, totals: make(map[string]float64, len(rows))}
	for _, idx := range order {
		r := rows[idx]
		rate := math.NaN()
		if r.haveErrs {
			next.totals[idx] = r.errs
			if p, ok := prev.totals[idx]; ok && r.errs >= p && at.After(prev.at) {
				// A counter that went back (a reboot, a wrap) gives no rate this poll.
				rate = (r.errs - p) / at.Sub(prev.at).Seconds()
			}
		}
		st.Interfaces = append(st.Interfaces, model.InterfaceState{Labels: r.labels, Oper: r.oper, Admin: r.admin})
		st.ErrorRates = append(st.ErrorRates, rate)
	}
	if len(rows) > 0 {
		st.InterfacesAt = at
		s.last[dev.ID] = next
	}
	if old, ok := s.pending[dev.ID]; ok {
		carry(&st, old)
	}
	s.pending[dev.ID] = st
}

// carry gives newer what older knew and newer's poll did not move.
func carry(newer *model.SNMPState, older model.SNMPState) {
	if newer.LastOK.IsZero() {
		newer.LastOK = older.LastOK
	}
	if newer.RebootedAt.IsZero() {
		newer.RebootedAt = older.RebootedAt
	}
	if newer.InterfacesAt.IsZero() {
		newer.InterfacesAt, newer.Interfaces, newer.ErrorRates = older.InterfacesAt, older.Interfaces, older.ErrorRates
	}
}

// Run writes the waiting states every snmpStatesEvery until ctx ends, then once more.
func (s *snmpStates) Run(ctx context.Context) {
	t := time.NewTicker(snmpStatesEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flush(fctx)
			cancel()
			return
		case <-t.C:
			s.flush(ctx)
		}
	}
}

func (s *snmpStates) flush(ctx context.Context) {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	batch := make([]model.SNMPState, 0, len(s.pending))
	for _, st := range s.pending {
		batch = append(batch, st)
	}
	clear(s.pending)
	for id, l := range s.last {
		if time.Since(l.at) > 2*time.Hour {
			delete(s.last, id) // a device no longer polled here
		}
	}
	s.mu.Unlock()
	if err := s.st.UpsertSNMPStates(ctx, batch); err != nil {
		s.failed.Inc()
		s.log.Warn("cannot hand SNMP states to the alerter; kept for the next write", "devices", len(batch), "err", err)
		s.mu.Lock()
		for _, st := range batch {
			if n, ok := s.pending[st.DeviceID]; ok {
				carry(&n, st)
				st = n
			}
			s.pending[st.DeviceID] = st
		}
		s.mu.Unlock()
		return
	}
	s.written.Add(len(batch))
}

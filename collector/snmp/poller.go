package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// sysUpTimeOID is fetched in every poll, item or not: it drives reboot detection.
const sysUpTimeOID = ".1.3.6.1.2.1.1.3.0"

// Options configure a Poller. Timeout and Retries are operator settings whose defaults live in
// config; the internal knobs' zero values take the defaults noted.
type Options struct {
	Timeout time.Duration // per request, required
	Retries int           // per request, at least 0
	// PollTimeout bounds a whole poll, however many requests it takes; default
	// 4 × Timeout × (Retries+1). A poll also stops at its first timed-out request.
	PollTimeout    time.Duration
	MaxRepetitions uint32        // GETBULK max-repetitions ceiling; default 50
	LabelRefresh   time.Duration // static label columns are re-walked this often; default 30m
	BulkRetryAfter time.Duration // after a GETBULK failure a device is walked with GETNEXT this long; default 30m
	Log            *slog.Logger
	Metrics        *metrics.Set // self-metrics registry; nil: a private set
	now            func() time.Time
}

// Poller polls devices over SNMP. It is safe for concurrent use by many goroutines; each Poll is
// bounded by its own timeouts, so a dead device only costs its own poll.
type Poller struct {
	opts Options
	log  *slog.Logger
	m    *selfMetrics

	mu     sync.Mutex
	states map[int64]*deviceState
	polls  uint64

	shells sync.Pool // *gosnmp.GoSNMP for v1/v2c sessions, see newShell
}

// NewPoller checks opts and returns a Poller with the internal knobs' defaults applied.
func NewPoller(opts Options) (*Poller, error) {
	if opts.Timeout <= 0 || opts.Retries < 0 {
		return nil, fmt.Errorf("cannot build SNMP poller: Timeout must be positive and Retries at least 0 (got %s, %d)", opts.Timeout, opts.Retries)
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = 4 * opts.Timeout * time.Duration(opts.Retries+1)
	}
	if opts.MaxRepetitions == 0 {
		opts.MaxRepetitions = 50
	}
	if opts.LabelRefresh <= 0 {
		opts.LabelRefresh = 30 * time.Minute
	}
	if opts.BulkRetryAfter <= 0 {
		opts.BulkRetryAfter = 30 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	p := &Poller{opts: opts, log: opts.Log, m: newSelfMetrics(opts.Metrics), states: map[int64]*deviceState{}}
	p.shells.New = newShell
	return p, nil
}

// Forget drops what the poller remembers about a device (labels, uptime, error counts); the
// scheduler calls it when a device is deleted. Forgotten state is also swept after two hours.
func (p *Poller) Forget(deviceID int64) {
	p.mu.Lock()
	delete(p.states, deviceID)
	p.mu.Unlock()
}

func (p *Poller) state(dev model.Device, now time.Time) *deviceState {
	key := stateKey(dev)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	if p.polls%4096 == 0 {
		for id, st := range p.states {
			if now.Sub(st.lastPoll) > 2*time.Hour {
				delete(p.states, id)
			}
		}
	}
	st := p.states[dev.ID]
	if st == nil || st.key != key {
		st = newDeviceState(key)
		p.states[dev.ID] = st
	}
	st.lastPoll = now
	return st
}

// Poll fetches items from dev and returns their samples, stamped with the poll's start time, plus
// the device's status series: wardops_snmp_up, wardops_snmp_poll_duration_seconds,
// wardops_snmp_last_reboot_timestamp_seconds, wardops_snmp_reboot_detected and
// wardops_snmp_errors_total{reason}. Samples carry only their own labels (index and label
// columns); the caller adds the device's.
//
// The samples are meaningful even when err is not nil: a failed poll still returns
// wardops_snmp_up 0 and whatever was fetched before the failure, so callers push them regardless.
// err is a *PollError whose Reason is also counted in wardops_collector_snmp_errors_total.
// Concurrent Polls of the same device are serialised.
func (p *Poller) Poll(ctx context.Context, dev model.Device, items []model.Item) ([]sample.Sample, error) {
	return p.PollLabelled(ctx, dev, items, nil)
}

// PollLabelled is Poll with base (the device's labels) in front of every sample's labels. The
// label blocks are built once per device and series and reused while the device's label columns
// and base stay the same, so a poll allocates no label slice: callers must not modify them.
func (p *Poller) PollLabelled(ctx context.Context, dev model.Device, items []model.Item, base []sample.Label) ([]sample.Sample, error) {
	start := p.opts.now()
	st := p.state(dev, start)
	st.mu.Lock()
	defer st.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.opts.PollTimeout)
	defer cancel()
	st.useItems(items)
	st.useBase(base)

	ts := start.UnixMilli()
	out := make([]sample.Sample, 0, st.lastSamples)
	err := p.poll(ctx, st, dev, items, start, ts, &out)
	dur := p.opts.now().Sub(start)
	p.m.duration.Update(dur.Seconds())

	up := 1.0
	if err != nil {
		up = 0
		reason := classify(err)
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			reason = ReasonTimeout // the poll's budget ran out, whatever the last request saw
		case errors.Is(ctx.Err(), context.Canceled):
			reason = ReasonCanceled
		}
		st.errors[reason]++
		p.m.errors[reason].Inc()
		p.m.pollsFailed.Inc()
		err = &PollError{Reason: reason, Err: err}
		p.log.Debug("snmp poll failed", "device", dev.Name, "ip", dev.IP, "reason", reason, "err", err)
	} else {
		p.m.pollsOK.Inc()
	}
	add := func(name string, v float64, b sample.Block) {
		out = append(out, sample.Sample{Name: name, Labels: b.Labels, LabelText: b.Text, Value: v, Timestamp: ts})
	}
	add(model.MetricSNMPUp, up, st.base)
	add(model.MetricSNMPPollDuration, dur.Seconds(), st.base)
	if st.haveUptime {
		add(model.MetricSNMPLastReboot, st.bootTime, st.base)
		detected := 0.0
		if st.rebooted {
			detected = 1
		}
		add(model.MetricSNMPRebootDetected, detected, st.base)
	}
	for _, r := range reasons {
		// The common reasons always exist so increase() sees the first failure; rare ones appear
		// once they happen.
		if n := st.errors[r]; n > 0 || r == ReasonTimeout || r == ReasonAuth || r == ReasonNoSuchObject || r == ReasonEmptyTable {
			add(model.MetricSNMPErrors, float64(n), st.block(labelKey{kind: "reason", a: r}, func(b []sample.Label) []sample.Label {
				return append(b, sample.Label{Name: "reason", Value: r})
			}))
		}
	}
	st.lastSamples = len(out)
	return out, err
}

// poll does the requests of one poll and appends the item samples to out.
func (p *Poller) poll(ctx context.Context, st *deviceState, dev model.Device, items []model.Item, start time.Time, ts int64, out *[]sample.Sample) error {
	st.rebooted = false
	s, err := dial(ctx, dev, p.opts.Timeout, p.opts.Retries, p.opts.MaxRepetitions, p.m, &p.shells)
	if err != nil {
		return err
	}
	defer s.release()
	// gosnmp only watches the context between requests; closing the socket when the poll's
	// context ends interrupts a read in progress, so shutdown and PollTimeout are prompt.
	stop := context.AfterFunc(ctx, s.close)
	defer stop()
	if start.Before(st.noBulkUntil) {
		s.noBulk = true
	}
	if st.maxVarbinds > 0 {
		s.maxVarbinds = st.maxVarbinds
	}
	defer func() { st.maxVarbinds = s.maxVarbinds }()

	// Scalars, with sysUpTime always among them.
	oids := []string{sysUpTimeOID}
	seen := map[string]bool{sysUpTimeOID: true}
	for _, it := range items {
		if it.Kind == "scalar" {
			o := dotted(it.OID)
			if !seen[o] {
				seen[o] = true
				oids = append(oids, o)
			}
		}
	}
	got, err := s.getScalars(oids)
	if err != nil {
		return err
	}
	if v, ok := got[sysUpTimeOID]; ok && v.Type == gosnmp.TimeTicks {
		if t, ok := v.Value.(uint32); ok && st.observeUptime(t, start) {
			st.rebooted = true
			st.labels = nil // interface indexes may have been renumbered (RFC 2863 3.1.5)
			p.m.reboots.Inc()
			p.log.Info("snmp device rebooted", "device", dev.Name, "ip", dev.IP, "uptime_seconds", float64(t)/100)
		}
	}
	for _, it := range items {
		if it.Kind != "scalar" {
			continue
		}
		v, ok := got[dotted(it.OID)]
		if !ok || isException(v.Type) {
			p.countVarbind(st, v.Type)
			continue
		}
		if smp, ok := p.itemSample(st, it, v, st.base, ts); ok {
			*out = append(*out, smp)
		}
	}

	// Tables: the metric columns, plus the label columns when the cache needs them, in one walk.
	var roots, labelRoots []string
	seenRoot := map[string]bool{}
	for _, it := range items {
		if it.Kind != "table" {
			continue
		}
		if r := dotted(it.OID); !seenRoot[r] {
			seenRoot[r] = true
			roots = append(roots, r)
		}
		for _, lo := range it.Labels {
			if r := dotted(lo); !seenRoot[r] {
				seenRoot[r] = true
				labelRoots = append(labelRoots, r)
			}
		}
	}
	if len(roots) == 0 {
		return nil
	}
	refresh := p.labelsNeeded(st, labelRoots, start)
	walk := roots
	if refresh {
		walk = append(append([]string(nil), roots...), labelRoots...)
	}
	walk = append(walk, fallbackRoots(st, items, walk)...)
	cols, err := p.walk(s, st, walk, dev, start)
	if err != nil {
		return err
	}
	if refresh {
		st.labels = make(map[string]map[string]string, len(labelRoots))
		for _, r := range labelRoots {
			m := make(map[string]string, len(cols[r]))
			for _, v := range cols[r] {
				m[v.Name[len(r)+1:]] = text(v)
			}
			st.labels[r] = m
		}
		st.labelsAt, st.labelsMissing = start, false
		st.blocks = nil // rebuilt from the new label columns as rows are emitted
		p.m.labelWalks.Inc()
	}
	fallbacks, err := p.fetchFallbacks(s, st, items, walk, cols)
	if err != nil {
		return err
	}
	tables := newTableRows()
	for _, it := range items {
		if it.Kind != "table" {
			continue
		}
		root := dotted(it.OID)
		sig := st.labelSig(it)
		emit := func(index string, v gosnmp.SnmpPDU, divisor float64) {
			bits, _ := counterBits(it, v)
			labels := p.rowLabels(st, it, sig, index, bits.Value)
			if smp, ok := p.itemSample(st, it, v, labels, ts); ok {
				if divisor > 0 && it.ValueType == "gauge" {
					smp.Value /= divisor
				}
				*out = append(*out, smp)
			}
		}
		for _, v := range cols[root] {
			emit(v.Name[len(root)+1:], v, 1)
		}
		tables.addColumn(tableKey{it.Profile, itemTable(it.Table, it.OID)}, root, cols[root])
		if it.Fallback.OID == "" {
			continue
		}
		fb := dotted(it.Fallback.OID)
		got := fallbacks[it.Name]
		for _, index := range sortedIndexes(got) {
			emit(index, got[index], it.Fallback.Divisor)
		}
		fbRows := indexes(fb, cols[fb])
		for i := range got {
			fbRows[i] = true
		}
		tables.add(tableKey{it.Profile, itemTable(it.Fallback.Table, it.Fallback.OID)}, fbRows)
		if len(got) > 0 {
			tables.stoodIn[tableKey{it.Profile, itemTable(it.Table, it.OID)}] = true
		}
	}
	*out = append(*out, p.tableSamples(st, tables, ts)...)
	return nil
}

// rowLabels are a table row's labels after the base: its index, the cached label columns and,
// for a counter with a fallback, counter_bits. Built once per series and reused while the label
// cache holds; a row that no label column has flags the cache for an early refresh (the flag
// lasts until that refresh, which also drops the blocks).
func (p *Poller) rowLabels(st *deviceState, it model.Item, sig, index, bits string) sample.Block {
	return st.block(labelKey{kind: sig, a: index, b: bits}, func(labels []sample.Label) []sample.Label {
		labels = append(labels, sample.Label{Name: "index", Value: index})
		names := sortedKeys(it.Labels)
		found := false
		for _, n := range names {
			if lv, ok := st.labels[dotted(it.Labels[n])][index]; ok {
				found = true
				if lv != "" {
					labels = append(labels, sample.Label{Name: n, Value: lv})
				}
			}
		}
		if len(names) > 0 && !found {
			st.labelsMissing = true
		}
		if bits != "" {
			labels = append(labels, sample.Label{Name: "counter_bits", Value: bits})
		}
		return labels
	})
}

// labelsNeeded reports whether the label columns must be walked this poll: never walked, after
// a reboot (cleared), every LabelRefresh, or early (at most once a minute) when a row had none.
func (p *Poller) labelsNeeded(st *deviceState, roots []string, now time.Time) bool {
	if len(roots) == 0 {
		return false
	}
	for _, r := range roots {
		if _, ok := st.labels[r]; !ok {
			return true
		}
	}
	age := now.Sub(st.labelsAt)
	return age >= p.opts.LabelRefresh || st.labelsMissing && age >= time.Minute
}

// walk walks the columns, sized by the rows seen last time, and falls back to GETNEXT when
// GETBULK fails on a device that has just answered a GET: the agent mishandles bulk.
func (p *Poller) walk(s *session, st *deviceState, roots []string, dev model.Device, now time.Time) (map[string][]gosnmp.SnmpPDU, error) {
	reps := uint32(10)
	if n := 0; len(st.rows) > 0 {
		for _, r := range roots {
			n = max(n, st.rows[r])
		}
		if n > 0 {
			reps = uint32(n + 1) // +1 so the walk sees the end of the column in the same response
		}
	}
	reps = min(reps, p.opts.MaxRepetitions)
	cols, err := s.walkColumns(roots, reps)
	if err != nil && !s.noBulk {
		switch classify(err) {
		case ReasonTimeout, ReasonErrorStatus, ReasonOther:
			p.m.bulkFallbacks.Inc()
			p.log.Warn("snmp GETBULK failed, walking with GETNEXT", "device", dev.Name, "ip", dev.IP, "err", err)
			s.noBulk = true
			st.noBulkUntil = now.Add(p.opts.BulkRetryAfter)
			cols, err = s.walkColumns(roots, reps)
		}
	}
	if err != nil {
		return nil, err
	}
	for r, rows := range cols {
		st.rows[r] = len(rows)
	}
	return cols, nil
}

// itemSample turns one varbind into the item's sample: wardops_snmp_<name>, or for info items
// wardops_snmp_<name>_info 1 with the text in label "value".
func (p *Poller) itemSample(st *deviceState, it model.Item, v gosnmp.SnmpPDU, b sample.Block, ts int64) (sample.Sample, bool) {
	if it.ValueType == "info" {
		val := ""
		if b, ok := v.Value.([]byte); ok && physAddressColumns[strings.TrimPrefix(it.OID, ".")] {
			val = hexColon(b)
		} else {
			val = text(v)
		}
		// A fresh slice: the value changes between polls, so this block is never cached.
		labels := append(slices.Clip(b.Labels), sample.Label{Name: "value", Value: val})
		return sample.Sample{Name: st.metricName(it), Labels: labels, Value: 1, Timestamp: ts}, true
	}
	f, ok := number(v)
	if !ok {
		st.errors[ReasonBadValue]++
		p.m.errors[ReasonBadValue].Inc()
		return sample.Sample{}, false
	}
	return sample.Sample{Name: st.metricName(it), Labels: b.Labels, LabelText: b.Text, Value: f, Timestamp: ts}, true
}

func (p *Poller) countVarbind(st *deviceState, t gosnmp.Asn1BER) {
	reason := ReasonNoSuchObject
	if t == gosnmp.NoSuchInstance {
		reason = ReasonNoSuchInstance
	}
	st.errors[reason]++
	p.m.errors[reason].Inc()
}

// dotted normalises an item OID to gosnmp's form, with a leading dot.
func dotted(oid string) string {
	if strings.HasPrefix(oid, ".") {
		return oid
	}
	return "." + oid
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

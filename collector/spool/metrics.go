package spool

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// Reasons a block leaves the spool without being delivered; the reason label of the drop counters.
const (
	reasonCap       = "cap"        // the disk cap was hit: the oldest segment made room
	reasonCorrupt   = "corrupt"    // a segment's bytes failed their checksum or were cut short
	reasonTooLarge  = "too_large"  // a block larger than MaxBlockBytes was refused by Push
	reasonDiskError = "disk_error" // writing the block to its segment failed
)

var reasons = []string{reasonCap, reasonCorrupt, reasonTooLarge, reasonDiskError}

// queueMetrics are the spool's self-metrics, registered on an injected set and removed on Close.
type queueMetrics struct {
	set           *metrics.Set
	names         []string
	droppedBlocks map[string]*metrics.Counter
	droppedBytes  map[string]*metrics.Counter
	spilledBlocks *metrics.Counter
	spilledBytes  *metrics.Counter
}

func newQueueMetrics(set *metrics.Set, name string, q *Queue) *queueMetrics {
	m := &queueMetrics{
		set:           set,
		droppedBlocks: make(map[string]*metrics.Counter, len(reasons)),
		droppedBytes:  make(map[string]*metrics.Counter, len(reasons)),
	}
	counter := func(n string) *metrics.Counter {
		m.names = append(m.names, n)
		return set.NewCounter(n)
	}
	gauge := func(n string, f func() float64) {
		m.names = append(m.names, n)
		set.NewGauge(n, f)
	}
	// Every reason is created at zero so a dashboard can tell "nothing dropped" from "not exported".
	for _, r := range reasons {
		m.droppedBlocks[r] = counter(fmt.Sprintf(`wardops_spool_dropped_blocks_total{spool=%q,reason=%q}`, name, r))
		m.droppedBytes[r] = counter(fmt.Sprintf(`wardops_spool_dropped_bytes_total{spool=%q,reason=%q}`, name, r))
	}
	m.spilledBlocks = counter(fmt.Sprintf(`wardops_spool_spilled_blocks_total{spool=%q}`, name))
	m.spilledBytes = counter(fmt.Sprintf(`wardops_spool_spilled_bytes_total{spool=%q}`, name))
	gauge(fmt.Sprintf(`wardops_spool_blocks{spool=%q}`, name), func() float64 { return float64(q.Len()) })
	gauge(fmt.Sprintf(`wardops_spool_bytes{spool=%q}`, name), func() float64 { return float64(q.Bytes()) })
	gauge(fmt.Sprintf(`wardops_spool_disk_bytes{spool=%q}`, name), func() float64 { return float64(q.DiskBytes()) })
	return m
}

func (m *queueMetrics) dropped(reason string, blocks int, bytes int64) {
	m.droppedBlocks[reason].Add(blocks)
	m.droppedBytes[reason].AddInt64(bytes)
}

func (m *queueMetrics) unregister() {
	for _, n := range m.names {
		m.set.UnregisterMetric(n)
	}
}

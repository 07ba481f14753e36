package push

import (
	"github.com/VictoriaMetrics/metrics"
)

// writerMetrics are the VictoriaMetrics writer's self-metrics, registered on an injected set.
type writerMetrics struct {
	samples         *metrics.Counter // samples accepted by Add
	blocks          *metrics.Counter // blocks sealed into the queue
	sentBlocks      *metrics.Counter
	sentBytes       *metrics.Counter
	retries         *metrics.Counter
	droppedFull     *metrics.Counter // oldest blocks thrown away by a full queue (or left at exit)
	droppedReject   *metrics.Counter // blocks VictoriaMetrics refused with a 4xx that cannot succeed
	droppedExit     *metrics.Counter // blocks a MemQueue still held when the flush timed out at shutdown
	droppedQueueErr *metrics.Counter // blocks the queue refused (a spool: too large, closed)
	droppedBytes    *metrics.Counter
	errConn         *metrics.Counter
	errStatus       *metrics.Counter
	duration        *metrics.Histogram
}

func newWriterMetrics(set *metrics.Set, q Queue) *writerMetrics {
	m := &writerMetrics{
		samples:         set.NewCounter(`wardops_collector_push_samples_total`),
		blocks:          set.NewCounter(`wardops_collector_push_blocks_total`),
		sentBlocks:      set.NewCounter(`wardops_collector_push_sent_blocks_total`),
		sentBytes:       set.NewCounter(`wardops_collector_push_sent_bytes_total`),
		retries:         set.NewCounter(`wardops_collector_push_retries_total`),
		droppedFull:     set.NewCounter(`wardops_collector_push_dropped_blocks_total{reason="queue_full"}`),
		droppedReject:   set.NewCounter(`wardops_collector_push_dropped_blocks_total{reason="rejected"}`),
		droppedExit:     set.NewCounter(`wardops_collector_push_dropped_blocks_total{reason="shutdown"}`),
		droppedQueueErr: set.NewCounter(`wardops_collector_push_dropped_blocks_total{reason="queue_error"}`),
		droppedBytes:    set.NewCounter(`wardops_collector_push_dropped_bytes_total`),
		errConn:         set.NewCounter(`wardops_collector_push_errors_total{kind="connection"}`),
		errStatus:       set.NewCounter(`wardops_collector_push_errors_total{kind="status"}`),
		duration:        set.NewHistogram(`wardops_collector_push_duration_seconds`),
	}
	set.NewGauge(`wardops_collector_push_queue_blocks`, func() float64 { return float64(q.Len()) })
	set.NewGauge(`wardops_collector_push_queue_bytes`, func() float64 { return float64(q.Size()) })
	return m
}

package sink

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/model"
)

// PingStore is the ping writer's seam to PostgreSQL; *store.Store implements it.
type PingStore interface {
	InsertPingResults(ctx context.Context, rs []model.PingResult) error
	EnsurePingPartitions(ctx context.Context, from time.Time, days int) (int, error)
}

// PingResultsOptions configures the ping_results sink.
type PingResultsOptions struct {
	Options
	Store PingStore
}

// PingResults is the sink of ping results to PostgreSQL.
//
// It batches rows into blocks (pingblock.go), queues them and writes them with COPY, oldest
// first. Delivery is at least once, and ping_results has no key to deduplicate on: a batch is
// written twice when the process dies within the spool's flush interval (1s) after writing it (its
// read position was not saved yet), or when a COPY committed but the acknowledgement was lost with
// the connection. The duplicate is an identical row (same device, same timestamp); the dashboards
// read the latest row per device and are unaffected, a count of probes over that second is one
// too high. Deduplicating would need a unique index on (device_ip, timestamp) and COPY into a
// staging table with INSERT ... ON CONFLICT DO NOTHING on every write, a real cost on the largest
// table for a rare crash-time double; we accept the double instead.
type PingResults = Sink[model.PingResult]

// DropCorrupt is the drop reason of a block that does not decode: it is skipped.
const DropCorrupt = "corrupt"

type pingWriter struct {
	st  PingStore
	m   *pingMetrics
	log *slog.Logger
}

// NewPingResults builds the ping_results sink. Its Run also creates the coming days' partitions,
// at start and hourly, as the migration promises.
func NewPingResults(o PingResultsOptions) (*PingResults, error) {
	if o.Store == nil {
		return nil, errors.New("cannot build ping_results sink: no store")
	}
	if o.Metrics == nil || o.Log == nil {
		return nil, errors.New("cannot build ping_results sink: Log and Metrics are required")
	}
	w := &pingWriter{st: o.Store, m: newPingMetrics(o.Metrics), log: o.Log}
	return newSink(o.Options, backend[model.PingResult]{
		name: "ping_results", records: "rows", what: "PostgreSQL ping_results",
		encode:      func(rs []model.PingResult) []byte { return encodePingBlock(make([]byte, 0, 48*len(rs)), rs) },
		deliver:     w.deliver,
		dropReasons: []string{DropCorrupt},
		maxQueue:    64 << 20, // about 1.5 million rows
		beside: func(ctx context.Context) {
			w.ensurePartitions(ctx)
			Every(ctx, time.Hour, func() { w.ensurePartitions(ctx) })
		},
	})
}

// deliver decodes one block and writes it with COPY; a block that does not decode is skipped.
func (w *pingWriter) deliver(ctx context.Context, b []byte) error {
	rs, err := decodePingBlock(b)
	if err != nil {
		return &DropError{Reason: DropCorrupt, Err: err}
	}
	start := time.Now()
	err = w.st.InsertPingResults(ctx, rs)
	w.m.duration.UpdateDuration(start)
	if err != nil {
		w.m.errors.Inc()
		return err
	}
	w.m.written.Add(len(rs))
	return nil
}

func (w *pingWriter) ensurePartitions(ctx context.Context) {
	if _, err := w.st.EnsurePingPartitions(ctx, time.Now().AddDate(0, 0, -1), 9); err != nil && !errors.Is(err, context.Canceled) {
		w.log.Warn("cannot create ping_results partitions ahead", "err", err)
	}
}

// pingMetrics are what only the ping_results sink exports, beside the shared sink metrics.
type pingMetrics struct {
	written, errors *metrics.Counter
	duration        *metrics.PrometheusHistogram
}

func newPingMetrics(set *metrics.Set) *pingMetrics {
	return &pingMetrics{
		written:  set.NewCounter(`wardops_collector_ping_results_written_total`),
		errors:   set.NewCounter(`wardops_collector_ping_results_write_errors_total`),
		duration: set.NewPrometheusHistogram(`wardops_collector_ping_results_write_duration_seconds`),
	}
}

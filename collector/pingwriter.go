package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/push"
	"github.com/wardops/wardops/model"

	"github.com/wardops/wardops/internal/logthrottle"
)

// PingStore is the ping writer's seam to PostgreSQL; *store.Store implements it.
type PingStore interface {
	InsertPingResults(ctx context.Context, rs []model.PingResult) error
	EnsurePingPartitions(ctx context.Context, from time.Time, days int) (int, error)
}

// PingWriterOptions configures a PingWriter; zero values take the defaults noted.
type PingWriterOptions struct {
	Store PingStore
	// Queue holds sealed batches until PostgreSQL took them: the durable spool under
	// WARDOPS_DATA_DIR/ping_results (push.NewSpoolQueue). nil: an in-memory queue of MaxQueueBytes,
	// whose content is lost (and counted) at exit.
	Queue         push.Queue
	MaxQueueBytes int64         // cap of the default in-memory queue (64 MiB, about 1.5 million rows)
	Batch         int           // rows per block and per COPY at most (5000)
	Interval      time.Duration // longest a row waits before it is sealed into a block (1s)
	MinBackoff    time.Duration // first retry delay while PostgreSQL is down (500ms)
	MaxBackoff    time.Duration // retry delay cap (30s)
	FlushTimeout  time.Duration // how long Run keeps writing after its context ends (10s)
	Log           *slog.Logger
	Metrics       *metrics.Set
}

// PingWriter batches ping_results rows into blocks (pingblock.go), queues them and writes them with
// COPY, oldest first. While PostgreSQL is down the blocks wait in the queue — with a spool, in its
// bounded memory part and then on disk — and a block is acknowledged only after its COPY
// succeeded, so a crash between taking it and writing it replays it. Add never blocks a probe.
//
// Delivery is at least once, and ping_results has no key to deduplicate on: a batch is written
// twice when the process dies within the spool's flush interval (1s) after writing it (its read
// position was not saved yet), or when a COPY committed but the acknowledgement was lost with the
// connection. The duplicate is an identical row (same device, same timestamp); the dashboards
// read the latest row per device and are unaffected, a count of probes over that second is one
// too high. Deduplicating would need a unique index on (device_ip, timestamp) and COPY into a
// staging table with INSERT ... ON CONFLICT DO NOTHING on every write, a real cost on the largest
// table for a rare crash-time double; we accept the double instead.
type PingWriter struct {
	o   PingWriterOptions
	q   push.Queue
	m   *pingWriterMetrics
	log *logthrottle.Throttle // repeated write failures

	mu   sync.Mutex
	rows []model.PingResult // the batch being filled
}

// NewPingWriter builds a PingWriter; it owns and closes o.Queue.
func NewPingWriter(o PingWriterOptions) *PingWriter {
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Interval, time.Second)
	def(&o.MinBackoff, 500*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.FlushTimeout, 10*time.Second)
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 64 << 20
	}
	w := &PingWriter{o: o, q: o.Queue, log: logthrottle.New(30 * time.Second)}
	if w.q == nil {
		// The callback reads w.m, set just below, before any Push can happen.
		w.q = push.NewMemQueue(o.MaxQueueBytes, func(reason string, blocks int, bytes int64) {
			w.dropped(reason, blocks, bytes)
		})
	}
	w.m = newPingWriterMetrics(o.Metrics, w.pending, w.q)
	return w
}

func (w *PingWriter) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.rows)
}

// Add queues one row; a full batch is sealed into a block at once.
func (w *PingWriter) Add(r model.PingResult) {
	w.m.rows.Inc()
	w.mu.Lock()
	w.rows = append(w.rows, r)
	var full []model.PingResult
	if len(w.rows) >= w.o.Batch {
		full = w.takeLocked()
	}
	w.mu.Unlock()
	if full != nil {
		w.push(full)
	}
}

func (w *PingWriter) takeLocked() []model.PingResult {
	rs := w.rows
	w.rows = make([]model.PingResult, 0, min(len(rs), w.o.Batch))
	return rs
}

// seal queues whatever is pending, so no row waits longer than Interval.
func (w *PingWriter) seal() {
	w.mu.Lock()
	var rs []model.PingResult
	if len(w.rows) > 0 {
		rs = w.takeLocked()
	}
	w.mu.Unlock()
	if rs != nil {
		w.push(rs)
	}
}

// push encodes one batch outside the lock and queues it.
func (w *PingWriter) push(rs []model.PingResult) {
	b := encodePingBlock(make([]byte, 0, 48*len(rs)), rs)
	w.m.blocks.Inc()
	if err := w.q.Push(b); err != nil {
		w.dropped(dropQueueError, 1, int64(len(b)))
		w.o.Log.Error("cannot queue ping results", "rows", len(rs), "err", err)
	}
}

// Drop reasons of wardops_collector_ping_results_dropped_blocks_total, beside push.DropQueueFull and
// push.DropShutdown from the in-memory queue. The spool counts its own drops (cap, corrupt frames)
// in wardops_spool_dropped_blocks_total{spool="ping_results"}.
const (
	dropCorrupt    = "corrupt"     // a block that does not decode: skipped
	dropQueueError = "queue_error" // the queue refused a block (too large, closed)
)

func (w *PingWriter) dropped(reason string, blocks int, bytes int64) {
	w.m.droppedBlocks[reason].Add(blocks)
	w.m.droppedBytes.AddInt64(bytes)
	w.o.Log.Warn("dropped ping results", "blocks", blocks, "bytes", bytes, "reason", reason)
}

// Run seals a block every Interval and writes blocks oldest first until ctx ends, backing off while
// PostgreSQL fails; then it seals what is pending, keeps writing for at most FlushTimeout and closes
// the queue, which spools the rest (or, in memory, counts it as dropped). Daily partitions are
// created ahead once an hour, as the migration comment promises.
func (w *PingWriter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		w.ensurePartitions(ctx)
		push.Every(ctx, time.Hour, func() { w.ensurePartitions(ctx) })
	})
	defer wg.Wait()
	p := &push.Pump{
		Queue: w.q, Interval: w.o.Interval, Seal: w.seal, Send: w.send,
		MinBackoff: w.o.MinBackoff, MaxBackoff: w.o.MaxBackoff, FlushTimeout: w.o.FlushTimeout,
		OnFailure: func(err error, failures int, _ time.Duration) {
			w.m.retries.Inc()
			w.log.Log(w.o.Log, slog.LevelWarn, "cannot write ping results; holding them", "err", err,
				"queued_blocks", w.q.Len(), "failures", failures)
		},
		OnRecovered: func(failures int) {
			w.o.Log.Info("ping results writes recovered", "after_failures", failures, "queued_blocks", w.q.Len())
		},
	}
	if n := p.Run(ctx); n > 0 {
		w.o.Log.Warn("ping results flush timed out; the rest stays in the queue", "blocks_left", n, "timeout", w.o.FlushTimeout)
	}
	return w.q.Close()
}

// send decodes one block and writes it with COPY; a block that does not decode is skipped and
// counted.
func (w *PingWriter) send(ctx context.Context, b []byte) error {
	rs, err := decodePingBlock(b)
	if err != nil {
		w.o.Log.Error("skipping a ping_results block that does not decode", "bytes", len(b), "err", err)
		w.dropped(dropCorrupt, 1, int64(len(b)))
		return fmt.Errorf("%w: %w", push.ErrDrop, err)
	}
	return w.write(ctx, rs)
}

func (w *PingWriter) write(ctx context.Context, rs []model.PingResult) error {
	start := time.Now()
	err := w.o.Store.InsertPingResults(ctx, rs)
	w.m.duration.UpdateDuration(start)
	if err != nil {
		w.m.errors.Inc()
		return err
	}
	w.m.written.Add(len(rs))
	return nil
}

func (w *PingWriter) ensurePartitions(ctx context.Context) {
	if _, err := w.o.Store.EnsurePingPartitions(ctx, time.Now().AddDate(0, 0, -1), 9); err != nil && !errors.Is(err, context.Canceled) {
		w.o.Log.Warn("cannot create ping_results partitions ahead", "err", err)
	}
}

// pingWriterMetrics are the ping_results writer's self-metrics; every drop reason starts at zero.
type pingWriterMetrics struct {
	rows, blocks, written, errors, retries *metrics.Counter
	droppedBlocks                          map[string]*metrics.Counter
	droppedBytes                           *metrics.Counter
	duration                               *metrics.Histogram
}

func newPingWriterMetrics(set *metrics.Set, pending func() int, q push.Queue) *pingWriterMetrics {
	set.NewGauge(`wardops_collector_ping_results_pending`, func() float64 { return float64(pending()) })
	set.NewGauge(`wardops_collector_ping_results_queue_blocks`, func() float64 { return float64(q.Len()) })
	set.NewGauge(`wardops_collector_ping_results_queue_bytes`, func() float64 { return float64(q.Size()) })
	m := &pingWriterMetrics{
		rows:          set.NewCounter(`wardops_collector_ping_results_rows_total`),
		blocks:        set.NewCounter(`wardops_collector_ping_results_blocks_total`),
		written:       set.NewCounter(`wardops_collector_ping_results_written_total`),
		errors:        set.NewCounter(`wardops_collector_ping_results_write_errors_total`),
		retries:       set.NewCounter(`wardops_collector_ping_results_retries_total`),
		droppedBlocks: map[string]*metrics.Counter{},
		droppedBytes:  set.NewCounter(`wardops_collector_ping_results_dropped_bytes_total`),
		duration:      set.NewHistogram(`wardops_collector_ping_results_write_duration_seconds`),
	}
	for _, r := range []string{push.DropQueueFull, push.DropShutdown, dropCorrupt, dropQueueError} {
		m.droppedBlocks[r] = set.NewCounter(`wardops_collector_ping_results_dropped_blocks_total{reason="` + r + `"}`)
	}
	return m
}

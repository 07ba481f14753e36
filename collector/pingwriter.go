package collector

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/push"
	"github.com/wardops/wardops/store"

	"github.com/wardops/wardops/internal/logthrottle"
)

// PingStore is the ping writer's seam to PostgreSQL; *store.Store implements it.
type PingStore interface {
	InsertPingResults(ctx context.Context, rs []store.PingResult) error
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
	rows []store.PingResult // the batch being filled
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
func (w *PingWriter) Add(r store.PingResult) {
	w.m.rows.Inc()
	w.mu.Lock()
	w.rows = append(w.rows, r)
	var full []store.PingResult
	if len(w.rows) >= w.o.Batch {
		full = w.takeLocked()
	}
	w.mu.Unlock()
	if full != nil {
		w.push(full)
	}
}

func (w *PingWriter) takeLocked() []store.PingResult {
	rs := w.rows
	w.rows = make([]store.PingResult, 0, min(len(rs), w.o.Batch))
	return rs
}

// seal queues whatever is pending, so no row waits longer than Interval.
func (w *PingWriter) seal() {
	w.mu.Lock()
	var rs []store.PingResult
	if len(w.rows) > 0 {
		rs = w.takeLocked()
	}
	w.mu.Unlock()
	if rs != nil {
		w.push(rs)
	}
}

// push encodes one batch outside the lock and queues it.
func (w *PingWriter) push(rs []store.PingResult) {
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(w.o.Interval)
		defer tick.Stop()
		partitions := time.NewTicker(time.Hour)
		defer partitions.Stop()
		w.ensurePartitions(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				w.seal()
			case <-partitions.C:
				// Slow while PostgreSQL is down (its connect timeout), which only delays one seal.
				w.ensurePartitions(ctx)
			}
		}
	}()
	w.drain(ctx, false)
	wg.Wait()
	w.seal()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.o.FlushTimeout)
	defer cancel()
	w.drain(fctx, true)
	if n := w.q.Len(); n > 0 {
		w.o.Log.Warn("ping results flush timed out; the rest stays in the queue", "blocks_left", n, "timeout", w.o.FlushTimeout)
	}
	if err := w.q.Close(); err != nil {
		return err
	}
	return nil
}

// drain writes blocks until ctx ends (or, with untilEmpty, the queue is empty), acknowledging each
// only after PostgreSQL took it. After a failure the head is fetched again, so a block the spool's
// cap dropped meanwhile is not written after being counted as lost.
func (w *PingWriter) drain(ctx context.Context, untilEmpty bool) {
	failures := 0
	for !untilEmpty || w.q.Len() > 0 {
		b, err := w.q.Next(ctx)
		if err != nil {
			return
		}
		rs, err := decodePingBlock(b)
		if err != nil {
			w.o.Log.Error("skipping a ping_results block that does not decode", "bytes", len(b), "err", err)
			w.dropped(dropCorrupt, 1, int64(len(b)))
			w.q.Ack()
			continue
		}
		if err := w.write(ctx, rs); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			w.m.retries.Inc()
			w.log.Log(w.o.Log, slog.LevelWarn, "cannot write ping results; holding them", "err", err,
				"queued_blocks", w.q.Len(), "failures", failures)
			if !sleep(ctx, backoffDelay(w.o.MinBackoff, w.o.MaxBackoff, failures)) {
				return
			}
			continue
		}
		w.q.Ack()
		if failures > 0 {
			w.o.Log.Info("ping results writes recovered", "after_failures", failures, "queued_blocks", w.q.Len())
			failures = 0
		}
	}
}

func (w *PingWriter) write(ctx context.Context, rs []store.PingResult) error {
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

// sleep waits d or until ctx ends, reporting whether the full delay passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoffDelay doubles from lo per failure up to hi, with ±25% jitter so collectors restarted
// together do not retry in step.
func backoffDelay(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - d/4 + time.Duration(rand.Int64N(int64(d/2)+1))
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

package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/store"
)

// PingStore is the ping writer's seam to PostgreSQL; *store.Store implements it.
type PingStore interface {
	InsertPingResults(ctx context.Context, rs []store.PingResult) error
	EnsurePingPartitions(ctx context.Context, from time.Time, days int) (int, error)
}

// PingWriterOptions configures a PingWriter; zero values take the defaults noted.
type PingWriterOptions struct {
	Store        PingStore
	Batch        int           // rows per COPY at most (5000)
	Interval     time.Duration // longest a row waits (1s)
	MaxPending   int           // rows held while PostgreSQL is down; the oldest are dropped beyond (500,000)
	MaxBackoff   time.Duration // retry delay cap while PostgreSQL is down (30s)
	FlushTimeout time.Duration // how long Run keeps writing after its context ends (10s)
	Log          *slog.Logger
	Metrics      *metrics.Set
}

// PingWriter batches ping_results rows and writes them with COPY, holding them while PostgreSQL is
// down. Add never blocks a probe.
type PingWriter struct {
	o       PingWriterOptions
	m       *pingWriterMetrics
	mu      sync.Mutex
	rows    []store.PingResult
	full    chan struct{} // a batch is ready: write now rather than at the next tick
	dropped int           // rows dropped since the last log line, to throttle it
}

// NewPingWriter builds a PingWriter.
func NewPingWriter(o PingWriterOptions) *PingWriter {
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 500_000
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = 10 * time.Second
	}
	w := &PingWriter{o: o, full: make(chan struct{}, 1)}
	w.m = newPingWriterMetrics(o.Metrics, w.pending)
	return w
}

func (w *PingWriter) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.rows)
}

// Add queues one row, dropping the oldest (counted) when MaxPending rows already wait.
func (w *PingWriter) Add(r store.PingResult) {
	w.mu.Lock()
	w.rows = append(w.rows, r)
	if over := len(w.rows) - w.o.MaxPending; over > 0 {
		w.rows = append(w.rows[:0], w.rows[over:]...)
		w.dropped += over
		w.m.dropped.Add(over)
	}
	ready := len(w.rows) >= w.o.Batch
	w.mu.Unlock()
	if ready {
		select {
		case w.full <- struct{}{}:
		default:
		}
	}
}

// take removes up to Batch of the oldest rows.
func (w *PingWriter) take() []store.PingResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.rows), w.o.Batch)
	if n == 0 {
		return nil
	}
	out := make([]store.PingResult, n)
	copy(out, w.rows[:n])
	w.rows = append(w.rows[:0], w.rows[n:]...)
	return out
}

// putBack returns unwritten rows to the head so they are written first, in probe order.
func (w *PingWriter) putBack(rs []store.PingResult) {
	w.mu.Lock()
	w.rows = append(rs, w.rows...)
	if over := len(w.rows) - w.o.MaxPending; over > 0 {
		w.rows = w.rows[over:]
		w.dropped += over
		w.m.dropped.Add(over)
	}
	w.mu.Unlock()
}

// Run writes batches every Interval (sooner when a batch fills) until ctx ends, backing off while
// PostgreSQL fails; then it writes what is left for at most FlushTimeout and counts the rest as
// dropped. Daily partitions are created ahead once an hour, as the migration comment promises.
func (w *PingWriter) Run(ctx context.Context) error {
	tick := time.NewTicker(w.o.Interval)
	defer tick.Stop()
	partitions := time.NewTicker(time.Hour)
	defer partitions.Stop()
	w.ensurePartitions(ctx)
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return w.flush(ctx)
		case <-partitions.C:
			w.ensurePartitions(ctx)
			continue
		case <-tick.C:
		case <-w.full:
		}
		for ctx.Err() == nil {
			rs := w.take()
			if rs == nil {
				break
			}
			if err := w.write(ctx, rs); err != nil {
				w.putBack(rs)
				if failures%10 == 0 {
					w.o.Log.Warn("cannot write ping results; holding them", "err", err, "pending", w.pending())
				}
				failures++
				if !sleep(ctx, backoffDelay(500*time.Millisecond, w.o.MaxBackoff, failures)) {
					break
				}
				continue
			}
			if failures > 0 {
				w.o.Log.Info("ping results writes recovered", "after_failures", failures)
				failures = 0
			}
		}
		w.logDrops()
	}
}

func (w *PingWriter) flush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.o.FlushTimeout)
	defer cancel()
	for {
		rs := w.take()
		if rs == nil {
			return nil
		}
		if err := w.write(fctx, rs); err != nil {
			w.putBack(rs)
			if fctx.Err() != nil {
				n := w.pending()
				w.m.dropped.Add(n)
				w.o.Log.Error("ping results lost at shutdown", "rows", n, "err", err)
				return nil
			}
			sleep(fctx, 200*time.Millisecond)
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
	if _, err := w.o.Store.EnsurePingPartitions(ctx, time.Now().AddDate(0, 0, -1), 9); err != nil && ctx.Err() == nil {
		w.o.Log.Warn("cannot create ping_results partitions ahead", "err", err)
	}
}

func (w *PingWriter) logDrops() {
	w.mu.Lock()
	n := w.dropped
	w.dropped = 0
	w.mu.Unlock()
	if n > 0 {
		w.o.Log.Error("ping results dropped: too many held while PostgreSQL is down", "rows", n, "max_pending", w.o.MaxPending)
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

// backoffDelay doubles from lo per failure up to hi.
func backoffDelay(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

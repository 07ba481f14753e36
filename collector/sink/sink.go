// Package sink moves the collector's output to its backends without losing it while they are
// down: samples to VictoriaMetrics (vm.go) and ping results to PostgreSQL (pingresults.go).
//
// Both are one mechanism, Sink: records are batched, a full batch (or whatever waited Interval) is
// encoded into a block and queued — in memory, or in a durable spool that a restart replays — and
// one pump sends the blocks oldest first, acknowledging each only after its backend took it, with a
// capped, jittered backoff that honours Retry-After. On shutdown it seals what is pending, keeps
// sending for a bounded time and leaves the rest in the spool. The two users differ only in how a
// batch becomes a block and how a block is delivered.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/internal/logthrottle"
)

// Options are the settings every sink shares. Batch and Interval are operator settings whose
// defaults live in config and must be given; the others are internal knobs with the defaults noted.
type Options struct {
	Batch    int           // records per block at most
	Interval time.Duration // longest a record waits before it is sealed into a block
	// Queue holds blocks until the backend took them; the sink owns it and closes it at the end
	// of Run. A spool (NewSpoolQueue) keeps them across restarts; nil: a MemQueue of
	// MaxQueueBytes, whose content is lost (and counted) at exit.
	Queue         Queue
	MaxQueueBytes int64         // cap of the default MemQueue (each backend has its own default)
	MinBackoff    time.Duration // first retry delay while the backend fails (500ms)
	MaxBackoff    time.Duration // retry delay cap, Retry-After included (30s)
	FlushTimeout  time.Duration // how long Run keeps sending after its context ends (10s)
	Log           *slog.Logger
	Metrics       *metrics.Set
}

// DropError is a block the backend refused for good, or one that cannot be decoded: it is
// acknowledged, not retried, and counted under Reason.
type DropError struct {
	Reason string // a label value of the dropped_blocks_total counter
	Err    error
}

func (e *DropError) Error() string { return fmt.Sprintf("block dropped (%s): %v", e.Reason, e.Err) }
func (e *DropError) Unwrap() error { return e.Err }

// Is makes every DropError match ErrDrop, which is what the pump checks.
func (e *DropError) Is(target error) bool { return target == ErrDrop }

// Drop reasons every sink counts, beside DropQueueFull and DropShutdown from the in-memory queue.
// A spool counts its own drops (cap, corrupt frames) in wardops_spool_dropped_blocks_total.
const DropQueueError = "queue_error" // the queue refused a block (too large, closed)

// backend is what one kind of sink plugs into the mechanism.
type backend[T any] struct {
	name        string // metric infix: wardops_collector_<name>_...
	records     string // what a record is called in metrics: samples, rows
	what        string // the backend in log lines
	encode      func(batch []T) []byte
	deliver     func(ctx context.Context, block []byte) error
	dropReasons []string                  // reasons deliver may give in a *DropError
	maxQueue    int64                     // default MemQueue cap
	beside      func(ctx context.Context) // optional upkeep loop that runs as long as Run
}

// Sink batches records of type T and delivers them through its backend. Add is safe for
// concurrent use and never blocks on the backend; Run sends until its context ends, then flushes
// for at most FlushTimeout. Call Run once, and stop calling Add before its context ends to lose
// nothing.
type Sink[T any] struct {
	o   Options
	b   backend[T]
	q   Queue
	m   *sinkMetrics
	log *logthrottle.Throttle // repeated delivery failures

	mu    sync.Mutex
	batch []T
}

func newSink[T any](o Options, b backend[T]) (*Sink[T], error) {
	if o.Log == nil || o.Metrics == nil {
		return nil, fmt.Errorf("cannot build %s sink: Log and Metrics are required", b.what)
	}
	if o.Batch <= 0 || o.Interval <= 0 {
		return nil, fmt.Errorf("cannot build %s sink: Batch and Interval must be positive (got %d, %s)", b.what, o.Batch, o.Interval)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MinBackoff, 500*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.FlushTimeout, 10*time.Second)
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = b.maxQueue
	}
	s := &Sink[T]{o: o, b: b, q: o.Queue, log: logthrottle.New(30 * time.Second)}
	if s.q == nil {
		// The callback reads s.m, set just below, before any Push can happen.
		s.q = NewMemQueue(o.MaxQueueBytes, s.dropped)
	}
	reasons := append([]string{DropQueueFull, DropShutdown, DropQueueError}, b.dropReasons...)
	s.m = newSinkMetrics(o.Metrics, b.name, b.records, reasons, s.pending, s.q)
	return s, nil
}

func (s *Sink[T]) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batch)
}

// Add queues records; a full batch is sealed into a block at once.
func (s *Sink[T]) Add(recs ...T) {
	s.m.records.Add(len(recs))
	s.mu.Lock()
	s.batch = append(s.batch, recs...)
	var full []T
	if len(s.batch) >= s.o.Batch {
		full = s.takeLocked()
	}
	s.mu.Unlock()
	if full != nil {
		s.push(full)
	}
}

func (s *Sink[T]) takeLocked() []T {
	b := s.batch
	s.batch = make([]T, 0, min(len(b), s.o.Batch))
	return b
}

// seal queues whatever is pending, so no record waits longer than Interval.
func (s *Sink[T]) seal() {
	s.mu.Lock()
	var b []T
	if len(s.batch) > 0 {
		b = s.takeLocked()
	}
	s.mu.Unlock()
	if b != nil {
		s.push(b)
	}
}

// push encodes one batch outside the lock and queues it.
func (s *Sink[T]) push(batch []T) {
	block := s.b.encode(batch)
	s.m.blocks.Inc()
	if err := s.q.Push(block); err != nil {
		s.dropped(DropQueueError, 1, int64(len(block)))
		s.o.Log.Error("cannot queue a block for "+s.b.what, "records", len(batch), "err", err)
	}
}

func (s *Sink[T]) dropped(reason string, blocks int, bytes int64) {
	s.m.dropped[reason].Add(blocks)
	s.m.droppedBytes.AddInt64(bytes)
	s.o.Log.Warn("dropped data for "+s.b.what, "blocks", blocks, "bytes", bytes, "reason", reason)
}

// Run seals a batch every Interval and sends blocks oldest first until ctx ends, acknowledging
// each only once the backend took it (or refused it for good). Then it seals what is pending,
// keeps sending for at most FlushTimeout and closes the queue: a spool keeps what is left for the
// next start, a MemQueue counts it as dropped.
func (s *Sink[T]) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if s.b.beside != nil {
		wg.Go(func() { s.b.beside(ctx) })
	}
	defer wg.Wait()
	p := &Pump{
		Queue: s.q, Interval: s.o.Interval, Seal: s.seal, Send: s.send,
		MinBackoff: s.o.MinBackoff, MaxBackoff: s.o.MaxBackoff, FlushTimeout: s.o.FlushTimeout,
		OnFailure: func(err error, failures int, delay time.Duration) {
			s.m.retries.Inc()
			s.log.Log(s.o.Log, slog.LevelWarn, "cannot deliver to "+s.b.what+"; holding the data and retrying", "err", err,
				"failures", failures, "delay", delay, "queued_blocks", s.q.Len())
		},
		OnRecovered: func(failures int) {
			s.o.Log.Info("delivery to "+s.b.what+" recovered", "after_failures", failures, "queued_blocks", s.q.Len())
		},
	}
	if n := p.Run(ctx); n > 0 {
		s.o.Log.Warn("flush to "+s.b.what+" timed out; the rest stays in the queue", "blocks_left", n, "timeout", s.o.FlushTimeout)
	}
	if err := s.q.Close(); err != nil {
		return fmt.Errorf("cannot close the %s queue: %w", s.b.what, err)
	}
	return nil
}

// send delivers one block; a block the backend drops for good is counted under its reason.
func (s *Sink[T]) send(ctx context.Context, block []byte) error {
	err := s.b.deliver(ctx, block)
	var de *DropError
	if errors.As(err, &de) {
		s.o.Log.Error("dropping a block "+s.b.what+" cannot take", "bytes", len(block), "err", err)
		s.dropped(de.Reason, 1, int64(len(block)))
	}
	return err
}

// sinkMetrics are what every sink exports under wardops_collector_<name>_; every drop reason
// starts at zero.
type sinkMetrics struct {
	records, blocks, retries *metrics.Counter
	dropped                  map[string]*metrics.Counter
	droppedBytes             *metrics.Counter
}

func newSinkMetrics(set *metrics.Set, name, records string, reasons []string, pending func() int, q Queue) *sinkMetrics {
	p := "wardops_collector_" + name + "_"
	set.NewGauge(p+"pending", func() float64 { return float64(pending()) })
	set.NewGauge(p+"queue_blocks", func() float64 { return float64(q.Len()) })
	set.NewGauge(p+"queue_bytes", func() float64 { return float64(q.Size()) })
	m := &sinkMetrics{
		records:      set.NewCounter(p + records + "_total"),
		blocks:       set.NewCounter(p + "blocks_total"),
		retries:      set.NewCounter(p + "retries_total"),
		dropped:      map[string]*metrics.Counter{},
		droppedBytes: set.NewCounter(p + "dropped_bytes_total"),
	}
	for _, r := range reasons {
		m.dropped[r] = set.NewCounter(p + `dropped_blocks_total{reason="` + r + `"}`)
	}
	return m
}

// Package push sends samples to VictoriaMetrics: batched, encoded as Prometheus text with the probe's
// own millisecond timestamps, gzipped and POSTed to the import API, retried with capped backoff.
package push

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/sample"
)

// Options configures a Writer. Zero durations and sizes take the defaults noted.
type Options struct {
	// URL is a single node (http://127.0.0.1:8428) or a cluster vminsert
	// (http://127.0.0.1:8480/insert/0/prometheus); both take /api/v1/import/prometheus appended.
	URL      string
	Batch    int           // samples per request at most (5000)
	Interval time.Duration // longest a sample waits before it is sealed into a block (1s)
	// Queue holds blocks until VictoriaMetrics took them; the writer owns it and closes it at the
	// end of Run. A spool (NewSpoolQueue) keeps them across restarts; nil: a MemQueue of
	// MaxQueueBytes, whose content is lost (and counted) at exit.
	Queue         Queue
	MaxQueueBytes int64         // cap of the default MemQueue (256 MiB of gzipped blocks)
	Client        *http.Client  // nil: one with a 30s timeout
	MinBackoff    time.Duration // first retry delay (500ms)
	MaxBackoff    time.Duration // retry delay cap, Retry-After included (30s)
	FlushTimeout  time.Duration // how long Run keeps sending after its context ends (10s)
	Log           *slog.Logger
	Metrics       *metrics.Set
}

// Writer batches samples and pushes them. Add is safe for concurrent use; Run sends until its
// context ends, then flushes for at most FlushTimeout.
type Writer struct {
	o       Options
	url     string
	q       Queue
	m       *writerMetrics
	gzPool  sync.Pool
	mu      sync.Mutex
	buf     []byte
	pending int
}

// New checks the options and builds a Writer.
func New(o Options) (*Writer, error) {
	if o.URL == "" {
		return nil, errors.New("cannot build VictoriaMetrics writer: no URL")
	}
	if o.Log == nil || o.Metrics == nil {
		return nil, errors.New("cannot build VictoriaMetrics writer: Log and Metrics are required")
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
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 256 << 20
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	w := &Writer{o: o, url: ImportURL(o.URL)}
	w.gzPool.New = func() any { z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return z }
	w.q = o.Queue
	if w.q == nil {
		// The callback reads w.m, set just below, before any Push can happen.
		w.q = NewMemQueue(o.MaxQueueBytes, func(reason string, blocks int, bytes int64) {
			c := w.m.droppedFull
			if reason == DropShutdown {
				c = w.m.droppedExit
			}
			w.dropped(c, blocks, bytes, reason)
		})
	}
	w.m = newWriterMetrics(o.Metrics, w.q)
	return w, nil
}

// ImportURL is where blocks are posted: the same suffix serves a single node and a vminsert
// /insert/<tenant>/prometheus prefix.
func ImportURL(base string) string {
	return strings.TrimRight(base, "/") + "/api/v1/import/prometheus"
}

// Add encodes samples into the current batch, sealing it into a block when it is full.
func (w *Writer) Add(ss ...sample.Sample) {
	w.mu.Lock()
	for _, s := range ss {
		w.buf = appendSample(w.buf, s)
	}
	w.pending += len(ss)
	var full []byte
	if w.pending >= w.o.Batch {
		full = w.takeLocked()
	}
	w.mu.Unlock()
	w.m.samples.Add(len(ss))
	if full != nil {
		w.push(full)
	}
}

func (w *Writer) takeLocked() []byte {
	b := w.buf
	w.buf, w.pending = make([]byte, 0, len(b)), 0
	return b
}

// seal turns whatever is pending into a block, so nothing waits longer than Interval.
func (w *Writer) seal() {
	w.mu.Lock()
	var b []byte
	if w.pending > 0 {
		b = w.takeLocked()
	}
	w.mu.Unlock()
	if b != nil {
		w.push(b)
	}
}

// push gzips one batch outside the lock and queues it.
func (w *Writer) push(text []byte) {
	var out bytes.Buffer
	out.Grow(len(text) / 8)
	z := w.gzPool.Get().(*gzip.Writer)
	z.Reset(&out)
	_, _ = z.Write(text) // writes to a bytes.Buffer cannot fail
	_ = z.Close()
	w.gzPool.Put(z)
	w.m.blocks.Inc()
	if err := w.q.Push(out.Bytes()); err != nil {
		w.dropped(w.m.droppedQueueErr, 1, int64(out.Len()), err.Error())
	}
}

func (w *Writer) dropped(c *metrics.Counter, blocks int, bytes int64, why string) {
	c.Add(blocks)
	w.m.droppedBytes.Add(int(bytes))
	w.o.Log.Warn("dropped samples for VictoriaMetrics", "blocks", blocks, "bytes", bytes, "reason", why)
}

// Run seals a batch every Interval and sends blocks oldest first until ctx ends, acknowledging each
// only once VictoriaMetrics took it (or refused it for good). Then it seals what is pending, keeps
// sending for at most FlushTimeout and closes the queue: a spool keeps what is left for the next
// start, a MemQueue counts it as dropped. Call it once, and stop calling Add before ctx ends to lose
// nothing.
func (w *Writer) Run(ctx context.Context) error {
	p := &Pump{
		Queue: w.q, Interval: w.o.Interval, Seal: w.seal, Send: w.send,
		MinBackoff: w.o.MinBackoff, MaxBackoff: w.o.MaxBackoff, FlushTimeout: w.o.FlushTimeout,
		OnFailure: func(err error, failures int, delay time.Duration) {
			w.m.retries.Inc()
			// One line per failure would flood a long outage: the first and every 10th.
			if failures%10 == 1 {
				w.o.Log.Warn("cannot push to VictoriaMetrics; retrying", "err", err, "attempt", failures, "delay", delay,
					"queued_blocks", w.q.Len())
			}
		},
		OnRecovered: func(failures int) {
			w.o.Log.Info("VictoriaMetrics push recovered", "attempts", failures+1, "queued_blocks", w.q.Len())
		},
	}
	if n := p.Run(ctx); n > 0 {
		w.o.Log.Warn("VictoriaMetrics flush timed out; the rest stays in the queue", "blocks_left", n, "timeout", w.o.FlushTimeout)
	}
	if err := w.q.Close(); err != nil {
		return fmt.Errorf("cannot close push queue: %w", err)
	}
	return nil
}

// send posts one block: a block VictoriaMetrics refuses for good (a 4xx other than 429) is
// dropped and counted.
func (w *Writer) send(ctx context.Context, b []byte) error {
	err := w.post(ctx, b)
	if err == nil {
		w.m.sentBlocks.Inc()
		w.m.sentBytes.Add(len(b))
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) && !se.Retryable() {
		w.o.Log.Error("VictoriaMetrics refused samples; dropping the block", "err", err)
		w.dropped(w.m.droppedReject, 1, int64(len(b)), "rejected")
		return fmt.Errorf("%w: %w", ErrDrop, err)
	}
	return err
}

// StatusError is a non-2xx answer from VictoriaMetrics.
type StatusError struct {
	Code int
	Body string
	Wait time.Duration // from Retry-After; 0 when absent
}

// RetryAfter is the delay the server asked for, which the Pump honours.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

func (e *StatusError) Error() string {
	return fmt.Sprintf("VictoriaMetrics answered %d: %s", e.Code, e.Body)
}

// Retryable reports whether the same request may succeed later: 429 and 5xx; any other 4xx will not.
func (e *StatusError) Retryable() bool { return e.Code == http.StatusTooManyRequests || e.Code >= 500 }

func (w *Writer) post(ctx context.Context, b []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("cannot build request to %s: %w", w.url, err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "text/plain")
	start := time.Now()
	resp, err := w.o.Client.Do(req)
	w.m.duration.UpdateDuration(start)
	if err != nil {
		w.m.errConn.Inc()
		return fmt.Errorf("cannot post to %s: %w", w.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body) // drain so the connection is reused
	if resp.StatusCode/100 == 2 {
		return nil
	}
	w.m.errStatus.Inc()
	return &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(body)), Wait: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// retryAfter parses Retry-After as delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

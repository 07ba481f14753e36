package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/klauspost/compress/gzip"

	"github.com/wardops/wardops/collector/sample"
)

// VMOptions configures the VictoriaMetrics sink.
type VMOptions struct {
	Options
	// URL is a single node (http://127.0.0.1:8428) or a cluster vminsert
	// (http://127.0.0.1:8480/insert/0/prometheus); both take /api/v1/import/prometheus appended.
	URL    string
	Client *http.Client // nil: one with a 30s timeout
	// ReplaySpan is how much of what VictoriaMetrics already acknowledged is sent again after a
	// connection failure (replay.go); 0 turns it off.
	ReplaySpan time.Duration
}

// VM is the sink of samples to VictoriaMetrics.
type VM = Sink[sample.Sample]

// Drop reason of a block VictoriaMetrics refused with a 4xx that cannot succeed later.
const DropRejected = "rejected"

// vmWriter encodes batches as Prometheus text with the probe's own millisecond timestamps, gzips
// them and posts them to the import API.
type vmWriter struct {
	url    string
	client *http.Client
	m      *vmMetrics
	replay *replay
	text   sync.Pool // *[]byte, the text of one batch before gzip
	gz     sync.Pool // *gzip.Writer

	// A restart that falls between two pushes shows no failed request, yet the restarted node
	// has lost what it had acknowledged. So every new connection (which a restart forces) is
	// followed by a look at the server's start time; these are used by the pump's goroutine only.
	metricsURL string
	log        *slog.Logger
	freshConn  bool  // the last post went over a new connection
	startedAt  int64 // vm_app_start_timestamp last read; 0: not yet
}

// NewVM checks the options and builds the VictoriaMetrics sink.
func NewVM(o VMOptions) (*VM, error) {
	if o.URL == "" {
		return nil, errors.New("cannot build VictoriaMetrics sink: no URL")
	}
	if o.Metrics == nil {
		return nil, errors.New("cannot build VictoriaMetrics sink: Metrics is required")
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	// The replay window is capped in bytes too: at 100,000 devices 30 s of gzipped samples is a
	// few MiB, so 64 MiB bounds memory without cutting the span short.
	w := &vmWriter{url: ImportURL(o.URL), client: o.Client, m: newVMMetrics(o.Metrics),
		replay: newReplay(o.ReplaySpan, 64<<20, o.Metrics), metricsURL: metricsURL(o.URL), log: o.Log}
	w.text.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	// klauspost's gzip at BestSpeed: the same format VictoriaMetrics reads, at about half the CPU
	// of the standard library's (compression was a sixth of the SNMP poll path's profile).
	w.gz.New = func() any { z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return z }
	return newSink(o.Options, backend[sample.Sample]{
		name: "push", records: "samples", what: "VictoriaMetrics",
		encode: w.encode, deliver: w.deliver, dropReasons: []string{DropRejected},
		maxQueue: 256 << 20, // gzipped blocks: about 20 million samples
	})
}

// metricsURL is the server's own /metrics: at the root for a single node, vminsert and vmagent
// alike, whatever path prefix the import URL carries.
func metricsURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User, Path: "/metrics"}).String()
}

// ImportURL is where blocks are posted: the same suffix serves a single node and a vminsert
// /insert/<tenant>/prometheus prefix.
func ImportURL(base string) string {
	return strings.TrimRight(base, "/") + "/api/v1/import/prometheus"
}

// encode renders one batch as text and gzips it.
func (w *vmWriter) encode(ss []sample.Sample) []byte {
	tp := w.text.Get().(*[]byte)
	text := (*tp)[:0]
	for _, s := range ss {
		text = appendSample(text, s)
	}
	var out bytes.Buffer
	out.Grow(len(text) / 8)
	z := w.gz.Get().(*gzip.Writer)
	z.Reset(&out)
	_, _ = z.Write(text) // writes to a bytes.Buffer cannot fail
	_ = z.Close()
	w.gz.Put(z)
	*tp = text
	w.text.Put(tp)
	return out.Bytes()
}

// deliver posts one block: a block VictoriaMetrics refuses for good (a 4xx other than 429) is
// dropped and counted.
func (w *vmWriter) deliver(ctx context.Context, b []byte) error {
	err := w.post(ctx, b)
	if err == nil {
		w.m.sentBlocks.Inc()
		w.m.sentBytes.Add(len(b))
		if w.freshConn && w.replay.span > 0 && w.restarted(ctx) {
			w.replay.connectionFailed()
		}
		w.replay.delivered(b)
		// A replay that fails now is tried again after the next delivery: this block is in.
		var ce *connError
		if err := w.replay.resend(ctx, w.post); errors.As(err, &ce) {
			w.replay.connectionFailed()
		}
		return nil
	}
	var ce *connError
	if errors.As(err, &ce) {
		w.replay.connectionFailed()
	}
	var se *StatusError
	if errors.As(err, &se) && !se.Retryable() {
		return &DropError{Reason: DropRejected, Err: err}
	}
	return err
}

// connError is a request that got no HTTP answer: refused, reset, timed out.
type connError struct {
	url string
	err error
}

func (e *connError) Error() string { return fmt.Sprintf("cannot post to %s: %v", e.url, e.err) }
func (e *connError) Unwrap() error { return e.err }

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

func (w *vmWriter) post(ctx context.Context, b []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("cannot build request to %s: %w", w.url, err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "text/plain")
	w.freshConn = false
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(ci httptrace.GotConnInfo) { w.freshConn = w.freshConn || !ci.Reused },
	}))
	start := time.Now()
	resp, err := w.client.Do(req)
	w.m.duration.UpdateDuration(start)
	if err != nil {
		w.m.errConn.Inc()
		return &connError{url: w.url, err: err}
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

// restarted says whether the server started again since its start time was last read (the first
// read only records it). A start time that cannot be read is counted and logged and leaves the
// replay alone: a needless replay stores every sample of the span twice where deduplication is
// off, and losing samples needs a crash and an unreadable /metrics at once.
func (w *vmWriter) restarted(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	at, err := w.startTime(ctx)
	if err != nil {
		w.m.startUnknown.Inc()
		w.log.Warn("cannot read VictoriaMetrics' start time after a new connection; no replay", "url", w.metricsURL, "err", err)
		return false
	}
	prev := w.startedAt
	w.startedAt = at
	return prev != 0 && at != prev
}

// startTime reads vm_app_start_timestamp, which every VictoriaMetrics component exports.
func (w *vmWriter) startTime(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s answered %d", w.metricsURL, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "vm_app_start_timestamp "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no vm_app_start_timestamp", w.metricsURL)
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

type vmMetrics struct {
	sentBlocks, sentBytes *metrics.Counter
	errConn, errStatus    *metrics.Counter
	startUnknown          *metrics.Counter
	duration              *metrics.PrometheusHistogram
}

func newVMMetrics(set *metrics.Set) *vmMetrics {
	return &vmMetrics{
		sentBlocks: set.NewCounter(`wardops_collector_push_sent_blocks_total`),
		sentBytes:  set.NewCounter(`wardops_collector_push_sent_bytes_total`),
		errConn:    set.NewCounter(`wardops_collector_push_errors_total{kind="connection"}`),
		errStatus:  set.NewCounter(`wardops_collector_push_errors_total{kind="status"}`),
		// Reads of the server's start time that failed after a new connection; each counts as a
		// restart, so the replay window is re-sent.
		startUnknown: set.NewCounter(`wardops_collector_push_start_time_unknown_total`),
		duration:     set.NewPrometheusHistogram(`wardops_collector_push_duration_seconds`),
	}
}

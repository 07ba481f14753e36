package sink

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// replay keeps the blocks VictoriaMetrics acknowledged over the last span, because an
// acknowledgement is not durability: a single node holds recent inserts in memory for about a
// second (-inmemoryDataFlushInterval) before they reach disk, and a SIGKILL, OOM kill or power
// loss loses them although the client was told they were stored. After a connection failure —
// the sign of a restart, clean or not — the first successful delivery re-sends what the window
// holds. VictoriaMetrics deduplicates the repeats when run with -dedup.minScrapeInterval (the
// compose file sets it); without it a repeated sample is stored twice at the same timestamp,
// which last_over_time, rate and the dashboards read the same.
//
// It is used by the pump's goroutine only (deliver), so it needs no lock.
type replay struct {
	span     time.Duration // 0: off
	maxBytes int64
	blocks   []sentBlock
	bytes    int64
	pending  bool // a connection failed since the last delivery: replay on the next success
	next     int  // while pending, the first block of the window not yet re-sent
	now      func() time.Time

	replayed, replayedBytes *metrics.Counter
}

type sentBlock struct {
	at time.Time
	b  []byte
}

func newReplay(span time.Duration, maxBytes int64, set *metrics.Set) *replay {
	return &replay{span: span, maxBytes: maxBytes, now: time.Now,
		replayed:      set.NewCounter(`wardops_collector_push_replayed_blocks_total`),
		replayedBytes: set.NewCounter(`wardops_collector_push_replayed_bytes_total`),
	}
}

// delivered records a block VictoriaMetrics took. While a replay is pending the window is not
// trimmed by age: however long the outage, it still holds the span before it.
func (r *replay) delivered(b []byte) {
	if r.span <= 0 {
		return
	}
	now := r.now()
	r.blocks = append(r.blocks, sentBlock{at: now, b: b})
	r.bytes += int64(len(b))
	i := 0
	for i < len(r.blocks) && (r.bytes > r.maxBytes || (!r.pending && now.Sub(r.blocks[i].at) > r.span)) {
		r.bytes -= int64(len(r.blocks[i].b))
		i++
	}
	r.blocks = append(r.blocks[:0], r.blocks[i:]...)
	r.next = max(0, r.next-i)
}

// connectionFailed marks that the server may have restarted: the whole window is re-sent, even
// blocks a replay already sent again, since those may have been lost by this restart too.
func (r *replay) connectionFailed() {
	if r.span > 0 {
		r.pending, r.next = true, 0
	}
}

// resend posts the window again, oldest first, after a connection failure was followed by a
// success. The blocks stay in the window (a second crash soon after needs them again); a failure
// leaves the rest pending for the next success.
func (r *replay) resend(ctx context.Context, post func(context.Context, []byte) error) error {
	if !r.pending {
		return nil
	}
	for ; r.next < len(r.blocks); r.next++ {
		b := r.blocks[r.next].b
		if err := post(ctx, b); err != nil {
			return err
		}
		r.replayed.Inc()
		r.replayedBytes.Add(len(b))
	}
	r.pending, r.next = false, 0
	return nil
}

package sink

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Pump moves sealed blocks from a Queue to a backend, oldest first and one at a time, for both
// of the collector's writers (samples to VictoriaMetrics, ping_results to PostgreSQL). A block is
// acknowledged only once Send took it or refused it for good (ErrDrop); any other failure leaves it
// at the head, and after a capped, jittered backoff the head is fetched again, so a block the
// spool's cap dropped (and counted) meanwhile is never sent after being counted as lost.
type Pump struct {
	Queue    Queue
	Interval time.Duration // how often Seal runs
	Seal     func()        // turns what is pending into a block, so nothing waits longer than Interval
	// Send delivers one block. nil: delivered. An error wrapping ErrDrop: the block is acknowledged
	// and not retried (Send has counted and logged it). Any other error: retried after a backoff, or
	// after the error's RetryAfter() when it has one.
	Send         func(ctx context.Context, b []byte) error
	MinBackoff   time.Duration
	MaxBackoff   time.Duration                                      // retry delay cap, RetryAfter included
	FlushTimeout time.Duration                                      // how long Run keeps sending after its context ends
	OnFailure    func(err error, failures int, delay time.Duration) // a retryable failure, before the wait
	OnRecovered  func(failures int)                                 // the first success after failures
}

// ErrDrop marks a block that must not be retried: refused for good, or corrupt.
var ErrDrop = errors.New("block dropped")

// Run seals every Interval and sends until ctx ends; then it seals what is pending and keeps
// sending for at most FlushTimeout. It returns how many blocks are still queued: the caller closes
// the queue, which spools them (or, in memory, counts them as dropped).
//
// A send in flight when ctx ends is not cancelled but given up to FlushTimeout to finish: the
// server may already have committed it (a COPY, an import), and cancelling it would have the flush
// store it a second time. The flush then has a FlushTimeout of its own, so a long send at the
// moment of shutdown (a replay after an outage) does not leave the last blocks unsent. Shutdown
// therefore takes at most two FlushTimeouts, and that only against a backend that hangs.
func (p *Pump) Run(ctx context.Context) int {
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	sent := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { Every(ctx, p.Interval, p.Seal) })
	wg.Go(func() { cancelLate(ctx, sent, p.FlushTimeout, cancelSend) })
	p.drain(ctx, sendCtx, false)
	close(sent)
	wg.Wait()
	p.Seal()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.FlushTimeout)
	defer cancel()
	p.drain(fctx, fctx, true)
	return p.Queue.Len()
}

// cancelLate calls cancel once grace has passed since ctx ended, unless done closes first.
func cancelLate(ctx context.Context, done <-chan struct{}, grace time.Duration, cancel func()) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancel()
	}
}

// drain sends until ctx ends or, with untilEmpty, the queue is empty. ctx bounds the waits for a
// block and between retries, sendCtx each send.
func (p *Pump) drain(ctx, sendCtx context.Context, untilEmpty bool) {
	failures := 0
	for (!untilEmpty || p.Queue.Len() > 0) && ctx.Err() == nil {
		b, err := p.Queue.Next(ctx)
		if err != nil {
			return
		}
		err = p.Send(sendCtx, b)
		if err == nil || errors.Is(err, ErrDrop) {
			p.Queue.Ack()
			if err == nil && failures > 0 {
				p.OnRecovered(failures)
				failures = 0
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		delay := backoff(p.MinBackoff, p.MaxBackoff, failures)
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			delay = min(ra.RetryAfter(), p.MaxBackoff)
		}
		p.OnFailure(err, failures, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff doubles from lo per failure up to hi, with ±25% jitter so collectors restarted together
// do not retry in step.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - d/4 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Every calls f every d until ctx ends.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

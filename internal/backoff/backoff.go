// Package backoff is a capped, jittered exponential retry delay, for clients of a backend that
// may be down: they wait longer after each failure, never longer than the cap, and clients
// restarted together drift apart instead of retrying in step.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff counts consecutive failures. It is not safe for concurrent use: each retrying loop
// owns one.
type Backoff struct {
	Min, Max time.Duration
	failures int
}

// Next returns the delay after one more failure: Min doubled per earlier failure, capped at
// Max, ±25 %.
func (b *Backoff) Next() time.Duration {
	d := b.Min << min(b.failures, 30)
	if d <= 0 || d > b.Max {
		d = b.Max
	}
	b.failures++
	j := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + j
}

// Reset forgets the failures after a success.
func (b *Backoff) Reset() { b.failures = 0 }

// Package logthrottle lets one log line through per period and counts what it held back, so a
// failure that hits every device or every push (a dead socket, a database that is down, a full
// spool) logs a summary instead of flooding (the habit of VictoriaMetrics lib/logger/throttler.go).
package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Throttle is safe for concurrent use; its zero value with Period set is ready.
type Throttle struct {
	Period time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// New returns a throttle letting one line through per period.
func New(period time.Duration) *Throttle { return &Throttle{Period: period} }

// Log writes the line if the period has passed since the last one written, adding how many were
// held back in between as "suppressed".
func (t *Throttle) Log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	t.mu.Lock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.Period {
		t.suppressed++
		t.mu.Unlock()
		return
	}
	n := t.suppressed
	t.last, t.suppressed = now, 0
	t.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.Log(context.Background(), level, msg, args...)
}

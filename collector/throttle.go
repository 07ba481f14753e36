package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// throttle lets one log line through per period and counts the ones it held back, so a failure
// that hits every device (a dead socket, an unreachable database) does not flood the log.
type throttle struct {
	mu         sync.Mutex
	period     time.Duration
	last       time.Time
	suppressed int
}

func (t *throttle) log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	t.mu.Lock()
	now := time.Now()
	if now.Sub(t.last) < t.period {
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

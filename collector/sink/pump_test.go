package sink

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A send in flight at shutdown must finish rather than be cancelled and retried: PostgreSQL or
// VictoriaMetrics may already have committed it, and the retry would store it twice. No real
// server can be made to hold one request open at the moment of shutdown on demand, so Send here is
// a function that does.
func TestPumpLetsTheSendInFlightFinish(t *testing.T) {
	cases := []struct {
		name         string
		hold         time.Duration // how long the in-flight send takes after shutdown starts
		flushTimeout time.Duration
		wantSends    int32
		wantLeft     int
	}{
		{name: "finishes within the flush timeout", hold: 300 * time.Millisecond, flushTimeout: 5 * time.Second, wantSends: 1, wantLeft: 0},
		{name: "stuck past the flush timeout", hold: time.Hour, flushTimeout: 300 * time.Millisecond, wantSends: 1, wantLeft: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := NewMemQueue(1<<20, nil)
			if err := q.Push([]byte("block")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			inFlight := make(chan struct{})
			var sends atomic.Int32
			p := &Pump{
				Queue: q, Interval: time.Hour, Seal: func() {},
				MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, FlushTimeout: tc.flushTimeout,
				OnFailure: func(error, int, time.Duration) {}, OnRecovered: func(int) {},
				Send: func(sctx context.Context, _ []byte) error {
					if sends.Add(1) > 1 {
						return nil
					}
					close(inFlight)
					<-ctx.Done()
					select {
					case <-time.After(tc.hold):
						return nil
					case <-sctx.Done():
						return sctx.Err()
					}
				},
			}
			left := make(chan int, 1)
			start := time.Now()
			go func() { left <- p.Run(ctx) }()
			<-inFlight
			cancel()
			select {
			case n := <-left:
				if n != tc.wantLeft {
					t.Errorf("Run left %d blocks queued, want %d", n, tc.wantLeft)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if got := sends.Load(); got != tc.wantSends {
				t.Errorf("%d sends, want %d: the block in flight was sent again", got, tc.wantSends)
			}
			if took := time.Since(start); took > tc.flushTimeout+2*time.Second {
				t.Errorf("Run took %s, past the flush timeout %s", took, tc.flushTimeout)
			}
		})
	}
}

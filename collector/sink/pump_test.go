package sink

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// At shutdown the send in flight must be let finish rather than be cancelled and retried
// (PostgreSQL or VictoriaMetrics may already have committed it, and the retry would store it
// twice), and the blocks sealed at shutdown must still get a flush of their own. No real server can
// be made to hold one request open at the moment of shutdown on demand, so Send here is a function
// that does.
func TestPumpShutdown(t *testing.T) {
	const ft = 400 * time.Millisecond
	cases := []struct {
		name      string
		hold      time.Duration // how long the send in flight takes after shutdown starts
		wantSends int32
		wantLeft  int
	}{
		// One send of the block in flight, one of the block sealed at shutdown.
		{name: "in flight finishes", hold: 100 * time.Millisecond, wantSends: 2, wantLeft: 0},
		// Most of one flush timeout on the block in flight: the sealed block still goes out.
		{name: "in flight takes most of the timeout", hold: ft * 3 / 4, wantSends: 2, wantLeft: 0},
		// Cancelled after one timeout; the flush sends it again (the only duplicate left, and only
		// against a backend that hangs) and then the sealed block.
		{name: "in flight hangs", hold: time.Hour, wantSends: 3, wantLeft: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := NewMemQueue(1<<20, nil)
			if err := q.Push([]byte("in flight")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			inFlight := make(chan struct{})
			var sends atomic.Int32
			p := &Pump{
				Queue: q, Interval: time.Hour, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, FlushTimeout: ft,
				Seal: func() {
					if ctx.Err() != nil {
						_ = q.Push([]byte("sealed at shutdown"))
					}
				},
				OnFailure: func(error, int, time.Duration) {}, OnRecovered: func(int) {},
				Send: func(sctx context.Context, _ []byte) error {
					if sends.Add(1) > 1 {
						time.Sleep(ft / 2)
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
			go func() { left <- p.Run(ctx) }()
			<-inFlight
			start := time.Now()
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
				t.Errorf("%d sends, want %d", got, tc.wantSends)
			}
			if took := time.Since(start); took > 2*ft+time.Second {
				t.Errorf("shutdown took %s, past two flush timeouts (%s)", took, 2*ft)
			}
		})
	}
}

// Package icmp measures reachability and round-trip time of devices with ICMP echo.
// Engines sit behind one small interface so the scheduler does not care how echoes are sent:
// "probing" (pro-bing, one Pinger per probe) and "shared" (one socket per address family).
package icmp

import (
	"context"
	"net/netip"
	"time"
)

// Request asks for Count echoes to Addr, Interval apart, waiting at most Timeout after the last.
type Request struct {
	Addr     netip.Addr
	Count    int
	Interval time.Duration
	Timeout  time.Duration
}

// Result is what one probe measured. RTTs are zero when Received is 0.
type Result struct {
	Sent, Received        int
	Min, Max, Avg, StdDev time.Duration
	Start                 time.Time // when the first echo left: the sample's timestamp
}

// Loss is the fraction of echoes that got no reply.
func (r Result) Loss() float64 {
	if r.Sent == 0 {
		return 1
	}
	return float64(r.Sent-r.Received) / float64(r.Sent)
}

// Engine sends echo probes. Probe blocks until the probe is done or ctx ends; it must be safe for
// concurrent use. Close releases sockets.
type Engine interface {
	Probe(ctx context.Context, req Request) (Result, error)
	Name() string
	Close() error
}

package model

import (
	"net/netip"
	"time"
)

// PingLandingSlack is how far before the newest row already read a reader that follows
// ping_results by timestamp starts its next read. A row lands a few seconds after its timestamp
// (the probe, its confirmation burst, the collector's push interval, the COPY), and rows from
// several collectors land out of order; each device's own newest timestamp drops the rows read
// twice. The alerter and the query service's fleet state both follow the table this way.
const PingLandingSlack = 10 * time.Second

// PingResult is one ICMP probe of one device. RTTs are nil when no reply came back.
type PingResult struct {
	DeviceID    int64
	DeviceIP    netip.Addr
	Timestamp   time.Time
	IsReachable bool
	RTTAvgMs    *float64
	RTTMinMs    *float64
	RTTMaxMs    *float64
	RTTStddevMs *float64
	PacketLoss  float64
	Sent        int16
	Received    int16
}

// LatestPing is the newest probe of a device: the fleet view's fallback when VictoriaMetrics
// cannot answer.
type LatestPing struct {
	PingResult
	DownSince *time.Time // when a down device's current outage began
}

package model

import (
	"net/netip"
	"time"
)

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

package collector

import (
	"time"

	"github.com/wardops/wardops/collector/icmp"
	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// PingSamples turns a probe into samples stamped with the time its first echo left. RTT series
// are written only when a reply came back: a zero RTT for a dead device would drag averages down.
func PingSamples(labels []sample.Label, r icmp.Result) []sample.Sample {
	ts := r.Start.UnixMilli()
	up := 0.0
	if r.Received > 0 {
		up = 1
	}
	ss := make([]sample.Sample, 0, 6)
	ss = append(ss,
		sample.Sample{Name: model.MetricPingUp, Labels: labels, Value: up, Timestamp: ts},
		sample.Sample{Name: model.MetricPingLoss, Labels: labels, Value: r.Loss(), Timestamp: ts})
	if r.Received > 0 {
		ss = append(ss,
			sample.Sample{Name: model.MetricPingRTT, Labels: labels, Value: r.Avg.Seconds(), Timestamp: ts},
			sample.Sample{Name: model.MetricPingRTTMin, Labels: labels, Value: r.Min.Seconds(), Timestamp: ts},
			sample.Sample{Name: model.MetricPingRTTMax, Labels: labels, Value: r.Max.Seconds(), Timestamp: ts},
			sample.Sample{Name: model.MetricPingRTTStdDev, Labels: labels, Value: r.StdDev.Seconds(), Timestamp: ts})
	}
	return ss
}

// PingRow is the ping_results row of a probe; packet_loss is a ratio like wardops_ping_loss_ratio.
func PingRow(d model.Device, r icmp.Result) model.PingResult {
	row := model.PingResult{
		DeviceID:    d.ID,
		DeviceIP:    d.IP,
		Timestamp:   r.Start,
		IsReachable: r.Received > 0,
		PacketLoss:  r.Loss(),
		Sent:        int16(min(r.Sent, 32767)),
		Received:    int16(min(r.Received, 32767)),
	}
	if r.Received > 0 {
		ms := func(d time.Duration) *float64 { v := float64(d) / float64(time.Millisecond); return &v }
		row.RTTAvgMs, row.RTTMinMs, row.RTTMaxMs, row.RTTStddevMs = ms(r.Avg), ms(r.Min), ms(r.Max), ms(r.StdDev)
	}
	return row
}

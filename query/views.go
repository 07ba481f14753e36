package query

import (
	"math"
	"net/netip"
	"time"

	pmodel "github.com/prometheus/common/model"

	"github.com/wardops/wardops/model"
)

// The API's JSON shapes and the one mapping from the domain model onto each. No view holds an
// SNMP community or key: secrets cannot leak through a type that does not hold them.

// deviceItem is a device with its latest state, as lists and details return it.
type deviceItem struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	IP         string     `json:"ip"`
	Vendor     string     `json:"vendor"`
	DeviceType string     `json:"device_type"`
	BranchID   int64      `json:"branch_id"`
	Branch     string     `json:"branch"`
	Region     string     `json:"region"`
	Enabled    bool       `json:"enabled"`
	ParentID   *int64     `json:"parent_id"`
	Status     string     `json:"status"`
	RTTms      *float64   `json:"rtt_ms"`
	Loss       *float64   `json:"loss_ratio"`
	LastProbe  *time.Time `json:"last_probe"`
	DownSince  *time.Time `json:"down_since"`
}

func toDeviceItem(d *fleetDevice) deviceItem {
	it := deviceItem{ID: d.ID, Name: d.Name, IP: d.IP.String(), Vendor: d.Vendor, DeviceType: d.DeviceType,
		BranchID: d.BranchID, Branch: d.Branch, Region: d.Region, Enabled: d.Enabled, ParentID: d.ParentID}
	it.setState(d)
	return it
}

// setState copies a snapshot's live state onto the item; a disabled device stays disabled.
func (it *deviceItem) setState(d *fleetDevice) {
	it.Status, it.RTTms, it.Loss, it.DownSince, it.LastProbe = d.Status, d.RTTms, d.Loss, d.DownSince, nil
	if !d.LastProbe.IsZero() {
		t := d.LastProbe
		it.LastProbe = &t
	}
	if !it.Enabled {
		it.Status = statusDisabled
	}
}

type itemView struct {
	ID              int64             `json:"id"`
	Name            string            `json:"name"`
	OID             string            `json:"oid"`
	Kind            string            `json:"kind"`
	ValueType       string            `json:"value_type"`
	Labels          map[string]string `json:"labels"`
	Profile         string            `json:"profile"`
	IntervalSeconds int               `json:"interval_seconds,omitempty"`
	Enabled         bool              `json:"enabled"`
}

func toItemViews(items []model.Item) []itemView {
	out := make([]itemView, len(items))
	for i, it := range items {
		out[i] = itemView{ID: it.ID, Name: it.Name, OID: it.OID, Kind: it.Kind, ValueType: it.ValueType,
			Labels: it.Labels, Profile: it.Profile, IntervalSeconds: int(it.Interval / time.Second), Enabled: it.Enabled}
	}
	return out
}

type snmpView struct {
	Version    string   `json:"version"`
	Port       int      `json:"port"`
	Credential string   `json:"credential,omitempty"`
	Profiles   []string `json:"profiles"`
}

// deviceDetail is one device as GET /devices/:id and the writes return it. Further per-device
// sections (items, alerts, and whatever comes next) are fields filled by the handler after
// detailOf.
type deviceDetail struct {
	deviceItem
	SNMP                *snmpView   `json:"snmp,omitempty"`
	PingIntervalSeconds int         `json:"ping_interval_seconds,omitempty"`
	CreatedAt           *time.Time  `json:"created_at,omitempty"`
	UpdatedAt           *time.Time  `json:"updated_at,omitempty"`
	Items               []itemView  `json:"items"`
	Alerts              []alertView `json:"alerts"`
	Degraded            bool        `json:"degraded"`
	SNMPCoverage        *coverage   `json:"snmp_coverage,omitempty"`
}

// detailOf maps a stored device; its state is unknown until a snapshot gives it (withState).
func detailOf(d model.Device) deviceDetail {
	out := deviceDetail{deviceItem: deviceItem{ID: d.ID, Name: d.Name, IP: d.IP.String(), Vendor: d.Vendor,
		DeviceType: d.DeviceType, BranchID: d.BranchID, Branch: d.Branch, Region: d.Region, Enabled: d.Enabled,
		ParentID: d.ParentID, Status: statusUnknown}, Items: []itemView{}, Alerts: []alertView{}}
	if !d.Enabled {
		out.Status = statusDisabled
	}
	out.SNMP = &snmpView{Version: d.SNMP.Version, Port: d.SNMP.Port, Credential: d.SNMP.Credential, Profiles: d.Profiles}
	if out.SNMP.Profiles == nil {
		out.SNMP.Profiles = []string{}
	}
	out.PingIntervalSeconds = int(d.PingInterval / time.Second)
	out.CreatedAt, out.UpdatedAt = &d.CreatedAt, &d.UpdatedAt
	return out
}

// snapshotDetail is a device known only from the snapshot (PostgreSQL is down): its inventory as
// last read and its live state, marked degraded.
func snapshotDetail(fd *fleetDevice) deviceDetail {
	return deviceDetail{deviceItem: toDeviceItem(fd), Items: []itemView{}, Alerts: []alertView{}, Degraded: true}
}

type alertView struct {
	ID             int64      `json:"id"`
	DeviceID       int64      `json:"device_id"`
	Device         string     `json:"device"`
	RuleID         int64      `json:"rule_id"`
	Rule           string     `json:"rule"`
	Severity       string     `json:"severity"`
	FiredAt        time.Time  `json:"fired_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	Value          *float64   `json:"value"`
	Summary        string     `json:"summary"`
}

func toAlertViews(as []model.Alert) []alertView {
	out := make([]alertView, len(as))
	for i, a := range as {
		out[i] = alertView{ID: a.ID, DeviceID: a.DeviceID, Device: a.Device, RuleID: a.RuleID, Rule: a.Rule,
			Severity: a.Severity, FiredAt: a.FiredAt, AcknowledgedAt: a.AcknowledgedAt, AcknowledgedBy: a.AcknowledgedBy,
			Value: a.Value, Summary: a.Summary}
	}
	return out
}

// pingView is one ping_results row as the API shows it.
type pingView struct {
	DeviceID    int64      `json:"device_id"`
	DeviceIP    netip.Addr `json:"device_ip"`
	Timestamp   time.Time  `json:"timestamp"`
	IsReachable bool       `json:"is_reachable"`
	RTTAvgMs    *float64   `json:"rtt_avg_ms"`
	RTTMinMs    *float64   `json:"rtt_min_ms"`
	RTTMaxMs    *float64   `json:"rtt_max_ms"`
	RTTStddevMs *float64   `json:"rtt_stddev_ms"`
	PacketLoss  float64    `json:"packet_loss"`
	Sent        int16      `json:"sent"`
	Received    int16      `json:"received"`
}

func toPingViews(rs []model.PingResult) []pingView {
	out := make([]pingView, len(rs))
	for i, r := range rs {
		out[i] = pingView{DeviceID: r.DeviceID, DeviceIP: r.DeviceIP, Timestamp: r.Timestamp, IsReachable: r.IsReachable,
			RTTAvgMs: r.RTTAvgMs, RTTMinMs: r.RTTMinMs, RTTMaxMs: r.RTTMaxMs, RTTStddevMs: r.RTTStddevMs,
			PacketLoss: r.PacketLoss, Sent: r.Sent, Received: r.Received}
	}
	return out
}

type branchView struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Counts    *counts   `json:"counts,omitempty"`
}

func toBranchView(b model.Branch) branchView {
	return branchView{ID: b.ID, Name: b.Name, Region: b.Region, CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
}

// seriesView is one VictoriaMetrics series of a device item.
type seriesView struct {
	Labels map[string]string `json:"labels"`
	Points [][2]float64      `json:"points"` // [unix seconds, value]
}

func toSeriesViews(mat pmodel.Matrix) []seriesView {
	out := make([]seriesView, 0, len(mat))
	for _, ss := range mat {
		sv := seriesView{Labels: map[string]string{}, Points: make([][2]float64, 0, len(ss.Values))}
		for k, v := range ss.Metric {
			if k != pmodel.MetricNameLabel {
				sv.Labels[string(k)] = string(v)
			}
		}
		for _, pt := range ss.Values {
			v := float64(pt.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue // JSON has no NaN
			}
			sv.Points = append(sv.Points, [2]float64{float64(pt.Timestamp) / 1000, v})
		}
		out = append(out, sv)
	}
	return out
}

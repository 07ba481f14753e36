package query

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/wardops/wardops/model"
)

// deviceItem is a device with its latest state, as lists and details return it. It has no SNMP
// access fields at all: secrets cannot leak through a type that does not hold them.
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
		BranchID: d.BranchID, Branch: d.Branch, Region: d.Region, Enabled: d.Enabled, ParentID: d.ParentID,
		Status: d.Status, RTTms: d.RTTms, Loss: d.Loss, DownSince: d.DownSince}
	if !d.LastProbe.IsZero() {
		t := d.LastProbe
		it.LastProbe = &t
	}
	return it
}

const (
	maxListLimit = 5000
	maxFilterLen = 200
)

var sortKeys = []string{"id", "name", "ip", "branch", "region", "vendor", "status", "rtt", "loss", "last_probe"}

// listDevices filters, sorts and pages the fleet snapshot in memory: no SQL is built from the
// request, and the answer costs no backend query while the snapshot is fresh.
func (s *Server) listDevices(c *gin.Context) {
	p, err := queryParams(c, "branch", "branch_id", "region", "vendor", "device_type", "status", "enabled", "q", "sort", "limit", "offset")
	if err != nil {
		s.fail(c, err)
		return
	}
	branch, region := p.str("branch", maxFilterLen), p.str("region", maxFilterLen)
	vendor, dtype := p.str("vendor", maxFilterLen), p.str("device_type", maxFilterLen)
	q := strings.ToLower(p.str("q", maxFilterLen))
	branchID := int64(p.integer("branch_id", 0, 1, 1<<62))
	status := p.oneOf("status", statusUp, statusDown, statusUnknown, statusDisabled)
	enabled := p.boolean("enabled")
	var sortAllowed []string
	for _, k := range sortKeys {
		sortAllowed = append(sortAllowed, k, "-"+k)
	}
	sortKey := p.oneOf("sort", sortAllowed...)
	limit := p.integer("limit", 100, 1, maxListLimit)
	offset := p.integer("offset", 0, 0, 1<<30)
	if p.err != nil {
		s.fail(c, p.err)
		return
	}
	snap, err := s.snapshot(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	// Every parameter was valid, so a page cached under this exact query string is the answer.
	key := c.Request.URL.RawQuery
	if r := snap.pages.get(key); r != nil {
		serveJSON(c, r)
		return
	}
	keep := func(d *fleetDevice) bool {
		return !((branch != "" && d.Branch != branch) || (region != "" && d.Region != region) ||
			(vendor != "" && d.Vendor != vendor) || (dtype != "" && d.DeviceType != dtype) ||
			(branchID != 0 && d.BranchID != branchID) || (status != "" && d.Status != status) ||
			(enabled != nil && d.Enabled != *enabled) || (q != "" && !strings.Contains(d.search, q)))
	}
	// In id order (the snapshot's) one pass counts the matches and keeps only the page; a sort
	// needs every match first.
	var page []int
	total := 0
	unfiltered := branch == "" && region == "" && vendor == "" && dtype == "" && branchID == 0 && status == "" && enabled == nil && q == ""
	switch {
	case unfiltered && (sortKey == "" || sortKey == "id"):
		// The NOC's plain paging: the page is a window of the snapshot, O(limit) at any fleet size.
		total = len(snap.Devices)
		for i := offset; i < min(total, offset+limit); i++ {
			page = append(page, i)
		}
	case sortKey == "" || sortKey == "id":
		for i := range snap.Devices {
			if keep(&snap.Devices[i]) {
				if total >= offset && len(page) < limit {
					page = append(page, i)
				}
				total++
			}
		}
	default:
		var match []int
		for i := range snap.Devices {
			if keep(&snap.Devices[i]) {
				match = append(match, i)
			}
		}
		sortDevices(snap.Devices, match, sortKey)
		total = len(match)
		if offset < len(match) {
			page = match[offset:min(len(match), offset+limit)]
		}
	}
	// The body is assembled from each device's cached JSON; the envelope is written by hand.
	var buf bytes.Buffer
	buf.Grow(128 + len(page)*320)
	buf.WriteString(`{"items":[`)
	for n, i := range page {
		b, err := snap.itemJSON(i)
		if err != nil {
			s.fail(c, err)
			return
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	fmt.Fprintf(&buf, `],"total":%d,"limit":%d,"offset":%d,"source":%q,"degraded":%t}`, total, limit, offset, snap.Source, snap.Degraded)
	r := newRendered(buf.Bytes())
	snap.pages.put(key, r)
	serveJSON(c, r)
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

type snmpView struct {
	Version    string   `json:"version"`
	Port       int      `json:"port"`
	Credential string   `json:"credential,omitempty"`
	Profiles   []string `json:"profiles"`
}

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

// getDevice returns one device with its items and open alerts. When PostgreSQL is down but the
// device is in the cached snapshot, that is returned, marked degraded.
func (s *Server) getDevice(c *gin.Context) {
	id, err := pathID(c)
	if err == nil {
		_, err = queryParams(c)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	snap, snapErr := s.snapshot(ctx)
	d, err := s.st.GetDevice(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		s.fail(c, notFound("device", id))
		return
	}
	if err != nil {
		if snapErr == nil {
			if fd, ok := snap.device(id); ok {
				c.JSON(http.StatusOK, deviceDetail{deviceItem: toDeviceItem(fd), Items: []itemView{}, Alerts: []alertView{}, Degraded: true})
				return
			}
		}
		s.fail(c, err)
		return
	}
	var out deviceDetail
	if fd, ok := snapOK(snap, snapErr, id); ok {
		out.deviceItem = toDeviceItem(fd)
	} else {
		out.deviceItem = deviceItem{Status: statusUnknown}
	}
	// The row just read wins over the snapshot's (up to a second older) inventory.
	out.ID, out.Name, out.IP, out.Vendor, out.DeviceType = d.ID, d.Name, d.IP.String(), d.Vendor, d.DeviceType
	out.BranchID, out.Branch, out.Region, out.Enabled, out.ParentID = d.BranchID, d.Branch, d.Region, d.Enabled, d.ParentID
	if !d.Enabled {
		out.Status = statusDisabled
	}
	out.SNMP = &snmpView{Version: d.SNMP.Version, Port: d.SNMP.Port, Credential: d.SNMP.Credential, Profiles: d.Profiles}
	if out.SNMP.Profiles == nil {
		out.SNMP.Profiles = []string{}
	}
	out.PingIntervalSeconds = int(d.PingInterval / time.Second)
	out.CreatedAt, out.UpdatedAt = &d.CreatedAt, &d.UpdatedAt
	items, err := s.st.DeviceItems(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	out.Items = make([]itemView, len(items))
	for i, it := range items {
		out.Items[i] = itemView{ID: it.ID, Name: it.Name, OID: it.OID, Kind: it.Kind, ValueType: it.ValueType,
			Labels: it.Labels, Profile: it.Profile, IntervalSeconds: int(it.Interval / time.Second), Enabled: it.Enabled}
	}
	alerts, _, err := s.st.OpenAlerts(ctx, id, alertLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out.Alerts = toAlertViews(alerts)
	out.SNMPCoverage = s.readCoverage(ctx, id)
	c.JSON(http.StatusOK, out)
}

func snapOK(snap *snapshot, err error, id int64) (*fleetDevice, bool) {
	if err != nil || snap == nil {
		return nil, false
	}
	return snap.device(id)
}

const (
	maxHistoryRange = 31 * 24 * time.Hour
	maxHistoryRows  = 10000
	maxPoints       = 11000
)

// pingHistory returns a device's probes from ping_results, oldest first.
func (s *Server) pingHistory(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, err := queryParams(c, "from", "to", "limit")
	if err != nil {
		s.fail(c, err)
		return
	}
	now := time.Now().UTC()
	to := p.time("to", now)
	from := p.time("from", to.Add(-time.Hour))
	limit := p.integer("limit", 1000, 1, maxHistoryRows)
	if p.err == nil && !from.Before(to) {
		p.err = badParam("from", "must be before to")
	}
	if p.err == nil && to.Sub(from) > maxHistoryRange {
		p.err = badParam("from", "range longer than %s", maxHistoryRange)
	}
	if p.err != nil {
		s.fail(c, p.err)
		return
	}
	ctx := c.Request.Context()
	d, err := s.st.GetDevice(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		s.fail(c, notFound("device", id))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	rs, err := s.st.PingHistory(ctx, d.IP, from, to, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	views := make([]pingView, len(rs))
	for i, r := range rs {
		views[i] = toPingView(r)
	}
	c.JSON(http.StatusOK, gin.H{"device_id": id, "from": from, "to": to, "items": views})
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

func toPingView(r model.PingResult) pingView {
	return pingView{DeviceID: r.DeviceID, DeviceIP: r.DeviceIP, Timestamp: r.Timestamp, IsReachable: r.IsReachable,
		RTTAvgMs: r.RTTAvgMs, RTTMinMs: r.RTTMinMs, RTTMaxMs: r.RTTMaxMs, RTTStddevMs: r.RTTStddevMs,
		PacketLoss: r.PacketLoss, Sent: r.Sent, Received: r.Received}
}

var (
	itemNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,127}$`)
	pingItems  = map[string]bool{"ping_up": true, "ping_rtt_seconds": true, "ping_rtt_min_seconds": true,
		"ping_rtt_max_seconds": true, "ping_rtt_stddev_seconds": true, "ping_loss_ratio": true}
)

type seriesView struct {
	Labels map[string]string `json:"labels"`
	Points [][2]float64      `json:"points"` // [unix seconds, value]
}

// deviceMetrics reads one item of one device from VictoriaMetrics with query_range. The item is
// a ping series (ping_rtt_seconds…) or one of the device's SNMP items; the expression is built
// only from the validated item name and the numeric id.
func (s *Server) deviceMetrics(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p, err := queryParams(c, "item", "from", "to", "step")
	if err != nil {
		s.fail(c, err)
		return
	}
	item := p.str("item", 128)
	if p.err == nil && !itemNameRe.MatchString(item) {
		p.err = badParam("item", "must be an item name such as ping_rtt_seconds or ifHCInOctets")
	}
	now := time.Now().UTC()
	to := p.time("to", now)
	from := p.time("from", to.Add(-time.Hour))
	if p.err == nil && !from.Before(to) {
		p.err = badParam("from", "must be before to")
	}
	if p.err == nil && to.Sub(from) > maxHistoryRange*12 {
		p.err = badParam("from", "range longer than %s", maxHistoryRange*12)
	}
	defStep := max(15*time.Second, (to.Sub(from) / 300).Truncate(time.Second))
	step := p.duration("step", defStep, time.Second, 24*time.Hour)
	if p.err == nil && to.Sub(from)/step > maxPoints {
		p.err = badParam("step", "too small: more than %d points", maxPoints)
	}
	if p.err != nil {
		s.fail(c, p.err)
		return
	}
	ctx := c.Request.Context()
	if _, err := s.st.GetDevice(ctx, id); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			err = notFound("device", id)
		}
		s.fail(c, err)
		return
	}
	metric := "wardops_" + item
	if !pingItems[item] {
		items, err := s.st.DeviceItems(ctx, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		known := false
		for _, it := range items {
			known = known || it.Name == item
		}
		if !known {
			s.fail(c, &apiError{Status: http.StatusNotFound, Param: "item", Message: "item: device " + strconv.FormatInt(id, 10) + " has no item " + item})
			return
		}
		metric = "wardops_snmp_" + item
	}
	if s.vm == nil {
		s.fail(c, errNoVM)
		return
	}
	expr := metric + `{device_id="` + strconv.FormatInt(id, 10) + `"}`
	mat, err := s.vm.QueryRange(ctx, expr, v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		s.fail(c, err)
		return
	}
	series := make([]seriesView, 0, len(mat))
	for _, ss := range mat {
		sv := seriesView{Labels: map[string]string{}, Points: make([][2]float64, 0, len(ss.Values))}
		for k, v := range ss.Metric {
			if k != "__name__" {
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
		series = append(series, sv)
	}
	c.JSON(http.StatusOK, gin.H{"device_id": id, "item": item, "metric": metric, "from": from, "to": to,
		"step_seconds": step.Seconds(), "series": series})
}

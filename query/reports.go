package query

import (
	"context"
	"encoding/csv"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wardops/wardops/model"
)

// ReportStore is what the availability report reads: the inventory, the maintenance windows and
// the ping_results fallback.
type ReportStore interface {
	ListDeviceSummaries(ctx context.Context) ([]model.DeviceSummary, error)
	MaintenanceWindows(ctx context.Context, endedAfter time.Time) ([]model.MaintenanceWindow, error)
	ProbeCounts(ctx context.Context, from, to time.Time, excluded []model.DeviceInterval) (map[int64]model.ProbeCounts, error)
}

// maxReportRange lets one request cover any calendar quarter, and so any month.
const maxReportRange = 92 * 24 * time.Hour

// reportMethod is what a report says about how it was computed, so a reader of the CSV's JSON
// twin or of the README can check the arithmetic.
const reportMethod = "availability_pct = 100 × answered / probes, counting only probes in [from, to) outside maintenance; " +
	"downtime_minutes = (probes - answered) × the device's probe interval; branch and region rows sum their devices"

// reportHandlers serve availability reports.
type reportHandlers struct {
	responder
	st           ReportStore
	vm           metricsReader
	pingInterval time.Duration // a device's probe interval when it has none of its own
}

type reportRow struct {
	DeviceID        int64    `json:"device_id,omitempty"`
	Device          string   `json:"device,omitempty"`
	Branch          string   `json:"branch,omitempty"`
	Region          string   `json:"region"`
	Devices         int      `json:"devices"`
	Probes          int64    `json:"probes"`
	Answered        int64    `json:"answered"`
	ExcludedProbes  int64    `json:"excluded_probes"`
	AvailabilityPct *float64 `json:"availability_pct"` // null: no probe counted
	DowntimeMinutes float64  `json:"downtime_minutes"`
	downSeconds     float64
}

type reportWindow struct {
	ID          int64      `json:"id"`
	ScopeKind   string     `json:"scope_kind"`
	ScopeValue  string     `json:"scope_value"`
	Reason      string     `json:"reason"`
	Devices     int        `json:"devices"`
	Occurrences []spanView `json:"occurrences"`
}

type spanView struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type availabilityReport struct {
	From        time.Time      `json:"from"`
	To          time.Time      `json:"to"`
	Group       string         `json:"group"`
	Source      string         `json:"source"` // victoriametrics or postgresql
	Problems    []string       `json:"problems"`
	Method      string         `json:"method"`
	Rows        []reportRow    `json:"rows"`
	Maintenance []reportWindow `json:"maintenance"`
}

var reportCSVHeader = []string{"device_id", "device", "branch", "region", "devices", "probes", "answered",
	"excluded_probes", "availability_pct", "downtime_minutes"}

func (h *reportHandlers) availability(c *gin.Context) {
	p, err := queryParams(c, "from", "to", "group", "format")
	if err != nil {
		h.fail(c, err)
		return
	}
	if p.v == nil || !p.has("from") || !p.has("to") {
		h.fail(c, badParam("from", "from and to are both required"))
		return
	}
	from, to := p.timeRange(maxReportRange)
	group := p.oneOf("group", "device", "branch", "region")
	if group == "" {
		group = "device"
	}
	format := p.oneOf("format", "json", "csv")
	if p.err != nil {
		h.fail(c, p.err)
		return
	}
	if format == "" {
		format = "json"
		if strings.Contains(c.GetHeader("Accept"), "text/csv") {
			format = "csv"
		}
	}
	rep, err := h.build(c.Request.Context(), from, to, group)
	if err != nil {
		h.fail(c, err)
		return
	}
	if format == "csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="availability-`+group+`-`+from.Format("20060102T150405Z")+`.csv"`)
		c.Header("X-Wardops-Source", rep.Source)
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		_ = w.Write(reportCSVHeader)
		for _, r := range rep.Rows {
			_ = w.Write(r.csv())
		}
		w.Flush() // a client gone mid-write is not our error to report
		return
	}
	c.JSON(http.StatusOK, rep)
}

func (r reportRow) csv() []string {
	id := ""
	if r.DeviceID != 0 {
		id = strconv.FormatInt(r.DeviceID, 10)
	}
	pct := ""
	if r.AvailabilityPct != nil {
		pct = strconv.FormatFloat(*r.AvailabilityPct, 'f', -1, 64)
	}
	return []string{id, r.Device, r.Branch, r.Region, strconv.Itoa(r.Devices), strconv.FormatInt(r.Probes, 10),
		strconv.FormatInt(r.Answered, 10), strconv.FormatInt(r.ExcludedProbes, 10), pct,
		strconv.FormatFloat(r.DowntimeMinutes, 'f', -1, 64)}
}

// build computes the report: maintenance occurrences per device from the windows, then the
// counts from VictoriaMetrics, or from ping_results when VictoriaMetrics cannot answer.
func (h *reportHandlers) build(ctx context.Context, from, to time.Time, group string) (*availabilityReport, error) {
	devs, err := h.st.ListDeviceSummaries(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := h.st.MaintenanceWindows(ctx, from)
	if err != nil {
		return nil, err
	}
	excl, listed := maintenanceSpans(devs, ws, from, to)
	rep := &availabilityReport{From: from, To: to, Group: group, Method: reportMethod, Problems: []string{}, Maintenance: listed}
	counts, err := vmProbeCounts(ctx, h.vm, from, to, excl)
	rep.Source = "victoriametrics"
	if err != nil {
		rep.Problems = append(rep.Problems, "victoriametrics: "+err.Error())
		rep.Source = "postgresql"
		if counts, err = h.st.ProbeCounts(ctx, from, to, excl); err != nil {
			return nil, err
		}
	}
	rep.Rows = h.rows(devs, counts, group)
	return rep, nil
}

// maintenanceSpans turns the windows into each device's merged, disjoint excluded spans inside
// [from, to), and lists the windows that have an occurrence in it. Branch and region scopes are
// matched against the current inventory.
func maintenanceSpans(devs []model.DeviceSummary, ws []model.MaintenanceWindow, from, to time.Time) ([]model.DeviceInterval, []reportWindow) {
	perDevice := map[int64][]model.Interval{}
	listed := []reportWindow{}
	for _, w := range ws {
		occ := w.Occurrences(from, to)
		if len(occ) == 0 {
			continue
		}
		rw := reportWindow{ID: w.ID, ScopeKind: w.ScopeKind, ScopeValue: w.ScopeValue, Reason: w.Reason}
		for _, o := range occ {
			rw.Occurrences = append(rw.Occurrences, spanView{Start: o.Start, End: o.End})
		}
		for _, d := range devs {
			var hit bool
			switch w.ScopeKind {
			case model.MaintenanceDevice:
				hit = strconv.FormatInt(d.ID, 10) == w.ScopeValue
			case model.MaintenanceBranch:
				hit = d.Branch == w.ScopeValue
			case model.MaintenanceRegion:
				hit = d.Region == w.ScopeValue
			}
			if hit {
				rw.Devices++
				perDevice[d.ID] = append(perDevice[d.ID], occ...)
			}
		}
		listed = append(listed, rw)
	}
	var out []model.DeviceInterval
	for id, ivs := range perDevice {
		for _, iv := range model.MergeIntervals(ivs) {
			out = append(out, model.DeviceInterval{DeviceID: id, Interval: iv})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DeviceID != out[j].DeviceID {
			return out[i].DeviceID < out[j].DeviceID
		}
		return out[i].Start.Before(out[j].Start)
	})
	return out, listed
}

// rows makes one row per device, then sums them into branches or regions.
func (h *reportHandlers) rows(devs []model.DeviceSummary, counts map[int64]model.ProbeCounts, group string) []reportRow {
	var out []reportRow
	idx := map[string]int{}
	for _, d := range devs {
		c := counts[d.ID]
		iv := d.PingInterval
		if iv <= 0 {
			iv = h.pingInterval
		}
		r := reportRow{DeviceID: d.ID, Device: d.Name, Branch: d.Branch, Region: d.Region, Devices: 1,
			Probes: c.Probes, Answered: c.Answered, ExcludedProbes: c.Excluded,
			downSeconds: float64(c.Probes-c.Answered) * iv.Seconds()}
		var key string
		switch group {
		case "device":
			out = append(out, r)
			continue
		case "branch":
			key = d.Region + "\x00" + d.Branch
			r.DeviceID, r.Device = 0, ""
		default:
			key = d.Region
			r.DeviceID, r.Device, r.Branch = 0, "", ""
		}
		i, ok := idx[key]
		if !ok {
			idx[key] = len(out)
			out = append(out, r)
			continue
		}
		a := &out[i]
		a.Devices++
		a.Probes += r.Probes
		a.Answered += r.Answered
		a.ExcludedProbes += r.ExcludedProbes
		a.downSeconds += r.downSeconds
	}
	for i := range out {
		r := &out[i]
		if r.Probes > 0 {
			pct := round4(100 * float64(r.Answered) / float64(r.Probes))
			r.AvailabilityPct = &pct
		}
		r.DowntimeMinutes = math.Round(r.downSeconds/60*100) / 100
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Branch != b.Branch {
			return a.Branch < b.Branch
		}
		return a.Device < b.Device
	})
	return out
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

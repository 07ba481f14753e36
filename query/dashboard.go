package query

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
)

// counts is the state breakdown shared by totals, branches and regions.
type counts struct {
	Devices  int `json:"devices"`
	Up       int `json:"up"`
	Down     int `json:"down"`
	Unknown  int `json:"unknown"`
	Disabled int `json:"disabled"`
}

func (c *counts) add(status string) {
	c.Devices++
	switch status {
	case statusUp:
		c.Up++
	case statusDown:
		c.Down++
	case statusUnknown:
		c.Unknown++
	case statusDisabled:
		c.Disabled++
	}
}

type branchCounts struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Region string `json:"region"`
	counts
}

type regionCounts struct {
	Name string `json:"name"`
	counts
}

type downDevice struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	IP        string     `json:"ip"`
	Branch    string     `json:"branch"`
	Region    string     `json:"region"`
	Since     *time.Time `json:"since"`
	LastProbe time.Time  `json:"last_probe"`
}

type rankedDevice struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Branch string  `json:"branch"`
	Value  float64 `json:"value"`
}

type alertsView struct {
	Total int         `json:"total"`
	Stale bool        `json:"stale"`
	Items []alertView `json:"items"`
}

type dashboardBody struct {
	GeneratedAt    time.Time      `json:"generated_at"`
	Source         string         `json:"source"`
	Degraded       bool           `json:"degraded"`
	Problems       []string       `json:"problems"`
	InventoryStale bool           `json:"inventory_stale"`
	NewestSample   *time.Time     `json:"newest_sample"`
	Totals         counts         `json:"totals"`
	Branches       []branchCounts `json:"branches"`
	Regions        []regionCounts `json:"regions"`
	Down           []downDevice   `json:"down"`
	DownTotal      int            `json:"down_total"`
	Alerts         alertsView     `json:"alerts"`
	WorstRTT       []rankedDevice `json:"worst_rtt_ms"`
	WorstLoss      []rankedDevice `json:"worst_loss_ratio"`
}

// maxDownListed caps the down list (longest outages first); down_total and totals.down count all.
// At 100,000 devices a bad hour could list thousands, and every screen would fetch them each second.
const maxDownListed = 500

// topK is the length of the worst-RTT and worst-loss lists.
const topK = 10

// renderDashboard computes every aggregate of the dashboard once per snapshot and renders it, so
// serving the dashboard is a copy of bytes.
func renderDashboard(s *snapshot) ([]byte, error) {
	b := dashboardBody{GeneratedAt: s.At, Source: s.Source, Degraded: s.Degraded, Problems: s.Problems,
		InventoryStale: s.InventoryStale, Branches: []branchCounts{}, Regions: []regionCounts{}, Down: []downDevice{},
		Alerts: alertsView{Total: s.AlertsTotal, Stale: s.AlertsStale, Items: toAlertViews(s.Alerts)}}
	if b.Problems == nil {
		b.Problems = []string{}
	}
	if !s.NewestSample.IsZero() {
		t := s.NewestSample
		b.NewestSample = &t
	}
	if s.layout != nil { // nil only in a snapshot without devices
		b.Branches = append(b.Branches, s.layout.branches...)
		b.Regions = append(b.Regions, s.layout.regions...)
	}
	var rtt, loss topList
	for i := range s.Devices {
		d := &s.Devices[i]
		b.Totals.add(d.Status)
		b.Branches[s.layout.branchOf[i]].add(d.Status)
		b.Regions[s.layout.regionOf[i]].add(d.Status)
		switch d.Status {
		case statusDown:
			b.Down = append(b.Down, downDevice{ID: d.ID, Name: d.Name, IP: d.IP.String(), Branch: d.Branch,
				Region: d.Region, Since: d.DownSince, LastProbe: d.LastProbe})
		case statusUp:
			if d.RTTms != nil {
				rtt.offer(d, *d.RTTms)
			}
			if d.Loss != nil && *d.Loss > 0 {
				loss.offer(d, *d.Loss)
			}
		}
	}
	// Longest outage first: that is the one a NOC is most behind on.
	sort.Slice(b.Down, func(i, j int) bool {
		a, c := b.Down[i], b.Down[j]
		if a.Since != nil && c.Since != nil && !a.Since.Equal(*c.Since) {
			return a.Since.Before(*c.Since)
		}
		return a.ID < c.ID
	})
	b.DownTotal = len(b.Down)
	if len(b.Down) > maxDownListed {
		b.Down = b.Down[:maxDownListed]
	}
	b.WorstRTT, b.WorstLoss = rtt.list(), loss.list()
	return json.Marshal(b)
}

// topList keeps the topK devices with the highest values seen, highest first (ties: lower id
// first), in one pass and without holding the others: at 100,000 devices sorting every up device
// to keep ten was a tenth of a build.
type topList struct{ ds []rankedDevice }

func (t *topList) offer(d *fleetDevice, v float64) {
	r := rankedDevice{ID: d.ID, Name: d.Name, Branch: d.Branch, Value: v}
	before := func(a, b rankedDevice) bool { return a.Value > b.Value || a.Value == b.Value && a.ID < b.ID }
	if len(t.ds) == topK && !before(r, t.ds[topK-1]) {
		return
	}
	i := sort.Search(len(t.ds), func(i int) bool { return before(r, t.ds[i]) })
	if len(t.ds) < topK {
		t.ds = append(t.ds, rankedDevice{})
	}
	copy(t.ds[i+1:], t.ds[i:])
	t.ds[i] = r
}

func (t *topList) list() []rankedDevice {
	if t.ds == nil {
		return []rankedDevice{}
	}
	return t.ds
}

// dashboardHandlers serves the fleet overview.
type dashboardHandlers struct {
	responder
	snaps *snapshots
}

// dashboard serves the current snapshot's pre-rendered body.
func (h *dashboardHandlers) dashboard(c *gin.Context) {
	if _, err := queryParams(c); err != nil {
		h.fail(c, err)
		return
	}
	snap, err := h.snaps.get(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	serveSnapshot(c, snap, snap.dashboard)
}

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
	branches := map[int64]*branchCounts{}
	regions := map[string]*regionCounts{}
	var rtt, loss []rankedDevice
	for i := range s.Devices {
		d := &s.Devices[i]
		b.Totals.add(d.Status)
		bc, ok := branches[d.BranchID]
		if !ok {
			bc = &branchCounts{ID: d.BranchID, Name: d.Branch, Region: d.Region}
			branches[d.BranchID] = bc
		}
		bc.add(d.Status)
		rc, ok := regions[d.Region]
		if !ok {
			rc = &regionCounts{Name: d.Region}
			regions[d.Region] = rc
		}
		rc.add(d.Status)
		switch d.Status {
		case statusDown:
			b.Down = append(b.Down, downDevice{ID: d.ID, Name: d.Name, IP: d.IP.String(), Branch: d.Branch,
				Region: d.Region, Since: d.DownSince, LastProbe: d.LastProbe})
		case statusUp:
			if d.RTTms != nil {
				rtt = append(rtt, rankedDevice{ID: d.ID, Name: d.Name, Branch: d.Branch, Value: *d.RTTms})
			}
			if d.Loss != nil && *d.Loss > 0 {
				loss = append(loss, rankedDevice{ID: d.ID, Name: d.Name, Branch: d.Branch, Value: *d.Loss})
			}
		}
	}
	for _, bc := range branches {
		b.Branches = append(b.Branches, *bc)
	}
	sort.Slice(b.Branches, func(i, j int) bool { return b.Branches[i].Name < b.Branches[j].Name })
	for _, rc := range regions {
		b.Regions = append(b.Regions, *rc)
	}
	sort.Slice(b.Regions, func(i, j int) bool { return b.Regions[i].Name < b.Regions[j].Name })
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
	b.WorstRTT, b.WorstLoss = worst(rtt), worst(loss)
	return json.Marshal(b)
}

func worst(ds []rankedDevice) []rankedDevice {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].Value != ds[j].Value {
			return ds[i].Value > ds[j].Value
		}
		return ds[i].ID < ds[j].ID
	})
	if len(ds) > topK {
		ds = ds[:topK]
	}
	if ds == nil {
		ds = []rankedDevice{}
	}
	return ds
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

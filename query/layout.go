package query

import (
	"sort"
	"strings"
	"time"

	"github.com/wardops/wardops/model"
)

// fleetLayout is everything a snapshot build derives from the device list alone, made once per
// inventory read and shared, read-only, by every snapshot built on it: at 100,000 devices the
// index, the search strings and the branch and region groups would otherwise be made again on
// every build, about a million allocations a second for an answer that did not change.
type fleetLayout struct {
	devices  []model.DeviceSummary // by id
	byID     map[int64]int
	search   []string // lower-case "name ip" for the q filter, by position
	branchOf []int32  // position in branches, by device position
	regionOf []int32  // position in regions, by device position
	branches []branchCounts
	regions  []regionCounts
	maxIntvl time.Duration // the longest device's own ping interval
}

func newFleetLayout(devs []model.DeviceSummary) *fleetLayout {
	l := &fleetLayout{devices: devs, byID: make(map[int64]int, len(devs)), search: make([]string, len(devs)),
		branchOf: make([]int32, len(devs)), regionOf: make([]int32, len(devs))}
	branch := map[int64]int32{}
	region := map[string]int32{}
	for i, d := range devs {
		l.byID[d.ID] = i
		l.search[i] = strings.ToLower(d.Name + " " + d.IP.String())
		l.maxIntvl = max(l.maxIntvl, d.PingInterval)
		b, ok := branch[d.BranchID]
		if !ok {
			b = int32(len(l.branches))
			branch[d.BranchID] = b
			l.branches = append(l.branches, branchCounts{ID: d.BranchID, Name: d.Branch, Region: d.Region})
		}
		r, ok := region[d.Region]
		if !ok {
			r = int32(len(l.regions))
			region[d.Region] = r
			l.regions = append(l.regions, regionCounts{Name: d.Region})
		}
		l.branchOf[i], l.regionOf[i] = b, r
	}
	// The dashboard lists groups by name: sort them once here.
	l.branches = byName(l.branches, func(b branchCounts) string { return b.Name }, l.branchOf)
	l.regions = byName(l.regions, func(r regionCounts) string { return r.Name }, l.regionOf)
	return l
}

// byName returns groups sorted by name, and moves the devices' group positions in of with them.
func byName[G any](groups []G, name func(G) string, of []int32) []G {
	order := make([]int32, len(groups))
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return name(groups[order[a]]) < name(groups[order[b]]) })
	pos := make([]int32, len(groups))
	sorted := make([]G, len(groups))
	for k, o := range order {
		pos[o], sorted[k] = int32(k), groups[o]
	}
	for i, g := range of {
		of[i] = pos[g]
	}
	return sorted
}

package query

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/wardops/wardops/model"
)

// coverageWindow is how far back the device detail looks for a device's newest
// wardops_snmp_table_rows: several default SNMP intervals, so a device polled every few minutes
// still shows, while a profile removed from it drops out within the window.
const coverageWindow = 15 * time.Minute

// coverage says which of a device's SNMP profiles returned data in its newest poll.
type coverage struct {
	Profiles []profileCoverage `json:"profiles"`        // by profile name; empty before the first poll
	Error    string            `json:"error,omitempty"` // VictoriaMetrics could not be read; the rest of the detail stands
}

// profileCoverage is one profile's tables and the rows each returned. ReturnedData is false when
// every table was empty: the profile does not apply, or the agent's view hides it.
type profileCoverage struct {
	Profile      string         `json:"profile"`
	ReturnedData bool           `json:"returned_data"`
	Tables       map[string]int `json:"tables"`
}

// coverageQuery is one instant query for one device; max by keeps one series per table when the
// device's labels (branch, name) changed inside the window.
func coverageQuery(id int64) string {
	return `max by (profile, table) (last_over_time(` + model.MetricSNMPTableRows + `{device_id="` +
		strconv.FormatInt(id, 10) + `"}[` + strconv.Itoa(int(coverageWindow/time.Second)) + `s]))`
}

// readCoverage reads the device's table-row counts. A failure is reported in the view and logged,
// not returned: the inventory part of the detail comes from PostgreSQL and is still right.
func (h *deviceReads) readCoverage(ctx context.Context, id int64) *coverage {
	if h.vm == nil {
		return &coverage{Profiles: []profileCoverage{}, Error: errNoVM.Error()}
	}
	vec, err := h.vm.Query(ctx, coverageQuery(id), time.Now())
	if err != nil {
		h.log.Warn("cannot read SNMP coverage", "device_id", id, "err", err)
		return &coverage{Profiles: []profileCoverage{}, Error: "cannot query VictoriaMetrics"}
	}
	byProfile := map[string]*profileCoverage{}
	for _, smp := range vec {
		name := string(smp.Metric["profile"])
		pc := byProfile[name]
		if pc == nil {
			pc = &profileCoverage{Profile: name, Tables: map[string]int{}}
			byProfile[name] = pc
		}
		rows := int(smp.Value)
		pc.Tables[string(smp.Metric["table"])] = rows
		pc.ReturnedData = pc.ReturnedData || rows > 0
	}
	out := &coverage{Profiles: make([]profileCoverage, 0, len(byProfile))}
	for _, pc := range byProfile {
		out.Profiles = append(out.Profiles, *pc)
	}
	sort.Slice(out.Profiles, func(i, j int) bool { return out.Profiles[i].Profile < out.Profiles[j].Profile })
	return out
}

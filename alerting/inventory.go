package alerting

import (
	"strconv"
	"time"

	"github.com/wardops/wardops/model"
)

// inventory is one read of devices, parents, rules and maintenance windows, shared read-only by
// the evaluation loops until the next refresh replaces it.
type inventory struct {
	devices     map[int64]*model.DeviceNode
	children    map[int64][]int64
	rules       []model.Rule
	byID        map[int64]model.Rule
	windows     []model.MaintenanceWindow
	maxInterval time.Duration
	defInterval time.Duration
}

func newInventory(devs []model.DeviceNode, rules []model.Rule, windows []model.MaintenanceWindow, def time.Duration) *inventory {
	inv := &inventory{devices: make(map[int64]*model.DeviceNode, len(devs)), children: map[int64][]int64{},
		rules: rules, byID: make(map[int64]model.Rule, len(rules)), windows: windows, maxInterval: def, defInterval: def}
	for _, r := range rules {
		inv.byID[r.ID] = r
	}
	for i := range devs {
		d := &devs[i]
		inv.devices[d.ID] = d
		for _, p := range d.Parents {
			inv.children[p] = append(inv.children[p], d.ID)
		}
		if d.PingInterval > inv.maxInterval {
			inv.maxInterval = d.PingInterval
		}
	}
	return inv
}

func (inv *inventory) interval(id int64) time.Duration {
	if d := inv.devices[id]; d != nil && d.PingInterval > 0 {
		return d.PingInterval
	}
	return inv.defInterval
}

func (inv *inventory) rule(kind string) (model.Rule, bool) {
	for _, r := range inv.rules {
		if r.Kind == kind {
			return r, r.Enabled
		}
	}
	return model.Rule{}, false
}

// inScope reports whether rule r applies to device d.
func inScope(r model.Rule, d *model.DeviceNode) bool {
	switch r.ScopeKind {
	case model.ScopeRegion:
		return d.Region == r.ScopeValue
	case model.ScopeBranch:
		return d.Branch == r.ScopeValue
	case model.ScopeVendor:
		return d.Vendor == r.ScopeValue
	case model.ScopeDeviceType:
		return d.DeviceType == r.ScopeValue
	case model.ScopeDevice:
		return strconv.FormatInt(d.ID, 10) == r.ScopeValue
	}
	return true
}

// maintenance answers "is this device covered by a window now", for one evaluation: a window on
// the device, its branch or its region, or on any of its ancestors (a parent in maintenance takes
// its children down with it).
type maintenance struct {
	inv                     *inventory
	devices, branch, region map[string]bool
	memo                    map[int64]bool
}

func newMaintenance(inv *inventory, now time.Time) *maintenance {
	m := &maintenance{inv: inv, devices: map[string]bool{}, branch: map[string]bool{}, region: map[string]bool{}, memo: map[int64]bool{}}
	for _, w := range inv.windows {
		if ok, _ := w.ActiveAt(now); !ok {
			continue
		}
		switch w.ScopeKind {
		case model.MaintenanceDevice:
			m.devices[w.ScopeValue] = true
		case model.MaintenanceBranch:
			m.branch[w.ScopeValue] = true
		case model.MaintenanceRegion:
			m.region[w.ScopeValue] = true
		}
	}
	return m
}

func (m *maintenance) covers(id int64) bool {
	if len(m.devices)+len(m.branch)+len(m.region) == 0 {
		return false
	}
	if v, ok := m.memo[id]; ok {
		return v
	}
	m.memo[id] = false // a cycle slipped into the data must not recurse forever
	d := m.inv.devices[id]
	if d == nil {
		return false
	}
	v := m.devices[strconv.FormatInt(id, 10)] || m.branch[d.Branch] || m.region[d.Region]
	for _, p := range d.Parents {
		if v {
			break
		}
		v = m.covers(p)
	}
	m.memo[id] = v
	return v
}

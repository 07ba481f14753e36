package query

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// The device list is filtered, sorted and paged in memory from the snapshot: no SQL is built from
// the request, and an answer costs no backend query while the snapshot is fresh.

// unfiltered says the query keeps every device.
func (q *listQuery) unfiltered() bool {
	return q.branch == "" && q.region == "" && q.vendor == "" && q.deviceType == "" && q.branchID == 0 &&
		q.status == "" && q.enabled == nil && q.q == ""
}

// keeps says whether d passes every filter of q.
func (q *listQuery) keeps(d *fleetDevice) bool {
	return (q.branch == "" || d.Branch == q.branch) && (q.region == "" || d.Region == q.region) &&
		(q.vendor == "" || d.Vendor == q.vendor) && (q.deviceType == "" || d.DeviceType == q.deviceType) &&
		(q.branchID == 0 || d.BranchID == q.branchID) && (q.status == "" || d.Status == q.status) &&
		(q.enabled == nil || d.Enabled == *q.enabled) && (q.q == "" || strings.Contains(d.search, q.q))
}

// selectPage returns the snapshot indices of the requested page and the number of matches.
func selectPage(snap *snapshot, q *listQuery) (page []int, total int) {
	byID := q.sort == "" || q.sort == "id"
	switch {
	case byID && q.unfiltered():
		// The NOC's plain paging: the page is a window of the snapshot, O(limit) at any fleet size.
		total = len(snap.Devices)
		for i := q.offset; i < min(total, q.offset+q.limit); i++ {
			page = append(page, i)
		}
	case byID:
		// In id order (the snapshot's) one pass counts the matches and keeps only the page.
		for i := range snap.Devices {
			if q.keeps(&snap.Devices[i]) {
				if total >= q.offset && len(page) < q.limit {
					page = append(page, i)
				}
				total++
			}
		}
	default:
		// A sort needs every match first.
		var match []int
		for i := range snap.Devices {
			if q.keeps(&snap.Devices[i]) {
				match = append(match, i)
			}
		}
		sortDevices(snap.Devices, match, q.sort)
		total = len(match)
		if q.offset < len(match) {
			page = match[q.offset:min(len(match), q.offset+q.limit)]
		}
	}
	return page, total
}

// renderPage assembles a list body from each device's cached JSON; only the envelope is written
// here, so a page costs no encoding of devices already rendered for this snapshot.
func renderPage(snap *snapshot, q *listQuery, page []int, total int) (*rendered, error) {
	b := make([]byte, 0, 192+len(page)*320)
	b = append(b, `{"items":[`...)
	for n, i := range page {
		item, err := snap.itemJSON(i)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, item...)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(q.limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(q.offset), 10)
	b = append(b, `,"source":`...)
	b = strconv.AppendQuote(b, snap.Source)
	b = append(b, `,"degraded":`...)
	b = strconv.AppendBool(b, snap.Degraded)
	b = append(b, `,"generated_at":"`...)
	b = snap.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return newRendered(b), nil
}

// sortDevices orders devices by key (a field name, "-" prefix for descending), then by id so
// pages are stable.
func sortDevices(all []fleetDevice, idx []int, key string) {
	desc := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	less := func(a, b *fleetDevice) int {
		switch key {
		case "id":
			return cmpInt(a.ID, b.ID)
		case "name":
			return strings.Compare(a.Name, b.Name)
		case "ip":
			return a.IP.Compare(b.IP)
		case "branch":
			return strings.Compare(a.Branch, b.Branch)
		case "region":
			return strings.Compare(a.Region, b.Region)
		case "vendor":
			return strings.Compare(a.Vendor, b.Vendor)
		case "status":
			return strings.Compare(a.Status, b.Status)
		case "rtt":
			return cmpPtr(a.RTTms, b.RTTms)
		case "loss":
			return cmpPtr(a.Loss, b.Loss)
		case "last_probe":
			return a.LastProbe.Compare(b.LastProbe)
		}
		return 0
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := &all[idx[i]], &all[idx[j]]
		c := less(a, b)
		if desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
		return a.ID < b.ID
	})
}

// cmpPtr orders nil (no value) first.
func cmpPtr(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	case *a < *b:
		return -1
	case *a > *b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

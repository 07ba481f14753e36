package query

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

// TestAvailabilityReport seeds six devices in three branches and two regions with one probe a
// minute (the devices' probe interval) around a 240-minute period, with down minutes the test
// places, a weekly device window (in Europe/Berlin) and a one-off branch window over some of them,
// and a window that ended before the period. The report must give exactly the counted probes,
// answered probes, excluded probes, availability and downtime minutes per device, branch and
// region, as JSON and CSV, from VictoriaMetrics and then, with VictoriaMetrics stopped, from
// ping_results.
func TestAvailabilityReport(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PingInterval = time.Minute })
	devs := e.seedInventory(3, 2, nil) // branch-00 and branch-02 are region-0, branch-01 region-1
	ctx := context.Background()
	from := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	to := from.Add(240 * time.Minute)
	at := func(min int) time.Time { return from.Add(time.Duration(min) * time.Minute) }

	// down[i] are device i's unanswered minutes, as [start, end) minute offsets from from.
	down := [][][2]int{
		0: {{30, 40}},
		1: nil,
		2: {{100, 160}},
		3: {{0, 5}},
		4: {{-8, -3}, {200, 250}}, // the minutes outside the period must not count
	}
	probes := map[fleetDev][]probe{}
	for i, spans := range down {
		var ps []probe
		for m := -10; m < 250; m++ {
			up := true
			for _, s := range spans {
				up = up && !(m >= s[0] && m < s[1])
			}
			ps = append(ps, probe{at: at(m), up: up, rtt: 2})
		}
		probes[devs[i]] = ps
	}
	e.seedProbes(probes) // devs[5] is never probed

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	wk := at(35).In(berlin)
	weekly := model.MaintenanceWindow{ScopeKind: model.MaintenanceDevice, ScopeValue: strconv.FormatInt(devs[0].ID, 10),
		Weekdays: []int{int(wk.Weekday())}, StartTime: wk.Format("15:04"), Duration: 10 * time.Minute, TimeZone: "Europe/Berlin",
		Reason: "weekly router reboot", CreatedBy: "test"}
	s, en := at(120), at(150)
	oneOff := model.MaintenanceWindow{ScopeKind: model.MaintenanceBranch, ScopeValue: "branch-01", StartsAt: &s, EndsAt: &en,
		Reason: "ISP line swap", CreatedBy: "test"}
	os, oe := from.Add(-48*time.Hour), from.Add(-47*time.Hour)
	past := model.MaintenanceWindow{ScopeKind: model.MaintenanceRegion, ScopeValue: "region-0", StartsAt: &os, EndsAt: &oe,
		Reason: "long over", CreatedBy: "test"}
	var winIDs []int64
	for _, w := range []model.MaintenanceWindow{weekly, oneOff, past} {
		if err := w.Validate(); err != nil {
			t.Fatal(err)
		}
		id, err := e.st.CreateMaintenanceWindow(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		winIDs = append(winIDs, id)
	}

	// want is one row: counted probes, answered, excluded, availability (nil: none counted) and
	// downtime minutes. Worked by hand from the plan above.
	type want struct {
		key                        string
		probes, answered, excluded int64
		pct                        *float64
		downtime                   float64
	}
	pct := func(v float64) *float64 { return &v }
	wants := map[string][]want{
		"device": { // rows come by region, branch, device
			{devs[0].Name, 230, 225, 10, pct(97.8261), 5}, // down 30-40, of which 35-45 is maintenance
			{devs[1].Name, 240, 240, 0, pct(100), 0},
			{devs[4].Name, 240, 200, 0, pct(83.3333), 40},
			{devs[5].Name, 0, 0, 0, nil, 0},
			{devs[2].Name, 210, 180, 30, pct(85.7143), 30}, // down 100-160, branch maintenance 120-150
			{devs[3].Name, 210, 205, 30, pct(97.619), 5},
		},
		"branch": {
			{"branch-00", 470, 465, 10, pct(98.9362), 5},
			{"branch-02", 240, 200, 0, pct(83.3333), 40},
			{"branch-01", 420, 385, 60, pct(91.6667), 35},
		},
		"region": {
			{"region-0", 710, 665, 10, pct(93.662), 45},
			{"region-1", 420, 385, 60, pct(91.6667), 35},
		},
	}
	keyOf := func(group string, r reportRow) string {
		switch group {
		case "device":
			return r.Device
		case "branch":
			return r.Branch
		}
		return r.Region
	}
	check := func(label, group string, rows []reportRow) {
		t.Helper()
		ws := wants[group]
		if len(rows) != len(ws) {
			t.Fatalf("%s: %d rows, want %d: %+v", label, len(rows), len(ws), rows)
		}
		for i, w := range ws {
			r := rows[i]
			okPct := (r.AvailabilityPct == nil) == (w.pct == nil) && (w.pct == nil || *r.AvailabilityPct == *w.pct)
			if keyOf(group, r) != w.key || r.Probes != w.probes || r.Answered != w.answered || r.ExcludedProbes != w.excluded ||
				!okPct || r.DowntimeMinutes != w.downtime {
				got := "null"
				if r.AvailabilityPct != nil {
					got = fmt.Sprint(*r.AvailabilityPct)
				}
				t.Errorf("%s row %d: %s probes=%d answered=%d excluded=%d pct=%s downtime=%g; want %+v (pct %v)", label, i,
					keyOf(group, r), r.Probes, r.Answered, r.ExcludedProbes, got, r.DowntimeMinutes, w, deref(w.pct))
			}
		}
	}
	query := func(group string) string {
		return "/api/v1/reports/availability?from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339) + "&group=" + group
	}
	run := func(source string) {
		for _, group := range []string{"device", "branch", "region"} {
			var rep availabilityReport
			var raw struct {
				Rows []reportRow `json:"rows"`
			}
			if st := e.get(query(group), &rep); st != 200 {
				t.Fatalf("%s %s: status %d", source, group, st)
			}
			if rep.Source != source {
				t.Fatalf("%s %s: source %q (problems %v)", source, group, rep.Source, rep.Problems)
			}
			e.get(query(group), &raw)
			check(source+" json "+group, group, raw.Rows)
			if len(rep.Maintenance) != 2 || rep.Maintenance[0].ID != winIDs[0] || rep.Maintenance[1].ID != winIDs[1] {
				t.Fatalf("%s: maintenance listed %+v, want windows %v", source, rep.Maintenance, winIDs[:2])
			}
			if o := rep.Maintenance[0].Occurrences; len(o) != 1 || !o[0].Start.Equal(at(35)) || !o[0].End.Equal(at(45)) || rep.Maintenance[0].Devices != 1 {
				t.Errorf("%s: weekly window occurrences %+v on %d devices, want minutes 35-45 on 1", source, o, rep.Maintenance[0].Devices)
			}
			if o := rep.Maintenance[1].Occurrences; len(o) != 1 || !o[0].Start.Equal(s) || !o[0].End.Equal(en) || rep.Maintenance[1].Devices != 2 {
				t.Errorf("%s: branch window occurrences %+v on %d devices, want minutes 120-150 on 2", source, o, rep.Maintenance[1].Devices)
			}

			// The same report as CSV, asked for both ways.
			for _, how := range []string{"accept", "format"} {
				check(source+" csv("+how+") "+group, group, e.csvReport(query(group), how))
			}
		}
	}
	run("victoriametrics")
	e.vm.Stop()
	run("postgresql")
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// csvReport fetches a report as CSV and parses it back into rows.
func (e *env) csvReport(path, how string) []reportRow {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	if how == "accept" {
		req.Header.Set("Accept", "text/csv")
	} else {
		req.URL.RawQuery += "&format=csv"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("%s as csv: %d %s %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		e.t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(reportCSVHeader, ",") {
		e.t.Fatalf("csv header %v", recs[0])
	}
	var out []reportRow
	for _, r := range recs[1:] {
		n := func(i int) int64 { v, _ := strconv.ParseInt(r[i], 10, 64); return v }
		row := reportRow{Device: r[1], Branch: r[2], Region: r[3], Devices: int(n(4)), Probes: n(5), Answered: n(6), ExcludedProbes: n(7)}
		row.DeviceID = n(0)
		if r[8] != "" {
			v, _ := strconv.ParseFloat(r[8], 64)
			row.AvailabilityPct = &v
		}
		row.DowntimeMinutes, _ = strconv.ParseFloat(r[9], 64)
		out = append(out, row)
	}
	return out
}

// TestAvailabilityReportParams: every malformed request is a 400 naming the parameter at fault.
func TestAvailabilityReportParams(t *testing.T) {
	e := newEnv(t, nil)
	base := "/api/v1/reports/availability?"
	f := func(q, param, msg string) {
		t.Helper()
		var ae apiError
		if st := e.get(base+q, &ae); st != 400 || ae.Param != param || !strings.Contains(ae.Message, msg) {
			t.Errorf("%s: %d %+v, want 400 on %s containing %q", q, st, ae, param, msg)
		}
	}
	f("", "from", "required")
	f("from=2026-01-01T00:00:00Z", "from", "required")
	f("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from", "before to")
	f("from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from", "before to")
	f("from=2026-01-01T00:00:00Z&to=2026-04-04T00:00:00Z", "from", "longer than")
	f("from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&group=city", "group", "device, branch, region")
	f("from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&format=xml", "format", "json, csv")
	f("from=yesterday&to=2026-02-01T00:00:00Z", "from", "RFC 3339")
	f("from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&tz=UTC", "tz", "unknown")
	// A whole quarter is allowed.
	if st := e.get(base+"from=2026-01-01T00:00:00Z&to=2026-04-03T00:00:00Z&group=region", nil); st != 200 {
		t.Errorf("92 days: %d, want 200", st)
	}
}

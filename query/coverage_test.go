package query

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDeviceCoverage: the device detail reports, from VictoriaMetrics, the rows each table of
// each profile returned in the device's newest poll, and which profiles returned data at all.
func TestDeviceCoverage(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 3, nil)
	now := time.Now()
	type row struct {
		dev            fleetDev
		profile, table string
		rows           int
		age            time.Duration
	}
	var buf strings.Builder
	for _, r := range []row{
		// An older poll saw ifXTable; the newest one is what counts.
		{devs[0], "if-mib", "ifXTable", 8, 2 * time.Minute},
		{devs[0], "if-mib", "ifXTable", 0, 10 * time.Second},
		{devs[0], "if-mib", "ifTable", 8, 10 * time.Second},
		{devs[0], "host-resources", "hrStorageTable", 0, 10 * time.Second},
		{devs[0], "host-resources", "hrProcessorTable", 0, 10 * time.Second},
		{devs[1], "if-mib", "ifTable", 3, 10 * time.Second},
		{devs[1], "if-mib", "ifXTable", 3, 10 * time.Second},
		// Outside the window: a profile the device no longer has.
		{devs[1], "host-resources", "hrStorageTable", 5, time.Hour},
	} {
		fmt.Fprintf(&buf, "wardops_snmp_table_rows{device_id=\"%d\",device=%q,profile=%q,table=%q} %d %d\n",
			r.dev.ID, r.dev.Name, r.profile, r.table, r.rows, now.Add(-r.age).UnixMilli())
	}
	resp, err := http.Post(e.vm.URL+"/api/v1/import/prometheus", "text/plain", strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := e.vm.ForceFlush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dev  fleetDev
		want []profileCoverage
	}{
		{devs[0], []profileCoverage{
			{Profile: "host-resources", ReturnedData: false, Tables: map[string]int{"hrStorageTable": 0, "hrProcessorTable": 0}},
			{Profile: "if-mib", ReturnedData: true, Tables: map[string]int{"ifTable": 8, "ifXTable": 0}},
		}},
		{devs[1], []profileCoverage{
			{Profile: "if-mib", ReturnedData: true, Tables: map[string]int{"ifTable": 3, "ifXTable": 3}},
		}},
		{devs[2], []profileCoverage{}}, // never polled
	} {
		t.Run(tc.dev.Name, func(t *testing.T) {
			var out deviceDetail
			if code := e.get("/api/v1/devices/"+itoa(tc.dev.ID), &out); code != 200 {
				t.Fatalf("status %d", code)
			}
			if out.SNMPCoverage == nil || out.SNMPCoverage.Error != "" || !reflect.DeepEqual(out.SNMPCoverage.Profiles, tc.want) {
				t.Errorf("coverage %+v, want %+v", out.SNMPCoverage, tc.want)
			}
		})
	}
}

package inventory_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
)

func TestProfileValidation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"fallback on a scalar", `{oid: 1.3.6.1.2.1.1.3.0, kind: scalar, type: gauge, fallback: {oid: 1.3.6.1.2.1.1.4.0}}`, "fallback needs kind table"},
		{"bad fallback OID", `{oid: 1.3.6.1.2.1.31.1.1.1.6, kind: table, type: counter, fallback: {oid: ifInOctets}}`, `fallback: bad OID "ifInOctets"`},
		{"fallback is the own column", `{oid: 1.3.6.1.2.1.31.1.1.1.6, kind: table, type: counter, fallback: {oid: 1.3.6.1.2.1.31.1.1.1.6}}`, "own column"},
		{"divisor on a counter", `{oid: 1.3.6.1.2.1.31.1.1.1.6, kind: table, type: counter, fallback: {oid: 1.3.6.1.2.1.2.2.1.10, divisor: 8}}`, "divisor is for gauges only"},
		{"negative divisor", `{oid: 1.3.6.1.2.1.31.1.1.1.15, kind: table, type: gauge, fallback: {oid: 1.3.6.1.2.1.2.2.1.5, divisor: -1}}`, "negative"},
		{"unknown fallback key", `{oid: 1.3.6.1.2.1.31.1.1.1.15, kind: table, type: gauge, fallback: {oid: 1.3.6.1.2.1.2.2.1.5, scale: 2}}`, "field scale not found"},
		{"valid gauge divisor", `{oid: 1.3.6.1.2.1.31.1.1.1.15, kind: table, type: gauge, fallback: {oid: 1.3.6.1.2.1.2.2.1.5, divisor: 1000000}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadOne(t, "name: p\nitems:\n  - {name: x, "+strings.TrimPrefix(tc.yaml, "{")+"\n")
			checkErr(t, err, tc.wantErr)
		})
	}
	for _, tc := range []struct {
		name, tables, wantErr string
	}{
		{"bad table name", "  if-table: 1.3.6.1.2.1.2.2\n", `bad table "if-table"`},
		{"bad table OID", "  ifTable: ifTable\n", `bad table "ifTable"="ifTable"`},
		{"nested tables", "  ifTable: 1.3.6.1.2.1.2.2\n  inner: 1.3.6.1.2.1.2.2.1\n", `table "inner" lies inside table "ifTable"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadOne(t, "name: p\ntables:\n"+tc.tables+"items: []\n")
			checkErr(t, err, tc.wantErr)
		})
	}
}

func loadOne(t *testing.T, body string) error {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := inventory.LoadProfiles(dir)
	return err
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

// TestIfMIBFallbacksSurviveTheStore: the built-in if-mib's tables and fallbacks reach the
// collector's items through an import into PostgreSQL and LoadFleet, unchanged.
func TestIfMIBFallbacksSurviveTheStore(t *testing.T) {
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		table    string
		fallback model.ItemFallback
	}{
		"ifHCInOctets":     {"ifXTable", model.ItemFallback{OID: "1.3.6.1.2.1.2.2.1.10", Table: "ifTable", Divisor: 1}},
		"ifHCOutOctets":    {"ifXTable", model.ItemFallback{OID: "1.3.6.1.2.1.2.2.1.16", Table: "ifTable", Divisor: 1}},
		"ifHCInUcastPkts":  {"ifXTable", model.ItemFallback{OID: "1.3.6.1.2.1.2.2.1.11", Table: "ifTable", Divisor: 1}},
		"ifHCOutUcastPkts": {"ifXTable", model.ItemFallback{OID: "1.3.6.1.2.1.2.2.1.17", Table: "ifTable", Divisor: 1}},
		"ifHighSpeed":      {"ifXTable", model.ItemFallback{OID: "1.3.6.1.2.1.2.2.1.5", Table: "ifTable", Divisor: 1e6}},
		"ifInErrors":       {"ifTable", model.ItemFallback{}},
		"ifOutErrors":      {"ifTable", model.ItemFallback{}},
		"ifInDiscards":     {"ifTable", model.ItemFallback{}},
		"ifOperStatus":     {"ifTable", model.ItemFallback{}},
		"ifAdminStatus":    {"ifTable", model.ItemFallback{}},
		"sysUpTime":        {"", model.ItemFallback{}},
		"hrStorageUsed":    {"hrStorageTable", model.ItemFallback{}},
		"hrProcessorLoad":  {"hrProcessorTable", model.ItemFallback{}},
	}
	s, _ := testenv.Store(t)
	header := strings.Join(inventory.Columns, ",") + "\n"
	line := "b1,r1,fb-1,127.20.9.1,cisco,router,true,2c,public,1161,system;if-mib;host-resources,\n"
	for round := range 2 {
		st, err := importBytes(t, s, []byte(header+line), "csv", false)
		if err != nil {
			t.Fatal(err)
		}
		if round == 1 && st != (model.ImportStats{DevicesUnchanged: 1}) {
			t.Fatalf("re-import changed something: %+v", st)
		}
	}
	fleet, err := s.LoadFleet(context.Background())
	if err != nil || len(fleet.Devices) != 1 {
		t.Fatalf("fleet %v: %v", fleet, err)
	}
	got := map[string]model.Item{}
	for _, it := range fleet.Items[fleet.Devices[0].ID] {
		got[it.Name] = it
	}
	for name, w := range want {
		it, ok := got[name]
		if !ok {
			t.Errorf("no item %s", name)
			continue
		}
		if it.Table != w.table || it.Fallback != w.fallback {
			t.Errorf("%s: table %q fallback %+v, want %q %+v", name, it.Table, it.Fallback, w.table, w.fallback)
		}
	}
	if len(ps["if-mib"].Items) != 10 {
		t.Errorf("if-mib has %d items, want 10", len(ps["if-mib"].Items))
	}
}

// TestUndeclaredTableIsNamedByOID: a profile that names no tables gets its columns' table OID.
func TestUndeclaredTableIsNamedByOID(t *testing.T) {
	dir := t.TempDir()
	body := "name: custom\nitems:\n  - {name: ciscoTemp, oid: 1.3.6.1.4.1.9.9.13.1.3.1.3, kind: table, type: gauge}\n"
	if err := os.WriteFile(filepath.Join(dir, "custom.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := inventory.LoadProfiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	items, err := ps.Expand([]string{"custom"})
	if err != nil || len(items) != 1 {
		t.Fatalf("%v: %v", items, err)
	}
	if items[0].Table != "1.3.6.1.4.1.9.9.13.1.3" {
		t.Errorf("table %q", items[0].Table)
	}
}

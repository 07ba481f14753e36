package inventory_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

func demoCSV(t testing.TB, n int) []byte {
	t.Helper()
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: n, Base: netip.MustParseAddr("127.20.0.1"), SNMPPort: 1161, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(doc.CSVRecords()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func importBytes(t testing.TB, s *store.Store, data []byte, format string, dry bool) (model.ImportStats, error) {
	t.Helper()
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := inventory.Parse(bytes.NewReader(data), format)
	if err != nil {
		return model.ImportStats{}, err
	}
	creds, devs, err := inventory.Build(doc, ps)
	if err != nil {
		return model.ImportStats{}, err
	}
	return s.ImportInventory(context.Background(), creds, devs, dry)
}

func TestImportThousandDevicesTwice(t *testing.T) {
	s, _ := testenv.Store(t)
	data := demoCSV(t, 1000)
	st, err := importBytes(t, s, data, "csv", false)
	if err != nil {
		t.Fatal(err)
	}
	if st.DevicesCreated != 1000 || st.BranchesCreated != 66 {
		t.Fatalf("first import: %+v", st)
	}
	before, err := s.ListDevices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err = importBytes(t, s, data, "csv", false)
	if err != nil {
		t.Fatal(err)
	}
	if st != (model.ImportStats{DevicesUnchanged: 1000}) {
		t.Fatalf("re-import changed something: %+v", st)
	}
	after, _ := s.ListDevices(context.Background())
	for i := range before {
		if !before[i].UpdatedAt.Equal(after[i].UpdatedAt) {
			t.Fatalf("re-import touched %s", before[i].Name)
		}
	}
	fleet, err := s.LoadFleet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var withParent, ifItems int
	for _, d := range fleet.Devices {
		if d.ParentID != nil {
			withParent++
		}
		for _, it := range fleet.Items[d.ID] {
			if it.Name == "ifHCInOctets" && it.Labels["ifName"] == "1.3.6.1.2.1.31.1.1.1.1" {
				ifItems++
			}
		}
	}
	if withParent != 1000-66 || ifItems == 0 {
		t.Fatalf("parents %d, if-mib items %d", withParent, ifItems)
	}
}

func TestImportRejectsBadLinesAndWritesNothing(t *testing.T) {
	s, _ := testenv.Store(t)
	header := strings.Join(inventory.Columns, ",") + "\n"
	good := "b1,r1,good-1,127.20.0.1,cisco,router,true,2c,public,1161,system,\n"
	cases := []struct {
		name, body string
		wantLines  []string
	}{
		{"invalid ip", good + "b1,r1,bad,127.20.0.999,cisco,router,true,2c,public,161,,\n", []string{"line 3: invalid ip"}},
		{"unknown snmp version", good + "b1,r1,bad,127.20.0.2,cisco,router,true,4,public,161,,\n", []string{"line 3: unknown SNMP version"}},
		{"duplicate name", good + "b1,r1,good-1,127.20.0.2,cisco,router,true,2c,public,161,,\n", []string{"line 3: duplicate name"}},
		{"unknown parent", good + "b1,r1,child,127.20.0.2,cisco,switch,true,2c,public,161,,nobody\n", []string{"line 3: unknown parent"}},
		{"missing column", good + "b1,r1,short,127.20.0.2,cisco\n", []string{"line 3: has 5 fields"}},
		{"unknown profile", good + "b1,r1,p,127.20.0.2,cisco,router,true,2c,public,161,nope,\n", []string{"line 3: unknown SNMP profile"}},
		{"every bad line listed", good + "b1,r1,x,bad-ip,cisco,router,true,2c,public,161,,\n" + good + "b1,r1,y,127.20.0.9,c,r,maybe,2c,public,161,,\n",
			[]string{"line 3: invalid ip", "line 4: duplicate name", "line 5: invalid enabled"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importBytes(t, s, []byte(header+tc.body), "csv", false)
			var le *model.LinesError
			if !errors.As(err, &le) {
				t.Fatalf("want *model.LinesError, got %v", err)
			}
			for _, w := range tc.wantLines {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
			devs, _ := s.ListDevices(context.Background())
			if len(devs) != 0 {
				t.Fatalf("%d devices written despite a bad line", len(devs))
			}
		})
	}
	t.Run("missing header column", func(t *testing.T) {
		_, err := importBytes(t, s, []byte("branch,name,ip\nb,n,127.0.0.1\n"), "csv", false)
		if err == nil || !strings.Contains(err.Error(), "line 1: header lacks column(s) region") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestImportUTF8RoundTripAndYAMLv3(t *testing.T) {
	s, _ := testenv.Store(t)
	header := strings.Join(inventory.Columns, ",") + "\n"
	body := header + `"თბილისი, ვაკე","Tbilisi ""Central""","რუტერი ""მთავარი"", 1",127.20.1.1,cisco,router,true,2c,public,161,system;if-mib,` + "\n"
	if _, err := importBytes(t, s, []byte(body), "csv", false); err != nil {
		t.Fatal(err)
	}
	devs, _ := s.ListDevices(context.Background())
	if len(devs) != 1 || devs[0].Name != `რუტერი "მთავარი", 1` || devs[0].Branch != "თბილისი, ვაკე" || devs[0].Region != `Tbilisi "Central"` {
		t.Fatalf("round trip: %+v", devs)
	}
	yml := `
credentials:
  - {name: core-v3, version: "3", username: noc, auth_protocol: SHA, auth_key: authpass123, priv_protocol: AES, priv_key: privpass123}
devices:
  - {branch: ბათუმი, region: Adjara, name: fw-1, ip: 127.20.1.2, vendor: fortinet, device_type: firewall, snmp_version: "3", snmp_credential: core-v3, snmp_profiles: [system, host-resources], parent: "რუტერი \"მთავარი\", 1"}
  - {branch: ბათუმი, region: Adjara, name: sw-1, ip: 127.20.1.3, snmp_version: "3", snmp_user: sw, snmp_auth_protocol: sha256, snmp_auth_key: authpass456, snmp_profiles: system}
`
	if _, err := importBytes(t, s, []byte(yml), "yaml", false); err != nil {
		t.Fatal(err)
	}
	fleet, err := s.LoadFleet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]model.Device{}
	for _, d := range fleet.Devices {
		byName[d.Name] = d
	}
	fw, sw := byName["fw-1"], byName["sw-1"]
	if fw.SNMP.Username != "noc" || fw.SNMP.PrivProtocol != "AES" || fw.SNMP.PrivKey != "privpass123" || fw.ParentID == nil {
		t.Fatalf("fw-1: %+v", fw)
	}
	if sw.SNMP.Username != "sw" || sw.SNMP.AuthProtocol != "SHA256" || sw.SNMP.Credential != "device:sw-1" {
		t.Fatalf("sw-1: %+v", sw)
	}
	if strings.Contains(fw.SNMP.String(), "privpass123") {
		t.Fatal("SNMP.String leaks the key")
	}
	_, err = importBytes(t, s, []byte("devices:\n  - {name: x, ip: 127.20.1.9, branch: b, colour: red}\n"), "yaml", false)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown YAML key: %v", err)
	}
}

func TestImportDryRunAndScale(t *testing.T) {
	s, _ := testenv.Store(t)
	data := demoCSV(t, 10000)
	st, err := importBytes(t, s, data, "csv", true)
	if err != nil || st.DevicesCreated != 10000 {
		t.Fatalf("dry run: %+v %v", st, err)
	}
	if devs, _ := s.ListDevices(context.Background()); len(devs) != 0 {
		t.Fatalf("dry run wrote %d devices", len(devs))
	}
	start := time.Now()
	if _, err := importBytes(t, s, data, "csv", false); err != nil {
		t.Fatal(err)
	}
	// Reported, not asserted: machines here are noisy. The issue asks for "a few seconds".
	t.Logf("10,000 devices imported in %s", time.Since(start).Round(time.Millisecond))
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte(strings.Join(inventory.Columns, ",") + "\nb,r,n,127.0.0.1,v,t,true,2c,c,161,system,\n"))
	f.Add([]byte("branch\n\"unterminated\n"))
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, ps, b, "csv") })
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("devices:\n  - {branch: b, name: n, ip: 127.0.0.1, snmp_version: 2c, snmp_community: c, snmp_profiles: [system]}\n"))
	f.Add([]byte("credentials:\n  - {name: c3, version: \"3\", username: u, auth_protocol: SHA, auth_key: authpass1, priv_protocol: AES, priv_key: privpass1}\n" +
		"devices:\n  - {branch: b, name: n, ip: 127.0.0.2, snmp_version: \"3\", snmp_credential: c3, parent: p}\n"))
	f.Add([]byte("devices: [&a {name: *a}]\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\n"))
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, ps, b, "yaml") })
}

// checkParse is both inventory fuzz targets: a file either parses and builds into rows that all
// pass the API's text rules, or fails with an error and returns nothing (no partial import).
func checkParse(t *testing.T, ps inventory.Profiles, b []byte, format string) {
	doc, err := inventory.Parse(bytes.NewReader(b), format)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty parse error")
		}
		return
	}
	creds, devs, err := inventory.Build(doc, ps)
	if err != nil {
		var le *model.LinesError
		if !errors.As(err, &le) || len(le.Lines) == 0 || creds != nil || devs != nil {
			t.Fatalf("build error %T %v with %d creds %d devs", err, err, len(creds), len(devs))
		}
		return
	}
	for _, d := range devs {
		for _, v := range []string{d.Name, d.Branch, d.Region, d.Vendor, d.DeviceType, d.Parent} {
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) || !utf8.ValidString(v) {
				t.Fatalf("row with a control character or bad UTF-8 accepted: %q", v)
			}
		}
		if _, err := netip.ParseAddr(d.IP); err != nil || d.Name == "" || d.Branch == "" {
			t.Fatalf("bad row accepted: %+v", d)
		}
	}
}

package inventory_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/model"
)

// TestImporterRefusesControlCharacters: the importer applies the API's text rules to names.
func TestImporterRefusesControlCharacters(t *testing.T) {
	ps, err := inventory.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	const h = "branch,region,name,ip,vendor,device_type,enabled,snmp_version,snmp_community,snmp_port,snmp_profiles,parent\n"
	for _, csv := range []string{
		h + "b1,r,\"evil\x1b[31mname\",127.20.0.1,,,,,,,,\n",
		h + "\"b\nx\",r,ok,127.20.0.1,,,,,,,,\n",
		h + "b1,r,ok,127.20.0.1,\"v\x07\",,,,,,,\n",
	} {
		doc, err := inventory.Parse(strings.NewReader(csv), "csv")
		if err == nil {
			_, _, err = inventory.Build(doc, ps)
		}
		var le *model.LinesError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "control characters") {
			t.Errorf("%q: %v, want a line error about control characters", csv, err)
		}
	}
}

// TestImporterRefusesDeniedTargets: the cloud metadata address is refused at import, naming the rule.
func TestImporterRefusesDeniedTargets(t *testing.T) {
	p := model.TargetPolicy{Deny: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")}}
	devs := []model.ImportDevice{{Line: 2, IP: "127.20.0.1"}, {Line: 3, IP: "169.254.169.254"}}
	err := inventory.CheckTargets(devs, p)
	var le *model.LinesError
	if !errors.As(err, &le) || len(le.Lines) != 1 || le.Lines[0].Line != 3 || !strings.Contains(err.Error(), "169.254.0.0/16") {
		t.Fatalf("%v", err)
	}
	p.Allow = []netip.Prefix{netip.MustParsePrefix("127.20.0.0/16")}
	if err := inventory.CheckTargets([]model.ImportDevice{{Line: 2, IP: "127.21.0.1"}}, p); err == nil {
		t.Fatal("an address outside the allow list was accepted")
	}
}

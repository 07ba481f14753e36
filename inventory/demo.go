package inventory

import (
	"fmt"
	"net/netip"
	"strconv"
)

var demoCities = []struct{ name, region string }{
	{"თბილისი", "Tbilisi"}, {"ბათუმი", "Adjara"}, {"ქუთაისი", "Imereti"}, {"რუსთავი", "Kvemo Kartli"},
	{"გორი", "Shida Kartli"}, {"ზუგდიდი", "Samegrelo"}, {"ფოთი", "Samegrelo"}, {"თელავი", "Kakheti"},
	{"ახალციხე", "Samtskhe-Javakheti"}, {"მცხეთა", "Mtskheta-Mtianeti"}, {"ოზურგეთი", "Guria"}, {"ამბროლაური", "Racha"},
}

// DemoOptions shapes a demo fleet. Addresses are consecutive from Base, which must be in
// 127.0.0.0/8: Linux answers ICMP for that whole range on loopback, and nothing leaves the host.
type DemoOptions struct {
	Devices   int
	Branches  int
	Base      netip.Addr
	SNMPPort  int
	Community string
}

// Demo returns a fleet of routers, switches, firewalls and ATMs spread over branches named after
// Georgian cities (UTF-8 on purpose), each branch's router the parent of the rest.
func Demo(o DemoOptions) (*Document, error) {
	if !netip.MustParsePrefix("127.0.0.0/8").Contains(o.Base) {
		return nil, fmt.Errorf("demo fleet base %s is outside 127.0.0.0/8", o.Base)
	}
	if o.Branches <= 0 {
		o.Branches = max(1, o.Devices/15)
	}
	doc := &Document{}
	ip := o.Base
	types := []struct{ typ, vendor, profiles string }{
		{"switch", "cisco", "system;if-mib"}, {"atm", "ncr", "system"}, {"firewall", "fortinet", "system;if-mib;host-resources"}, {"atm", "diebold", "system"},
	}
	for i := range o.Devices {
		b := i % o.Branches
		city := demoCities[b%len(demoCities)]
		branch := city.name + " " + strconv.Itoa(b/len(demoCities)+1)
		if b/len(demoCities) == 0 {
			branch = city.name
		}
		row := Row{Line: i + 2, Branch: branch, Region: city.region, IP: ip.String(), Enabled: "true",
			SNMPVersion: "2c", SNMPCommunity: o.Community, SNMPPort: strconv.Itoa(o.SNMPPort)}
		if i < o.Branches {
			row.Name, row.Vendor, row.DeviceType, row.SNMPProfiles = fmt.Sprintf("rtr-%03d", b+1), "cisco", "router", "system;if-mib"
		} else {
			t := types[(i/o.Branches)%len(types)]
			row.Name = fmt.Sprintf("%s-%03d-%d", t.typ, b+1, i/o.Branches)
			row.Vendor, row.DeviceType, row.SNMPProfiles = t.vendor, t.typ, t.profiles
			row.Parent = fmt.Sprintf("rtr-%03d", b+1)
		}
		doc.Rows = append(doc.Rows, row)
		ip = ip.Next()
		if !netip.MustParsePrefix("127.0.0.0/8").Contains(ip) {
			return nil, fmt.Errorf("demo fleet of %d devices runs past 127.255.255.255", o.Devices)
		}
	}
	return doc, nil
}

// CSVRecords returns the header and rows in the import format, so a demo fleet is also an example file.
func (d *Document) CSVRecords() [][]string {
	out := [][]string{append([]string{}, Columns...)}
	for _, r := range d.Rows {
		out = append(out, []string{r.Branch, r.Region, r.Name, r.IP, r.Vendor, r.DeviceType, r.Enabled,
			r.SNMPVersion, r.SNMPCommunity, r.SNMPPort, fmt.Sprint(r.SNMPProfiles), r.Parent})
	}
	return out
}

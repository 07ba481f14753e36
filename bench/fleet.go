package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/sim"
)

// fleet is the first n devices of the benchmark range. Every pipeline of a size probes exactly
// these addresses.
type fleet struct {
	size  int
	addrs []netip.Addr
}

func newFleet(base netip.Addr, size int) (*fleet, error) {
	// sim.Range refuses anything outside 127.0.0.0/8: the benchmark cannot reach a real network.
	as, err := sim.Range(base, size)
	if err != nil {
		return nil, fmt.Errorf("cannot lay out a fleet of %d: %w", size, err)
	}
	return &fleet{size: size, addrs: as}, nil
}

// writeCSV writes the fleet in the import format. Ping fleets (profile "") have no SNMP at all, so
// a collector with a poller wired in spends nothing on SNMP; SNMP fleets give every device profile.
func (f *fleet) writeCSV(path string, snmpPort int, profile string) error {
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: f.size, Base: f.addrs[0], SNMPPort: snmpPort, Community: "public"})
	if err != nil {
		return fmt.Errorf("cannot build fleet of %d: %w", f.size, err)
	}
	for i := range doc.Rows {
		r := &doc.Rows[i]
		if profile != "" {
			r.SNMPVersion, r.SNMPCommunity, r.SNMPPort, r.SNMPProfiles = "2c", "public", strconv.Itoa(snmpPort), profile
		} else {
			r.SNMPVersion, r.SNMPCommunity, r.SNMPPort, r.SNMPProfiles = "", "", "", ""
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	w := csv.NewWriter(out)
	if err := w.WriteAll(doc.CSVRecords()); err != nil {
		out.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return out.Close()
}

// writeTargetShards writes the addresses one a line (fping -f), at most per addresses a file,
// and returns the files' paths.
func (f *fleet) writeTargetShards(dir string, per int) ([]string, error) {
	var paths []string
	for i := 0; i < f.size; i += per {
		var b strings.Builder
		for _, a := range f.addrs[i:min(i+per, f.size)] {
			b.WriteString(a.String())
			b.WriteByte('\n')
		}
		p := filepath.Join(dir, fmt.Sprintf("targets-%d.txt", len(paths)))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeFileSD writes a Prometheus file_sd JSON target group; port > 0 appends ":port".
func (f *fleet) writeFileSD(path string, port int) error {
	ts := make([]string, len(f.addrs))
	for i, a := range f.addrs {
		ts[i] = a.String()
		if port > 0 {
			ts[i] = netip.AddrPortFrom(a, uint16(port)).String()
		}
	}
	b, err := json.Marshal([]map[string]any{{"targets": ts}})
	if err != nil {
		return fmt.Errorf("cannot encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// sample returns up to k addresses spread evenly over the fleet, the devices whose
// probe→queryable delay is tracked.
func (f *fleet) sample(k int) []string {
	k = min(k, f.size)
	out := make([]string, 0, k)
	for i := range k {
		out = append(out, f.addrs[i*f.size/k].String())
	}
	return out
}

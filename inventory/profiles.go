// Package inventory reads device inventories (CSV or YAML), validates every line and expands SNMP
// profiles into monitoring items, ready for store.ImportInventory.
package inventory

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/wardops/wardops/model"
	"gopkg.in/yaml.v3"
)

//go:embed profiles/*.yaml
var builtinProfiles embed.FS

// Profile is a named set of SNMP items, e.g. if-mib.
type Profile struct {
	Name string `yaml:"name"`
	// Tables names the profile's tables by OID (ifXTable: 1.3.6.1.2.1.31.1.1) for the table label
	// of wardops_snmp_table_rows; a table left out is labelled with its OID.
	Tables map[string]string `yaml:"tables"`
	Labels map[string]string `yaml:"labels"` // shared label columns, usually referenced by items through a YAML anchor
	Items  []ProfileItem     `yaml:"items"`
}

// ProfileItem is one item of a profile; see inventory/profiles/*.yaml.
type ProfileItem struct {
	Name     string            `yaml:"name"`
	OID      string            `yaml:"oid"`
	Kind     string            `yaml:"kind"`
	Type     string            `yaml:"type"`
	Labels   map[string]string `yaml:"labels"`
	Fallback *ProfileFallback  `yaml:"fallback"`
}

// ProfileFallback is the column a table item reads for the indexes its own column does not return
// (ifInOctets where ifHCInOctets is missing); its samples keep the item's name.
type ProfileFallback struct {
	OID string `yaml:"oid"`
	// Divisor converts the fallback's unit to the item's (gauges only, default 1). A divisor and
	// not a factor, so bit/s ÷ 1000000 gives Mbit/s exactly, as ifHighSpeed would read.
	Divisor float64 `yaml:"divisor"`
}

var (
	oidRe  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)
	nameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Profiles maps profile names to profiles.
type Profiles map[string]Profile

// LoadProfiles returns the built-in profiles plus every *.yaml in dir (when dir is not empty).
// A user profile with a built-in's name replaces it.
func LoadProfiles(dir string) (Profiles, error) {
	ps := Profiles{}
	if err := loadFrom(ps, builtinProfiles, "profiles"); err != nil {
		return nil, err
	}
	if dir != "" {
		if err := loadFrom(ps, os.DirFS(dir), "."); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

func loadFrom(ps Profiles, fsys fs.FS, dir string) error {
	files, err := fs.Glob(fsys, filepath.Join(dir, "*.yaml"))
	if err != nil {
		return fmt.Errorf("cannot list profiles: %w", err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("cannot read profile %s: %w", f, err)
		}
		p, err := parseProfile(b)
		if err != nil {
			return fmt.Errorf("profile %s: %w", f, err)
		}
		ps[p.Name] = p
	}
	return nil
}

func parseProfile(b []byte) (Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return p, err
	}
	if p.Name == "" {
		return p, fmt.Errorf("name is required")
	}
	for n, oid := range p.Tables {
		if !nameRe.MatchString(n) || !oidRe.MatchString(oid) {
			return p, fmt.Errorf("bad table %q=%q", n, oid)
		}
		for m, other := range p.Tables {
			if m != n && strings.HasPrefix(other+".", oid+".") {
				return p, fmt.Errorf("table %q lies inside table %q", m, n)
			}
		}
	}
	seen := map[string]bool{}
	for i, it := range p.Items {
		switch {
		case !nameRe.MatchString(it.Name):
			return p, fmt.Errorf("item %d: name %q must be a metric-name fragment", i, it.Name)
		case seen[it.Name]:
			return p, fmt.Errorf("item %q defined twice", it.Name)
		case !oidRe.MatchString(it.OID):
			return p, fmt.Errorf("item %q: bad OID %q", it.Name, it.OID)
		case it.Kind != "scalar" && it.Kind != "table":
			return p, fmt.Errorf("item %q: kind must be scalar or table", it.Name)
		case it.Type != "counter" && it.Type != "gauge" && it.Type != "info":
			return p, fmt.Errorf("item %q: type must be counter, gauge or info", it.Name)
		}
		for l, oid := range it.Labels {
			if !nameRe.MatchString(l) || !oidRe.MatchString(oid) {
				return p, fmt.Errorf("item %q: bad label %q=%q", it.Name, l, oid)
			}
		}
		if err := checkFallback(it); err != nil {
			return p, fmt.Errorf("item %q: %w", it.Name, err)
		}
		seen[it.Name] = true
	}
	return p, nil
}

func checkFallback(it ProfileItem) error {
	fb := it.Fallback
	switch {
	case fb == nil:
		return nil
	case it.Kind != "table":
		return fmt.Errorf("fallback needs kind table: a scalar has no rows to fill")
	case !oidRe.MatchString(fb.OID):
		return fmt.Errorf("fallback: bad OID %q", fb.OID)
	case fb.OID == it.OID:
		return fmt.Errorf("fallback is the item's own column")
	case fb.Divisor < 0:
		return fmt.Errorf("fallback: divisor %v is negative", fb.Divisor)
	case fb.Divisor != 0 && fb.Divisor != 1 && it.Type != "gauge":
		// A scaled counter no longer wraps at 2^32, so rate() would misread its wrap.
		return fmt.Errorf("fallback: divisor is for gauges only")
	}
	return nil
}

// table names the table holding column oid: a declared table containing it, else the column's
// OID without the column and entry arcs (table.1.column, RFC 2578 7.10).
func (p Profile) table(oid string) string {
	for n, t := range p.Tables {
		if strings.HasPrefix(oid, t+".") {
			return n
		}
	}
	parts := strings.Split(oid, ".")
	if len(parts) <= 2 {
		return oid
	}
	return strings.Join(parts[:len(parts)-2], ".")
}

// Names lists the profile names, sorted.
func (ps Profiles) Names() []string {
	out := make([]string, 0, len(ps))
	for n := range ps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Expand returns the items of the named profiles, as the inventory import stores them; an item
// named in two profiles keeps the first.
func (ps Profiles) Expand(names []string) ([]model.ItemTemplate, error) {
	var out []model.ItemTemplate
	seen := map[string]bool{}
	for _, n := range names {
		p, ok := ps[n]
		if !ok {
			return nil, fmt.Errorf("unknown SNMP profile %q (known: %s)", n, strings.Join(ps.Names(), ", "))
		}
		for _, it := range p.Items {
			if seen[it.Name] {
				continue
			}
			seen[it.Name] = true
			t := model.ItemTemplate{Name: it.Name, OID: it.OID, Kind: it.Kind, ValueType: it.Type, Profile: p.Name, Labels: it.Labels}
			if it.Kind == "table" {
				t.Table = p.table(it.OID)
			}
			if fb := it.Fallback; fb != nil {
				t.Fallback = model.ItemFallback{OID: fb.OID, Table: p.table(fb.OID), Divisor: fb.Divisor}
				if t.Fallback.Divisor == 0 {
					t.Fallback.Divisor = 1
				}
			}
			out = append(out, t)
		}
	}
	return out, nil
}

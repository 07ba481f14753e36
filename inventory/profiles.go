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
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"` // shared label columns, usually referenced by items through a YAML anchor
	Items  []ProfileItem     `yaml:"items"`
}

// ProfileItem is one item of a profile; see inventory/profiles/*.yaml.
type ProfileItem struct {
	Name   string            `yaml:"name"`
	OID    string            `yaml:"oid"`
	Kind   string            `yaml:"kind"`
	Type   string            `yaml:"type"`
	Labels map[string]string `yaml:"labels"`
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
		seen[it.Name] = true
	}
	return p, nil
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

// expand returns the items of the named profiles; an item named in two profiles keeps the first.
func (ps Profiles) expand(names []string) ([]model.ItemTemplate, error) {
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
			out = append(out, model.ItemTemplate{Name: it.Name, OID: it.OID, Kind: it.Kind, ValueType: it.Type, Profile: p.Name, Labels: it.Labels})
		}
	}
	return out, nil
}

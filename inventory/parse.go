package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardops/wardops/internal/usm"
	"github.com/wardops/wardops/model"
	"gopkg.in/yaml.v3"
)

// Columns is the required CSV header, in any order.
var Columns = []string{"branch", "region", "name", "ip", "vendor", "device_type", "enabled",
	"snmp_version", "snmp_community", "snmp_port", "snmp_profiles", "parent"}

// optionalColumns carry SNMPv3 access: either snmp_credential names a credential defined in a
// YAML inventory (or imported before), or snmp_user and the protocol/key columns define one
// inline, stored as credential "device:<name>".
var optionalColumns = []string{"snmp_credential", "snmp_user", "snmp_auth_protocol", "snmp_auth_key",
	"snmp_priv_protocol", "snmp_priv_key"}

// Row is one device as read, before validation. YAML and CSV both produce Rows.
type Row struct {
	Line             int    `yaml:"-"`
	Branch           string `yaml:"branch"`
	Region           string `yaml:"region"`
	Name             string `yaml:"name"`
	IP               string `yaml:"ip"`
	Vendor           string `yaml:"vendor"`
	DeviceType       string `yaml:"device_type"`
	Enabled          string `yaml:"enabled"`
	SNMPVersion      string `yaml:"snmp_version"`
	SNMPCommunity    string `yaml:"snmp_community"`
	SNMPPort         string `yaml:"snmp_port"`
	SNMPProfiles     any    `yaml:"snmp_profiles"` // "a;b" in CSV, a list or a string in YAML
	Parent           string `yaml:"parent"`
	SNMPCredential   string `yaml:"snmp_credential"`
	SNMPUser         string `yaml:"snmp_user"`
	SNMPAuthProtocol string `yaml:"snmp_auth_protocol"`
	SNMPAuthKey      string `yaml:"snmp_auth_key"`
	SNMPPrivProtocol string `yaml:"snmp_priv_protocol"`
	SNMPPrivKey      string `yaml:"snmp_priv_key"`
}

// Document is a whole inventory: credentials (YAML only) and devices.
type Document struct {
	Credentials []Credential
	Rows        []Row
}

// Credential is an SNMP credential defined in a YAML inventory.
type Credential struct {
	Line         int    `yaml:"-"`
	Name         string `yaml:"name"`
	Version      string `yaml:"version"`
	Community    string `yaml:"community"`
	Username     string `yaml:"username"`
	AuthProtocol string `yaml:"auth_protocol"`
	AuthKey      string `yaml:"auth_key"`
	PrivProtocol string `yaml:"priv_protocol"`
	PrivKey      string `yaml:"priv_key"`
}

// Parse reads CSV or YAML; format is "csv" or "yaml". Structural errors (a missing header column,
// a line with the wrong number of fields) are returned as *model.LinesError with every bad line.
func Parse(r io.Reader, format string) (*Document, error) {
	switch format {
	case "csv":
		return parseCSV(r)
	case "yaml":
		return parseYAML(r)
	}
	return nil, fmt.Errorf("unknown inventory format %q: use csv or yaml", format)
}

func parseCSV(r io.Reader) (*Document, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read CSV header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // spreadsheet exports start with a BOM
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	var missing []string
	for _, c := range Columns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, &model.LinesError{Lines: []model.LineError{{Line: 1, Reason: "header lacks column(s) " + strings.Join(missing, ", ")}}}
	}
	known := map[string]bool{}
	for _, c := range append(append([]string{}, Columns...), optionalColumns...) {
		known[c] = true
	}
	for h := range col {
		if !known[h] {
			return nil, &model.LinesError{Lines: []model.LineError{{Line: 1, Reason: fmt.Sprintf("unknown column %q", h)}}}
		}
	}
	doc := &Document{}
	var bad []model.LineError
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, model.LineError{Line: pe.Line, Reason: pe.Err.Error()})
				continue
			}
			return nil, fmt.Errorf("cannot read CSV: %w", err)
		}
		// Only after a record was read: FieldPos panics when the failed read returned no field
		// (an unterminated quote at the end of the file).
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			bad = append(bad, model.LineError{Line: line, Reason: fmt.Sprintf("has %d fields, header has %d (missing column?)", len(rec), len(header))})
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		doc.Rows = append(doc.Rows, Row{Line: line, Branch: get("branch"), Region: get("region"), Name: get("name"),
			IP: get("ip"), Vendor: get("vendor"), DeviceType: get("device_type"), Enabled: get("enabled"),
			SNMPVersion: get("snmp_version"), SNMPCommunity: get("snmp_community"), SNMPPort: get("snmp_port"),
			SNMPProfiles: get("snmp_profiles"), Parent: get("parent"), SNMPCredential: get("snmp_credential"),
			SNMPUser: get("snmp_user"), SNMPAuthProtocol: get("snmp_auth_protocol"), SNMPAuthKey: get("snmp_auth_key"),
			SNMPPrivProtocol: get("snmp_priv_protocol"), SNMPPrivKey: get("snmp_priv_key")})
	}
	if len(bad) > 0 {
		return nil, &model.LinesError{Lines: bad}
	}
	return doc, nil
}

func parseYAML(r io.Reader) (*Document, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cannot read YAML: %w", err)
	}
	var top struct {
		Credentials []yaml.Node `yaml:"credentials"`
		Devices     []yaml.Node `yaml:"devices"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("cannot parse YAML: %w", err)
	}
	doc := &Document{}
	var bad []model.LineError
	for _, n := range top.Credentials {
		var c Credential
		if err := strictNode(&n, &c); err != nil {
			bad = append(bad, model.LineError{Line: n.Line, Reason: err.Error()})
			continue
		}
		c.Line = n.Line
		doc.Credentials = append(doc.Credentials, c)
	}
	for _, n := range top.Devices {
		var row Row
		if err := strictNode(&n, &row); err != nil {
			bad = append(bad, model.LineError{Line: n.Line, Reason: err.Error()})
			continue
		}
		row.Line = n.Line
		doc.Rows = append(doc.Rows, row)
	}
	if len(bad) > 0 {
		return nil, &model.LinesError{Lines: bad}
	}
	return doc, nil
}

// strictNode decodes one mapping node rejecting unknown keys (yaml.Node.Decode alone accepts them).
func strictNode(n *yaml.Node, dst any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(dst)
}

// Build validates every row against the others and the profiles, and returns what
// store.ImportInventory takes. All bad lines are reported together in a *model.LinesError.
func Build(doc *Document, ps Profiles) ([]model.ImportCredential, []model.ImportDevice, error) {
	var bad []model.LineError
	fail := func(line int, format string, a ...any) {
		bad = append(bad, model.LineError{Line: line, Reason: fmt.Sprintf(format, a...)})
	}
	var creds []model.ImportCredential
	for _, c := range doc.Credentials {
		spec := model.ImportCredential{Name: c.Name, Version: c.Version, Community: model.Secret(c.Community), Username: c.Username,
			AuthProtocol: c.AuthProtocol, AuthKey: model.Secret(c.AuthKey), PrivProtocol: c.PrivProtocol, PrivKey: model.Secret(c.PrivKey)}
		if err := validateCredential(&spec); err != nil {
			fail(c.Line, "credential %q: %v", c.Name, err)
			continue
		}
		creds = append(creds, spec)
	}
	byName, byIP := map[string]int{}, map[string]int{}
	for _, r := range doc.Rows {
		if r.Name != "" {
			if prev, ok := byName[r.Name]; ok {
				fail(r.Line, "duplicate name %q (first on line %d)", r.Name, prev)
			} else {
				byName[r.Name] = r.Line
			}
		}
	}
	devs := make([]model.ImportDevice, 0, len(doc.Rows))
	for _, r := range doc.Rows {
		d, cred, errs := buildRow(r, ps)
		for _, e := range errs {
			fail(r.Line, "%s", e)
		}
		if len(errs) > 0 {
			continue
		}
		if prev, ok := byIP[d.IP]; ok {
			fail(r.Line, "duplicate ip %s (first on line %d)", d.IP, prev)
			continue
		}
		byIP[d.IP] = r.Line
		if slices.Contains(model.SplitParents(d.Parent), d.Name) {
			fail(r.Line, "device is its own parent")
			continue
		}
		if cred != nil {
			creds = append(creds, *cred)
		}
		// A credential neither defined inline nor in this file must exist already: store checks it.
		devs = append(devs, d)
	}
	if len(bad) > 0 {
		return nil, nil, &model.LinesError{Lines: bad}
	}
	return creds, devs, nil
}

func buildRow(r Row, ps Profiles) (model.ImportDevice, *model.ImportCredential, []string) {
	var errs []string
	d := model.ImportDevice{Line: r.Line, Branch: r.Branch, Region: r.Region, Name: r.Name, Vendor: r.Vendor,
		DeviceType: r.DeviceType, Parent: r.Parent, SNMPCommunity: model.Secret(r.SNMPCommunity), Credential: r.SNMPCredential}
	if r.Name == "" {
		errs = append(errs, "name is empty")
	}
	if r.Branch == "" {
		errs = append(errs, "branch is empty")
	}
	// The same rules as the API's text fields: a name with a control character (a newline, an
	// escape sequence) would forge lines in logs and terminals wherever it is printed.
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", r.Name, 200}, {"branch", r.Branch, 200}, {"region", r.Region, 200}, {"vendor", r.Vendor, 100},
		{"device_type", r.DeviceType, 100}, {"parent", r.Parent, 200}, {"snmp_credential", r.SNMPCredential, 200}} {
		if err := checkText(f.v, f.max); err != "" {
			errs = append(errs, f.name+" "+err)
		}
	}
	ip, err := netip.ParseAddr(r.IP)
	if err != nil || ip.Zone() != "" {
		errs = append(errs, fmt.Sprintf("invalid ip %q", r.IP))
	} else {
		d.IP = ip.Unmap().String()
	}
	switch strings.ToLower(r.Enabled) {
	case "", "true", "yes", "1", "on":
		d.Enabled = true
	case "false", "no", "0", "off":
	default:
		errs = append(errs, fmt.Sprintf("invalid enabled %q: use true or false", r.Enabled))
	}
	switch v := strings.ToLower(strings.TrimPrefix(strings.ToLower(r.SNMPVersion), "v")); v {
	case "", "1", "2c", "3":
		d.SNMPVersion = v
	case "2":
		d.SNMPVersion = "2c"
	default:
		errs = append(errs, fmt.Sprintf("unknown SNMP version %q: use 1, 2c or 3", r.SNMPVersion))
	}
	d.SNMPPort = 161
	if r.SNMPPort != "" {
		p, err := strconv.Atoi(r.SNMPPort)
		if err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Sprintf("invalid snmp_port %q", r.SNMPPort))
		}
		d.SNMPPort = p
	}
	d.Profiles = profileList(r.SNMPProfiles)
	if len(d.Profiles) > 0 && d.SNMPVersion == "" {
		errs = append(errs, "snmp_profiles given without snmp_version")
	}
	items, err := ps.Expand(d.Profiles)
	if err != nil {
		errs = append(errs, err.Error())
	}
	d.Items = items
	var cred *model.ImportCredential
	if d.SNMPVersion == "3" {
		switch {
		case r.SNMPUser != "":
			c := model.ImportCredential{Name: "device:" + r.Name, Version: "3", Username: r.SNMPUser,
				AuthProtocol: r.SNMPAuthProtocol, AuthKey: model.Secret(r.SNMPAuthKey),
				PrivProtocol: r.SNMPPrivProtocol, PrivKey: model.Secret(r.SNMPPrivKey)}
			if err := validateCredential(&c); err != nil {
				errs = append(errs, err.Error())
			}
			cred, d.Credential = &c, c.Name
		case r.SNMPCredential == "":
			errs = append(errs, "snmp_version 3 needs snmp_credential or snmp_user")
		}
	}
	return d, cred, errs
}

// checkText is the API's free-text rule; "" when v passes.
func checkText(v string, maxLen int) string {
	switch {
	case len(v) > maxLen:
		return fmt.Sprintf("longer than %d bytes", maxLen)
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "contains control characters"
	}
	return ""
}

// CheckTargets refuses devices whose address the probe target policy refuses, all bad lines
// together, so an import is refused whole before anything is written.
func CheckTargets(devs []model.ImportDevice, p model.TargetPolicy) error {
	var bad []model.LineError
	for _, d := range devs {
		ip, err := netip.ParseAddr(d.IP)
		if err == nil {
			err = p.Check(ip)
		}
		if err != nil {
			bad = append(bad, model.LineError{Line: d.Line, Reason: err.Error()})
		}
	}
	if len(bad) > 0 {
		return &model.LinesError{Lines: bad}
	}
	return nil
}

func profileList(v any) []string {
	var parts []string
	switch x := v.(type) {
	case string:
		parts = strings.Split(x, ";")
	case []any:
		for _, p := range x {
			parts = append(parts, fmt.Sprint(p))
		}
	}
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validateCredential checks protocols and key lengths, and spells the protocols as they are
// stored; its messages never contain a key.
func validateCredential(c *model.ImportCredential) error {
	switch c.Version {
	case "1", "2c":
		if c.Community == "" {
			return errors.New("community is empty")
		}
		return nil
	case "3":
	default:
		return fmt.Errorf("unknown SNMP version %q", c.Version)
	}
	var err error
	if c.AuthProtocol, err = usm.CanonicalAuth(c.AuthProtocol); err != nil {
		return err
	}
	if c.PrivProtocol, err = usm.CanonicalPriv(c.PrivProtocol); err != nil {
		return err
	}
	switch {
	case c.Username == "":
		return errors.New("SNMPv3 user is empty")
	case c.AuthProtocol != "" && len(c.AuthKey) < 8:
		return errors.New("auth key must have at least 8 characters")
	case c.PrivProtocol != "" && c.AuthProtocol == "":
		return errors.New("priv protocol needs an auth protocol")
	case c.PrivProtocol != "" && len(c.PrivKey) < 8:
		return errors.New("priv key must have at least 8 characters")
	}
	return nil
}

package snmp

import (
	"sort"
	"strings"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/model"
)

// fallbackRoots returns the fallback columns to walk together with walk: those whose table no
// walked column belongs to (so the walk alone cannot tell which rows exist), and those that stood
// in for every row last poll (SNMPv1, an agent without ifXTable), so their values arrive in the
// same request instead of a GET after it. The others are fetched by fetchFallbacks, and only for
// the rows their item's column lacked: an agent whose ifXTable answers for every interface costs
// no request and no varbind more.
func fallbackRoots(st *deviceState, items []model.Item, walk []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range walk {
		seen[r] = true
	}
	for _, it := range items {
		if it.Kind != "table" || it.Fallback.OID == "" {
			continue
		}
		fb := dotted(it.Fallback.OID)
		if seen[fb] {
			continue
		}
		entry := parentOID(fb) + "."
		known := false
		for _, r := range walk {
			known = known || strings.HasPrefix(r, entry)
		}
		if !known || st.fallbackWalk[fb] {
			seen[fb] = true
			out = append(out, fb)
		}
	}
	return out
}

// fetchFallbacks returns, per item name, the fallback varbinds by index for the rows of the
// fallback's table that the item's own column did not return. Rows of that table are the indexes
// any walked column of it returned; values come from the walk when the fallback column was in it,
// else from one GET of exactly the missing instances.
func (p *Poller) fetchFallbacks(s *session, st *deviceState, items []model.Item, walked []string, cols map[string][]gosnmp.SnmpPDU) (map[string]map[string]gosnmp.SnmpPDU, error) {
	out := map[string]map[string]gosnmp.SnmpPDU{}
	type target struct{ item, index string }
	var oids []string
	targets := map[string][]target{}
	for _, it := range items {
		if it.Kind != "table" || it.Fallback.OID == "" || out[it.Name] != nil {
			continue
		}
		root, fb := dotted(it.OID), dotted(it.Fallback.OID)
		have := indexes(root, cols[root])
		rows := map[string]bool{}
		fbCol, fbWalked := cols[fb]
		if fbWalked {
			rows = indexes(fb, fbCol)
		} else {
			entry := parentOID(fb) + "."
			for _, r := range walked {
				if strings.HasPrefix(r, entry) {
					for i := range indexes(r, cols[r]) {
						rows[i] = true
					}
				}
			}
		}
		missing := map[string]gosnmp.SnmpPDU{}
		if fbWalked {
			for _, v := range fbCol {
				if i := v.Name[len(fb)+1:]; !have[i] {
					missing[i] = v
				}
			}
		} else {
			for i := range rows {
				if have[i] {
					continue
				}
				o := fb + "." + i
				if len(targets[o]) == 0 {
					oids = append(oids, o)
				}
				targets[o] = append(targets[o], target{it.Name, i})
			}
		}
		out[it.Name] = missing
		st.fallbackWalk[fb] = len(have) == 0 && len(rows) > 0
	}
	if len(oids) == 0 {
		return out, nil
	}
	sort.Slice(oids, func(i, j int) bool { return oidCompare(oids[i], oids[j]) < 0 })
	got, err := s.getScalars(oids)
	if err != nil {
		return out, err
	}
	for _, o := range oids {
		v, ok := got[o]
		if !ok || isException(v.Type) {
			p.countVarbind(st, v.Type) // neither column has this row
			continue
		}
		for _, t := range targets[o] {
			out[t.item][t.index] = v
		}
	}
	return out, nil
}

// tableKey is one table of one profile: a series of wardops_snmp_table_rows.
type tableKey struct{ profile, table string }

// tableRows counts the rows (distinct indexes) each table of each profile returned this poll:
// its items' columns and the fallback values read from it. A table stands in (is not empty for
// the empty_table reason) when a fallback filled its items' rows from another table, as ifTable
// fills ifXTable's on an agent that has none.
type tableRows struct {
	rows    map[tableKey]map[string]bool
	stoodIn map[tableKey]bool
}

func newTableRows() *tableRows {
	return &tableRows{rows: map[tableKey]map[string]bool{}, stoodIn: map[tableKey]bool{}}
}

// addColumn adds the indexes of a walked column.
func (t *tableRows) addColumn(k tableKey, root string, col []gosnmp.SnmpPDU) {
	m := t.rows[k]
	if m == nil {
		m = make(map[string]bool, len(col))
		t.rows[k] = m
	}
	for _, v := range col {
		m[v.Name[len(root)+1:]] = true
	}
}

func (t *tableRows) add(k tableKey, idx map[string]bool) {
	m := t.rows[k]
	if m == nil {
		m = map[string]bool{}
		t.rows[k] = m
	}
	for i := range idx {
		m[i] = true
	}
}

// tableSamples returns wardops_snmp_table_rows for every table, sorted, and counts empty_table for each
// table that returned nothing and was not stood in for.
func (p *Poller) tableSamples(st *deviceState, t *tableRows, ts int64) []sample.Sample {
	keys := make([]tableKey, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].profile != keys[j].profile {
			return keys[i].profile < keys[j].profile
		}
		return keys[i].table < keys[j].table
	})
	out := make([]sample.Sample, 0, len(keys))
	for _, k := range keys {
		n := len(t.rows[k])
		if n == 0 && !t.stoodIn[k] {
			st.errors[ReasonEmptyTable]++
			p.m.errors[ReasonEmptyTable].Inc()
		}
		labels := st.block(labelKey{kind: "table", a: k.profile, b: k.table}, func(b []sample.Label) []sample.Label {
			return append(b, sample.Label{Name: "profile", Value: k.profile}, sample.Label{Name: "table", Value: k.table})
		})
		out = append(out, sample.Sample{Name: model.MetricSNMPTableRows, Value: float64(n), Timestamp: ts, Labels: labels.Labels, LabelText: labels.Text})
	}
	return out
}

// itemTable is the item's table name; items stored before tables were named get the OID name
// the inventory gives an undeclared table.
func itemTable(name, oid string) string {
	if name != "" {
		return name
	}
	return strings.TrimPrefix(parentOID(parentOID(dotted(oid))), ".")
}

// counterBits labels a sample of a counter item that has a fallback with its width on the wire,
// so a 32-bit series (which wraps every 2^32) never continues a 64-bit one across a switch.
func counterBits(it model.Item, v gosnmp.SnmpPDU) (sample.Label, bool) {
	if it.ValueType != "counter" || it.Fallback.OID == "" {
		return sample.Label{}, false
	}
	if v.Type == gosnmp.Counter64 {
		return sample.Label{Name: "counter_bits", Value: "64"}, true
	}
	return sample.Label{Name: "counter_bits", Value: "32"}, true
}

func indexes(root string, col []gosnmp.SnmpPDU) map[string]bool {
	out := make(map[string]bool, len(col))
	for _, v := range col {
		out[v.Name[len(root)+1:]] = true
	}
	return out
}

func parentOID(o string) string {
	if i := strings.LastIndexByte(o, '.'); i > 0 {
		return o[:i]
	}
	return o
}

// sortedIndexes orders table indexes as the agent would walk them.
func sortedIndexes(m map[string]gosnmp.SnmpPDU) []string {
	out := make([]string, 0, len(m))
	for i := range m {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return oidCompare(out[a], out[b]) < 0 })
	return out
}

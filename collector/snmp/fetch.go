package snmp

import (
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// maxRows bounds one table walk so an agent that loops (returns OIDs out of order despite our
// check, or an endless table) cannot hold a poll forever.
const maxRows = 100_000

// getScalars fetches instance OIDs (dotted, with a leading dot) with GET, up to MaxOids per PDU,
// and returns the varbinds by OID. SNMPv1 answers noSuchName for the whole PDU when one OID is
// missing (RFC 1157 4.1.2), so v1 retries without the culprit and records it as noSuchObject.
func (s *session) getScalars(oids []string) (map[string]gosnmp.SnmpPDU, error) {
	out := make(map[string]gosnmp.SnmpPDU, len(oids))
	for start := 0; start < len(oids); start += s.g.MaxOids {
		chunk := append([]string(nil), oids[start:min(start+s.g.MaxOids, len(oids))]...)
		for len(chunk) > 0 {
			r, err := s.get(chunk)
			if err != nil {
				return out, fmt.Errorf("cannot GET %d OIDs from %s: %w", len(chunk), s.g.Target, err)
			}
			if r.Error == gosnmp.NoSuchName && int(r.ErrorIndex) >= 1 && int(r.ErrorIndex) <= len(chunk) {
				bad := chunk[r.ErrorIndex-1]
				out[bad] = gosnmp.SnmpPDU{Name: bad, Type: gosnmp.NoSuchObject}
				chunk = append(chunk[:r.ErrorIndex-1], chunk[r.ErrorIndex:]...)
				continue
			}
			if r.Error != gosnmp.NoError {
				return out, &PollError{Reason: ReasonErrorStatus, Err: fmt.Errorf("cannot GET from %s: error-status %s", s.g.Target, r.Error)}
			}
			for _, v := range r.Variables {
				out[v.Name] = v
			}
			break
		}
	}
	return out, nil
}

// column is one table column being walked.
type column struct {
	root   string // dotted with a leading dot
	prefix string // root + ".", what every instance of the column starts with
	last   string // last OID returned, where the next request continues
	done   bool
	rows   []gosnmp.SnmpPDU
}

// walkColumns walks several table columns at once: every GETBULK (or GETNEXT for v1 and agents
// that mishandle bulk) carries one varbind per unfinished column, so a 10-column table of 8 rows
// costs one request instead of ten. reps is the max-repetitions per column, normally the row
// count seen last poll plus one so a table usually comes back in one round trip.
func (s *session) walkColumns(roots []string, reps uint32) (map[string][]gosnmp.SnmpPDU, error) {
	cols := make([]*column, len(roots))
	for i, r := range roots {
		cols[i] = &column{root: r, prefix: r + ".", last: r, rows: make([]gosnmp.SnmpPDU, 0, reps)}
	}
	active := make([]*column, 0, len(cols))
	oids := make([]string, 0, min(len(cols), s.g.MaxOids))
	for total := 0; total < maxRows; {
		active = active[:0]
		for _, c := range cols {
			if !c.done {
				active = append(active, c)
			}
		}
		if len(active) == 0 {
			break
		}
		if len(active) > s.g.MaxOids {
			active = active[:s.g.MaxOids]
		}
		if len(active) > s.maxVarbinds {
			active = active[:s.maxVarbinds]
		}
		oids = oids[:0]
		for _, c := range active {
			oids = append(oids, c.last)
		}
		var r *gosnmp.SnmpPacket
		var err error
		if s.noBulk {
			r, err = s.getNext(oids)
		} else {
			// Keep a response under maxVarbinds whatever the column count.
			n := max(1, min(reps, uint32(s.maxVarbinds/len(active))))
			r, err = s.getBulk(oids, n)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot walk %s on %s: %w", strings.Join(roots, ","), s.g.Target, err)
		}
		if r.Error == gosnmp.TooBig && s.maxVarbinds > 1 {
			// The agent cannot fit the answer in one message (RFC 3416 4.2.1, 4.2.3): ask again for
			// half as many varbinds; the device's session starts from there next poll.
			s.maxVarbinds /= 2
			s.m.tooBig.Inc()
			continue
		}
		if r.Error != gosnmp.NoError {
			if s.noBulk && r.Error == gosnmp.NoSuchName {
				// SNMPv1 ends a walk past the last object with noSuchName (RFC 1157 4.1.3), for the
				// whole PDU. Only the column error-index names and those at or past it in OID order
				// (the end of the view is the same for them) are done; the others are asked again,
				// as an agent without ifXTable ends its view inside an if-mib walk.
				if i := int(r.ErrorIndex); i >= 1 && i <= len(active) {
					end := active[i-1].last
					for _, c := range active {
						if oidCompare(c.last, end) >= 0 {
							c.done = true
						}
					}
				} else {
					for _, c := range active {
						c.done = true
					}
				}
				continue
			}
			return nil, &PollError{Reason: ReasonErrorStatus, Err: fmt.Errorf("cannot walk %s on %s: error-status %s", strings.Join(roots, ","), s.g.Target, r.Error)}
		}
		if len(r.Variables) == 0 {
			return nil, &PollError{Reason: ReasonOther, Err: fmt.Errorf("cannot walk %s on %s: empty response", strings.Join(roots, ","), s.g.Target)}
		}
		progressed := false
		for i, v := range r.Variables {
			c := active[i%len(active)]
			if c.done {
				continue
			}
			if v.Type == gosnmp.EndOfMibView || v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance ||
				!strings.HasPrefix(v.Name, c.prefix) {
				c.done = true
				continue
			}
			if oidCompare(v.Name, c.last) <= 0 {
				// RFC 3416 requires lexicographic progress; an agent that breaks it would loop.
				return nil, &PollError{Reason: ReasonOther, Err: fmt.Errorf("cannot walk %s on %s: OID not increasing (%s after %s)", c.root, s.g.Target, v.Name, c.last)}
			}
			c.rows = append(c.rows, v)
			c.last = v.Name
			total++
			progressed = true
		}
		if !progressed {
			for _, c := range active {
				c.done = true
			}
		}
	}
	out := make(map[string][]gosnmp.SnmpPDU, len(cols))
	for _, c := range cols {
		out[c.root] = c.rows
	}
	return out, nil
}

// oidCompare orders dotted OIDs arc by arc. The arcs both share in full are skipped first: a
// walk compares instances of one column, which differ only in their last arcs.
func oidCompare(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if i == len(a) && i == len(b) {
		return 0
	}
	for i > 0 && a[i-1] != '.' {
		i--
	}
	a, b = a[i:], b[i:]
	for a != "" || b != "" {
		var x, y uint64
		var okA, okB bool
		x, a, okA = nextArc(a)
		y, b, okB = nextArc(b)
		switch {
		case !okA && !okB:
			return 0
		case !okA:
			return -1
		case !okB:
			return 1
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

func nextArc(s string) (uint64, string, bool) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return 0, "", false
	}
	var n uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	if i == 0 {
		return 0, "", false // not a digit: treat as the end, so a malformed OID cannot loop
	}
	return n, s[i:], true
}

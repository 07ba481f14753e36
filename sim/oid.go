package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// oid is a parsed object identifier, compared arc by arc as RFC 3416 orders GETNEXT.
type oid []uint32

func parseOID(s string) (oid, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, fmt.Errorf("empty OID")
	}
	parts := strings.Split(s, ".")
	o := make(oid, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad OID %q: %w", s, err)
		}
		o[i] = uint32(n)
	}
	return o, nil
}

func mustOID(s string) oid {
	o, err := parseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String renders the OID with a leading dot, the form gosnmp returns to clients.
func (o oid) String() string {
	var b strings.Builder
	for _, a := range o {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(a), 10))
	}
	return b.String()
}

func (o oid) compare(p oid) int {
	for i := 0; i < len(o) && i < len(p); i++ {
		switch {
		case o[i] < p[i]:
			return -1
		case o[i] > p[i]:
			return 1
		}
	}
	switch {
	case len(o) < len(p):
		return -1
	case len(o) > len(p):
		return 1
	}
	return 0
}

func (o oid) hasPrefix(p oid) bool {
	if len(o) < len(p) {
		return false
	}
	return o[:len(p)].compare(p) == 0
}

func (o oid) append(arcs ...uint32) oid {
	out := make(oid, 0, len(o)+len(arcs))
	return append(append(out, o...), arcs...)
}

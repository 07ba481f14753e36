package snmp

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// number reads a varbind as a sample value. Counters are returned raw (rate() is the user's job);
// OCTET STRING numbers are accepted because some agents (UCD laLoad) publish them as text.
func number(v gosnmp.SnmpPDU) (float64, bool) {
	switch x := v.Value.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case []byte:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

// text reads a varbind as a label value: strings as UTF-8 (invalid bytes replaced), numbers in
// decimal, OIDs dotted without the leading dot.
func text(v gosnmp.SnmpPDU) string {
	switch x := v.Value.(type) {
	case []byte:
		s := string(x)
		s = strings.TrimRight(s, "\x00") // some agents NUL-terminate DisplayStrings
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		return s
	case string:
		return strings.TrimPrefix(x, ".")
	case nil:
		return ""
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return ""
}

// physAddressColumns are the columns whose syntax is PhysAddress (RFC 2579): bytes, not text, so
// their values are rendered as colon hex. wardops reads no MIB files, so the textual conventions
// it honours are listed here, for the columns its profiles read.
var physAddressColumns = map[string]bool{
	"1.3.6.1.2.1.2.2.1.6": true, // ifPhysAddress (RFC 2863)
}

// hexColon renders bytes as snmp_exporter renders a PhysAddress48: 52:54:00:AB:CD:EF.
func hexColon(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func isException(t gosnmp.Asn1BER) bool {
	return t == gosnmp.NoSuchObject || t == gosnmp.NoSuchInstance || t == gosnmp.EndOfMibView || t == gosnmp.Null
}

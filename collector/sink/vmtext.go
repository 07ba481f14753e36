package sink

import (
	"math"
	"strconv"
	"strings"

	"github.com/wardops/wardops/collector/sample"
)

// appendSample appends one line of Prometheus text exposition with an explicit millisecond
// timestamp: name{a="b",...} value ts\n. Label values are escaped as the format requires
// (backslash, double quote, newline); names are trusted to be valid, they come from our own code.
func appendSample(dst []byte, s sample.Sample) []byte {
	dst = append(dst, s.Name...)
	if len(s.Labels) > 0 {
		dst = append(dst, '{')
		for i, l := range s.Labels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, l.Name...)
			dst = append(dst, '=', '"')
			dst = appendEscaped(dst, l.Value)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ' ')
	dst = appendFloat(dst, s.Value)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, s.Timestamp, 10)
	return append(dst, '\n')
}

func appendEscaped(dst []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\"\n") {
		return append(dst, v...)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '"':
			dst = append(dst, '\\', '"')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

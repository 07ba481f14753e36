package sink

import (
	"math"
	"strconv"

	"github.com/wardops/wardops/collector/sample"
)

// appendSample appends one line of Prometheus text exposition with an explicit millisecond
// timestamp: name{a="b",...} value ts\n, with the producer's pre-rendered label text when it
// has one.
func appendSample(dst []byte, s sample.Sample) []byte {
	dst = append(dst, s.Name...)
	switch {
	case s.LabelText != "":
		dst = append(dst, '{')
		dst = append(dst, s.LabelText...)
		dst = append(dst, '}')
	case len(s.Labels) > 0:
		dst = append(dst, '{')
		dst = sample.AppendLabels(dst, s.Labels)
		dst = append(dst, '}')
	}
	dst = append(dst, ' ')
	dst = appendFloat(dst, s.Value)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, s.Timestamp, 10)
	return append(dst, '\n')
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

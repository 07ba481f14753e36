package testenv

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// MetricValue reads one sample of set as /metrics shows it (name with its labels, as written);
// a sample not exported fails the test.
func MetricValue(t testing.TB, set *metrics.Set, name string) float64 {
	t.Helper()
	v, ok := LookupMetric(set, name)
	if !ok {
		t.Fatalf("metric %s not exported", name)
	}
	return v
}

// LookupMetric is MetricValue for a sample that may be absent.
func LookupMetric(set *metrics.Set, name string) (float64, bool) {
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

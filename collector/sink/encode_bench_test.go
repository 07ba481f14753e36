package sink

import (
	"strconv"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/klauspost/compress/gzip"

	"github.com/wardops/wardops/collector/sample"
)

// BenchmarkEncode is one batch of if-mib-full-like samples (ten labels each) through text and
// gzip, with labels rendered per sample and pre-rendered by the producer.
func BenchmarkEncode(b *testing.B) {
	w := &vmWriter{m: newVMMetrics(metrics.NewSet())}
	w.text.New = func() any { buf := make([]byte, 0, 64<<10); return &buf }
	w.gz.New = func() any { z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return z }
	for _, pre := range []bool{false, true} {
		ss := make([]sample.Sample, 0, 4096)
		for i := range 4096 {
			blk := sample.NewBlock([]sample.Label{{Name: "device_id", Value: strconv.Itoa(i / 316)}, {Name: "device", Value: "branch-router-" + strconv.Itoa(i/316)},
				{Name: "ip", Value: "127.30.1.2"}, {Name: "branch", Value: "Branch 0042"}, {Name: "region", Value: "north"}, {Name: "vendor", Value: "cisco"},
				{Name: "index", Value: strconv.Itoa(i % 8)}, {Name: "ifName", Value: "Gi0/" + strconv.Itoa(i%8)}, {Name: "ifDescr", Value: "GigabitEthernet0/" + strconv.Itoa(i%8)},
				{Name: "ifAlias", Value: "uplink"}})
			s := sample.Sample{Name: "wardops_snmp_ifHCInOctets", Labels: blk.Labels, Value: float64(i * 12345), Timestamp: 1796187538000 + int64(i)}
			if pre {
				s.LabelText = blk.Text
			}
			ss = append(ss, s)
		}
		b.Run("prerendered="+strconv.FormatBool(pre), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = w.encode(ss)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ss)), "ns/sample")
		})
	}
}

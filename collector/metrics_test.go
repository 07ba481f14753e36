package collector

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/icmp"
)

// TestEngineStatsExported: the shared engine's own accuracy counters reach /metrics, so an
// operator can tell real loss from replies we failed to read.
func TestEngineStatsExported(t *testing.T) {
	eng, err := icmp.NewShared(quietLog(), "raw")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	set := metrics.NewSet()
	registerEngineStats(set, eng)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := eng.Probe(ctx, icmp.Request{Addr: netip.MustParseAddr("127.0.0.1"), Count: 3, Interval: 10 * time.Millisecond, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, want := range []string{"wardops_collector_icmp_echoes_sent_total 3", "wardops_collector_icmp_replies_total 3", "wardops_collector_icmp_rcvbuf_drops_total 0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

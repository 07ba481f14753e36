package bench

import (
	"strings"
	"testing"
	"time"
)

func TestLEBuckets(t *testing.T) {
	in := `wardops_collector_scheduler_lag_seconds_bucket{kind="icmp",le="0.001"} 90
wardops_collector_scheduler_lag_seconds_bucket{kind="icmp",le="0.01"} 99
wardops_collector_scheduler_lag_seconds_bucket{kind="icmp",le="+Inf"} 100
wardops_collector_scheduler_lag_seconds_bucket{kind="snmp",le="0.001"} 5
wardops_collector_scheduler_lag_seconds_bucket{kind="snmp",le="+Inf"} 5
`
	ps, err := parseProm(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	b := ps.lagBuckets(map[string]string{"kind": "icmp"})
	want := map[string]float64{"0...0.001": 90, "0.001...0.01": 9, "0.01...+Inf": 1}
	if len(b) != len(want) {
		t.Fatalf("buckets = %v, want %v", b, want)
	}
	for k, v := range want {
		if b[k] != v {
			t.Fatalf("buckets = %v, want %v", b, want)
		}
	}
	q, n := vmQuantiles(map[string]float64{}, b, 0.5, 0.95)
	if n != 100 || q[0] != 0.001 || q[1] != 0.01 {
		t.Fatalf("quantiles = %v over %v", q, n)
	}
}

func TestGroupShared(t *testing.T) {
	f := func(g groupCount, want bool) {
		t.Helper()
		if got := g.shared(100, 2); got != want {
			t.Fatalf("shared(%+v) = %v, want %v", g, got, want)
		}
	}
	ok := map[string]float64{"icmp": 100, "snmp": 100}
	f(groupCount{members: []float64{2, 2}, targets: ok}, true)
	f(groupCount{members: []float64{2, 3}, targets: ok}, false) // one still counts the dead collector
	f(groupCount{members: []float64{2, 2}, targets: map[string]float64{"icmp": 100, "snmp": 67}}, false)
	f(groupCount{members: []float64{2, 2}, targets: map[string]float64{"icmp": 133, "snmp": 100}}, false)
}

func TestSQLTime(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	if got, want := sqlTime(at), "'2026-12-02T04:06:07.123456Z'::timestamptz"; got != want {
		t.Fatalf("sqlTime = %s, want %s", got, want)
	}
}

func TestScaleReportWrite(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	s := &ScaleSetup{Collectors: 3, Start: start, End: start.Add(300 * time.Second), Probes: 1_000_000, ExpectedProbes: 1_000_000,
		Polls: 100_000, ExpectedPolls: 100_000, CPU: 300 * time.Second, PeakRSS: []uint64{1 << 30, 2 << 30, 3 << 30},
		Owned: []float64{33_000, 33_500, 33_500}, Ping: PingGaps{Complete: 100_000, Probes: 1_000_000},
		Kill: &HandOver{Victim: "scale-3-b", Moved: 33_500, At: start.Add(310 * time.Second), Rebalance: 12 * time.Second,
			Probe: FreshAfter{Devices: 100_000, P50: 9 * time.Second, Max: 41 * time.Second}}}
	r := &ScaleReport{Size: 100_000, Interval: 30 * time.Second, SNMPInterval: 300 * time.Second, Window: 300 * time.Second,
		Lease: "10s", Setups: []*ScaleSetup{s}}
	var b strings.Builder
	r.Write(&b)
	out := b.String()
	for _, want := range []string{"3 collectors", "100,000 of 100,000", "0.300", "3.000", "1024 / 2048 / 3072",
		"SIGKILL of scale-3-b (33,500 devices)", "+12.0s", "+9.00s / +41.0s", "not within"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	f := func(line string, want time.Duration, wantErr bool) {
		t.Helper()
		got, err := parseStatCPU([]byte(line))
		if (err != nil) != wantErr || got != want {
			t.Fatalf("parseStatCPU(%q) = %v, %v; want %v, err %v", line, got, err, want, wantErr)
		}
	}
	// utime 250 ticks + stime 150 ticks = 4 s; the command name holds ") (" on purpose.
	f("42 (a) (b) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 1 2 3", 4*time.Second, false)
	f("42 (x) S 1 2", 0, true)
	f("no parenthesis", 0, true)
}

func TestParseProm(t *testing.T) {
	in := `# HELP x
wardops_collector_probes_total{kind="icmp"} 1500
wardops_collector_probes_total{kind="snmp"} 20
vm_promscrape_targets{type="file_sd_configs", status="up"} 875
esc{v="a\"b,c"} 1 1700000000000
go_goroutines 42
h_bucket{kind="icmp",vmrange="1.000e-03...1.136e-03"} 90
h_bucket{kind="icmp",vmrange="1.136e-03...1.292e-03"} 10
`
	ps, err := parseProm(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"wardops_collector_probes_total", map[string]string{"kind": "icmp"}, 1500},
		{"wardops_collector_probes_total", nil, 1520},
		{"vm_promscrape_targets", map[string]string{"status": "up"}, 875},
		{"esc", map[string]string{"v": `a"b,c`}, 1},
		{"go_goroutines", nil, 42},
	} {
		if got, _ := ps.sum(c.name, c.match); got != c.want {
			t.Errorf("sum(%s, %v) = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	b := ps.vmBuckets("h", map[string]string{"kind": "icmp"})
	q, n := vmQuantiles(map[string]float64{}, b, 0.5, 0.99)
	if n != 100 || q[0] != 1.136e-3 || q[1] != 1.292e-3 {
		t.Fatalf("quantiles = %v over %v", q, n)
	}
	// Only what happened between the snapshots counts.
	q, n = vmQuantiles(b, map[string]float64{"1.000e-03...1.136e-03": 90, "1.136e-03...1.292e-03": 15}, 0.5)
	if n != 5 || q[0] != 1.292e-3 {
		t.Fatalf("delta quantiles = %v over %v", q, n)
	}
	if q, _ := vmQuantiles(b, b, 0.5); !math.IsNaN(q[0]) {
		t.Fatalf("no observations must give NaN, got %v", q)
	}
	if _, err := parseProm(strings.NewReader(`bad{x="1} 2`)); err == nil {
		t.Fatal("unterminated label value accepted")
	}
}

func TestCycleTimes(t *testing.T) {
	s := func(pts ...float64) []point { // n at second i+1
		var out []point
		for i, n := range pts {
			out = append(out, point{time.Duration(i+1) * time.Second, n})
		}
		return out
	}
	for _, c := range []struct {
		name   string
		series []point
		want   []time.Duration
	}{
		{"on time", s(50, 100, 150, 200), []time.Duration{2 * time.Second, 2 * time.Second}},
		{"late second", s(50, 100, 120, 140, 160, 200), []time.Duration{2 * time.Second, 4 * time.Second}},
		{"burst", s(200), []time.Duration{time.Second, 0}},
		{"behind", s(10, 20, 30), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, n := cycleTimes(c.series, 100, 2)
			if n != len(c.want) || len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestCountFping(t *testing.T) {
	out := "127.30.0.1 : 0.05 0.04 0.04\n127.30.0.2 : - - -\n127.30.0.3 : - 0.1 -\nICMP Host Unreachable from x\n"
	n, up := countFping([]byte(out))
	if n != 3 || up != 2 {
		t.Fatalf("countFping = %d, %d; want 3, 2", n, up)
	}
}

func TestVerdict(t *testing.T) {
	base := func() *Result {
		return &Result{Size: 875, Kind: "ping", Wardops: true, Probes: 1750, Expected: 1750, CPU: 500 * time.Millisecond,
			WantCycles: 2, Interval: 30 * time.Second, Cycles: []time.Duration{30 * time.Second, 30 * time.Second}}
	}
	for _, c := range []struct {
		name string
		mod  func(r *Result)
		want string
	}{
		{"cheap", func(r *Result) {}, "≤0.35/1k PASS"},
		{"dear", func(r *Result) { r.CPU = time.Second }, "≤0.35/1k MISS"},
		{"snmp", func(r *Result) { r.Kind, r.CPU = "snmp", 3*time.Second }, "≤2.00/1k PASS"},
		{"100k on time", func(r *Result) { r.Size = 100_000 }, "≤0.35/1k PASS, on time PASS"},
		{"100k late", func(r *Result) { r.Size, r.Cycles[1] = 100_000, 40*time.Second }, "≤0.35/1k PASS, on time MISS"},
		{"100k short", func(r *Result) { r.Size, r.Cycles = 100_000, r.Cycles[:1] }, "≤0.35/1k PASS, on time MISS"},
		{"peer", func(r *Result) { r.Wardops = false }, "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := base()
			c.mod(r)
			if got := r.verdict(); got != c.want {
				t.Fatalf("verdict = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSoakJudge(t *testing.T) {
	mk := func(rss uint64, g float64, fds int, at time.Duration) SoakSample {
		return SoakSample{At: at, RSS: rss << 20, Goroutines: g, FDs: fds}
	}
	for _, c := range []struct {
		name string
		ss   []SoakSample
		flat bool
	}{
		{"flat", []SoakSample{mk(20, 30, 10, 0), mk(60, 300, 20, time.Minute), mk(64, 305, 21, 30*time.Minute)}, true},
		{"noisy but flat", []SoakSample{mk(60, 300, 20, time.Minute), mk(60, 250, 15, 2*time.Minute), mk(60, 320, 40, 3*time.Minute),
			mk(60, 290, 18, 4*time.Minute), mk(60, 310, 22, 5*time.Minute), mk(60, 300, 21, 6*time.Minute)}, true},
		{"rss leak", []SoakSample{mk(60, 300, 20, time.Minute), mk(200, 300, 20, 30*time.Minute)}, false},
		{"goroutine leak", []SoakSample{mk(60, 300, 20, time.Minute), mk(60, 900, 20, 30*time.Minute)}, false},
		{"fd leak", []SoakSample{mk(60, 300, 20, time.Minute), mk(60, 300, 200, 30*time.Minute)}, false},
		{"too short", []SoakSample{mk(60, 300, 20, 0), mk(60, 300, 20, time.Minute)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &SoakReport{Samples: c.ss}
			r.judge(30 * time.Second)
			if r.Flat != c.flat {
				t.Fatalf("flat = %v (%v), want %v", r.Flat, r.Reasons, c.flat)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[int]string{875: "875", 10000: "10,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

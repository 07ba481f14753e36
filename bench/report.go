package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// The collector's targets per 1,000 probes, which the report marks as met or missed.
const (
	targetPingCPU = 0.35 // CPU-s per 1,000 ping probes of 3 echoes
	targetSNMPCPU = 2.0  // CPU-s per 1,000 if-mib polls
	onTimeSize    = 100_000
	onTimeSlack   = 1.05 // a cycle within 5% of the interval is on time (1 s counter sampling)
	// targetSameWork is if-mib-full's CPU per sample as a fraction of snmp_exporter + vmagent's,
	// which reads the same columns.
	targetSameWork = 0.25
)

// Result is one pipeline's figures on one fleet. Err set means it could not be measured.
type Result struct {
	Size       int
	Pipeline   string
	Kind       string // "ping" or "snmp"
	Wardops    bool   // ours: targets apply
	Reference  bool   // the row ratios are taken against (fping; snmp_exporter for SNMP)
	Probes     float64
	Expected   float64
	CPU        time.Duration
	PeakRSS    uint64
	Cycles     []time.Duration
	WantCycles int
	Interval   time.Duration
	Lag        []float64 // scheduler lag p50, p99 in seconds; nil when the pipeline has none
	Fresh      []time.Duration
	// SNMP only: samples written per poll and SNMP requests per poll, counted in
	// VictoriaMetrics for the sampled devices (requests: the collector's counter since start).
	SamplesPerPoll float64
	Requests       float64
	Notes          []string
	Err            error
}

// perK is CPU-seconds per 1,000 probes, NaN when nothing completed.
func (r *Result) perK() float64 {
	if r.Probes <= 0 {
		return math.NaN()
	}
	return r.CPU.Seconds() / r.Probes * 1000
}

// perKSamples is CPU-seconds per 1,000 samples written, NaN when not counted.
func (r *Result) perKSamples() float64 {
	if r.Probes <= 0 || r.SamplesPerPoll <= 0 {
		return math.NaN()
	}
	return r.CPU.Seconds() / (r.Probes * r.SamplesPerPoll) * 1000
}

// onTime reports whether every cycle of the window completed within the interval (plus slack)
// and the probes reached 99% of what the fleet needs.
func (r *Result) onTime() bool {
	if len(r.Cycles) < r.WantCycles || r.Probes < 0.99*r.Expected {
		return false
	}
	for _, c := range r.Cycles {
		if c.Seconds() > r.Interval.Seconds()*onTimeSlack {
			return false
		}
	}
	return true
}

// verdict is the target column: PASS/MISS for our rows, "-" for peers.
func (r *Result) verdict() string {
	if !r.Wardops || r.Err != nil {
		return "-"
	}
	limit := targetPingCPU
	if r.Kind == "snmp" {
		limit = targetSNMPCPU
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("≤%.2f/1k %s", limit, passMiss(r.perK() <= limit)))
	if r.Size >= onTimeSize {
		parts = append(parts, "on time "+passMiss(r.onTime()))
	}
	return strings.Join(parts, ", ")
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// Table is the results of one fleet size.
type Table struct {
	Size     int
	Interval time.Duration
	Cycles   int
	Results  []*Result
	Notes    []string // about the whole size (skipped SNMP, VictoriaMetrics CPU...)
}

// Write prints the table: ping rows with ratios against fping, SNMP rows with ratios against
// snmp_exporter + vmagent, then every row's notes.
func (t *Table) Write(w io.Writer) {
	fmt.Fprintf(w, "\n== %s devices on loopback, %s interval, %d measured cycle(s) after 1 warm-up cycle ==\n", thousands(t.Size), t.Interval, t.Cycles)
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\tprobes\texpected\tCPU-s\tCPU-s/1k\tratio\tpeak RSS MiB\tcycle p50/max\tlag p50/p99\tprobe→queryable p50/p99\ttarget\t")
	for _, kind := range []string{"ping", "snmp"} {
		var ref *Result
		for _, r := range t.Results {
			if r.Kind == kind && r.Reference && r.Err == nil {
				ref = r
			}
		}
		for _, r := range t.Results {
			if r.Kind != kind {
				continue
			}
			if r.Err != nil {
				fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\t\n", r.Pipeline, "not measured (see notes)")
				continue
			}
			ratio := "-"
			if ref != nil && ref.perK() > 0 {
				ratio = fmt.Sprintf("%.2f×", r.perK()/ref.perK())
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.3f\t%s\t%.1f\t%s\t%s\t%s\t%s\t\n",
				r.Pipeline, r.Probes, r.Expected, r.CPU.Seconds(), r.perK(), ratio, float64(r.PeakRSS)/(1<<20),
				r.cycleText(), r.lagText(), r.freshText(), r.verdict())
		}
	}
	tw.Flush()
	t.writeSameWork(w)
	fmt.Fprintln(w, "ratio: ping rows against fping (3 echoes per probe), SNMP rows against snmp_exporter + vmagent.")
	fmt.Fprintln(w, "cycle: time to complete one fleet's worth of probes (counted in VictoriaMetrics by sample timestamp; fping: wall time of one run).")
	fmt.Fprintln(w, "lag: the collector's scheduler lag histogram (bucket upper bounds). probe→queryable: sample timestamp (probe start) to first")
	fmt.Fprintln(w, "  visible in a VictoriaMetrics query (nocache=1, polled every 250 ms) for a sample of devices.")
	for _, n := range t.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	for _, r := range t.Results {
		if r.Err != nil {
			fmt.Fprintf(w, "%s: not measured: %v\n", r.Pipeline, r.Err)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s: %s\n", r.Pipeline, n)
		}
	}
}

func (r *Result) cycleText() string {
	if len(r.Cycles) == 0 {
		return fmt.Sprintf("none of %d done", r.WantCycles)
	}
	s := fmt.Sprintf("%s/%s", secs(quantile(r.Cycles, 0.5)), secs(quantile(r.Cycles, 1)))
	if len(r.Cycles) < r.WantCycles {
		s += fmt.Sprintf(" (%d of %d done)", len(r.Cycles), r.WantCycles)
	}
	return s
}

func (r *Result) lagText() string {
	if len(r.Lag) != 2 || math.IsNaN(r.Lag[0]) {
		return "-"
	}
	return fmt.Sprintf("≤%s/≤%s", secsF(r.Lag[0]), secsF(r.Lag[1]))
}

func (r *Result) freshText() string {
	if len(r.Fresh) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s/%s (n=%d)", secs(quantile(r.Fresh, 0.5)), secs(quantile(r.Fresh, 0.99)), len(r.Fresh))
}

func secs(d time.Duration) string { return secsF(d.Seconds()) }

func secsF(s float64) string {
	switch {
	case s < 0.01:
		return fmt.Sprintf("%.1fms", s*1000)
	case s < 10:
		return fmt.Sprintf("%.2fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}

// thousands formats 100000 as 100,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeSameWork prints the SNMP rows per poll and per sample written, with ratios against
// snmp_exporter + vmagent: per poll compares unequal work (if-mib reads 10 columns, the stock
// module 38), per sample compares the cost of each value delivered.
func (t *Table) writeSameWork(w io.Writer) {
	var ref *Result
	var rows []*Result
	for _, r := range t.Results {
		if r.Kind == "snmp" && r.Err == nil {
			rows = append(rows, r)
			if r.Reference {
				ref = r
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSNMP per poll and per sample written, %s devices:\n", thousands(t.Size))
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\tpolls\tsamples/poll\trequests/poll\tCPU-s/1k polls\tratio\tCPU-s/1k samples\tµs/sample\tratio\ttarget\t")
	ratio := func(a, b float64) string {
		if ref == nil || math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	for _, r := range rows {
		verdict := "-"
		if r.Wardops && ref != nil && strings.Contains(r.Pipeline, "if-mib-full") {
			ok := r.perKSamples() <= targetSameWork*ref.perKSamples()
			verdict = fmt.Sprintf("≤%.2f× %s", targetSameWork, passMiss(ok))
			if ref.Requests > 0 && r.Requests > 0 {
				verdict += ", requests " + passMiss(r.Requests <= ref.Requests)
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.2f\t%.3f\t%s\t%.4f\t%.2f\t%s\t%s\t\n", r.Pipeline, r.Probes, r.SamplesPerPoll, r.Requests,
			r.perK(), ratio(r.perK(), refPerK(ref)), r.perKSamples(), r.perKSamples()*1000, ratio(r.perKSamples(), refPerKSamples(ref)), verdict)
	}
	tw.Flush()
	fmt.Fprintln(w, "samples/poll: every sample the pipeline wrote to VictoriaMetrics for the sampled devices over the window, divided")
	fmt.Fprintln(w, "  by their polls (wardops_snmp_* series; vmagent: the job's series, its own up and scrape_* included).")
	fmt.Fprintln(w, "requests/poll: wardops_collector_snmp_requests_total / polls since start (first polls walk the label columns too);")
	fmt.Fprintln(w, "  snmp_exporter: its snmp_scrape_packets_sent per scrape.")
}

func refPerK(r *Result) float64 {
	if r == nil {
		return math.NaN()
	}
	return r.perK()
}

func refPerKSamples(r *Result) float64 {
	if r == nil {
		return math.NaN()
	}
	return r.perKSamples()
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// promSample is one line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promSet is one scrape of a /metrics page.
type promSet []promSample

// parseProm reads the Prometheus text exposition format well enough for self-metrics: comments
// are skipped, label values may hold escaped quotes, a trailing timestamp is ignored.
func parseProm(r io.Reader) (promSet, error) {
	var out promSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parsePromLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parsePromLine(line string) (promSample, error) {
	s := promSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("malformed metrics line %q", line)
	}
	s.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, fmt.Errorf("malformed labels in %q", line)
			}
			key := strings.TrimSpace(rest[:eq])
			rest = rest[eq+2:]
			var val strings.Builder
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
					if rest[j] == 'n' {
						val.WriteByte('\n')
						continue
					}
				}
				val.WriteByte(rest[j])
			}
			if j >= len(rest) {
				return s, fmt.Errorf("unterminated label value in %q", line)
			}
			s.labels[key] = val.String()
			rest = rest[j+1:]
		}
	}
	fs := strings.Fields(rest)
	if len(fs) == 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	v, err := strconv.ParseFloat(fs[0], 64)
	if err != nil {
		return s, fmt.Errorf("bad value in %q: %w", line, err)
	}
	s.value = v
	return s, nil
}

// sum adds the values of every sample named name whose labels include match.
func (ps promSet) sum(name string, match map[string]string) (float64, bool) {
	var total float64
	found := false
outer:
	for _, s := range ps {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue outer
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

// vmBuckets returns a VictoriaMetrics/metrics histogram's buckets (vmrange label) by range.
func (ps promSet) vmBuckets(name string, match map[string]string) map[string]float64 {
	out := map[string]float64{}
outer:
	for _, s := range ps {
		if s.name != name+"_bucket" {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue outer
			}
		}
		if r, ok := s.labels["vmrange"]; ok {
			out[r] += s.value
		}
	}
	return out
}

// leBuckets returns a Prometheus histogram's cumulative le buckets as the per-range counts
// vmBuckets gives ("lo...hi", hi "+Inf" for the last), so vmQuantiles reads both kinds.
func (ps promSet) leBuckets(name string, match map[string]string) map[string]float64 {
	type bucket struct {
		le  string
		hi  float64
		cum float64
	}
	byLE := map[string]*bucket{}
outer:
	for _, s := range ps {
		if s.name != name+"_bucket" {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue outer
			}
		}
		le, ok := s.labels["le"]
		if !ok {
			continue
		}
		hi, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		if byLE[le] == nil {
			byLE[le] = &bucket{le: le, hi: hi}
		}
		byLE[le].cum += s.value
	}
	bs := make([]*bucket, 0, len(byLE))
	for _, b := range byLE {
		bs = append(bs, b)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].hi < bs[j].hi })
	out := map[string]float64{}
	lo, prev := "0", 0.0
	for _, b := range bs {
		out[lo+"..."+b.le] = b.cum - prev
		lo, prev = b.le, b.cum
	}
	return out
}

// lagBuckets is the collector's scheduler-lag histogram, whichever bucket style it exposes: a
// Prometheus histogram (le) today, a VictoriaMetrics one (vmrange) in older builds.
func (ps promSet) lagBuckets(match map[string]string) map[string]float64 {
	const name = "wardops_collector_scheduler_lag_seconds"
	if b := ps.vmBuckets(name, match); len(b) > 0 {
		return b
	}
	return ps.leBuckets(name, match)
}

// vmQuantiles computes quantiles of the observations between two snapshots of a vmrange
// histogram. Each quantile is the upper bound of the bucket it falls in: conservative, and the
// buckets are about 14% wide, precise enough for lag and latency.
func vmQuantiles(before, after map[string]float64, qs ...float64) ([]float64, float64) {
	type bucket struct{ hi, n float64 }
	var bs []bucket
	var total float64
	for r, n := range after {
		d := n - before[r]
		if d <= 0 {
			continue
		}
		_, hiS, ok := strings.Cut(r, "...")
		if !ok {
			continue
		}
		hi, err := strconv.ParseFloat(hiS, 64)
		if err != nil {
			hi = math.Inf(1)
		}
		bs = append(bs, bucket{hi, d})
		total += d
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].hi < bs[j].hi })
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = math.NaN()
		want, cum := q*total, 0.0
		for _, b := range bs {
			cum += b.n
			if cum >= want && total > 0 {
				out[i] = b.hi
				break
			}
		}
	}
	return out, total
}

// scrape fetches and parses one /metrics page, within 30 s or ctx's own deadline: a pipeline
// that starves the machine still owes us the snapshots at both ends of a window.
func scrape(ctx context.Context, url string) (promSet, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot scrape %s: status %s", url, resp.Status)
	}
	ps, err := parseProm(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", url, err)
	}
	return ps, nil
}

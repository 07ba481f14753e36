package query

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wardops/wardops/model"
)

// vmProbeCounts counts every device's probes in [from, to) with one instant query to
// VictoriaMetrics, evaluated 1 ms before to: a rollup window (t-d, t] then covers exactly
// [from, to) for the millisecond timestamps VictoriaMetrics stores, the same half-open period the
// PostgreSQL fallback counts. count_over_time(wardops_ping_up) is the number of probes and
// sum_over_time the answered ones (up is 1 or 0). Each distinct maintenance span gets its own
// pair of windows, shifted there with offset, and its counts are taken off the devices it covers;
// the spans of one device are disjoint (maintenanceSpans merges them), so nothing is taken twice.
func vmProbeCounts(ctx context.Context, r metricsReader, from, to time.Time, excl []model.DeviceInterval) (map[int64]model.ProbeCounts, error) {
	if r == nil {
		return nil, errNoVM
	}
	// Spans shared by many devices (a branch's window) are queried once for the whole fleet and
	// applied to the devices they cover, which keeps the query short: no device list in it.
	type span struct{ s, e int64 }
	covered := map[span]map[int64]bool{}
	var spans []span
	for _, x := range excl {
		k := span{x.Start.UnixMilli(), x.End.UnixMilli()}
		if covered[k] == nil {
			covered[k] = map[int64]bool{}
			spans = append(spans, k)
		}
		covered[k][x.DeviceID] = true
	}
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].s < spans[j].s || spans[i].s == spans[j].s && spans[i].e < spans[j].e
	})

	end := to.UnixMilli()
	var parts []string
	part := func(fn string, windowMs, offsetMs int64, wq string) {
		off := ""
		if offsetMs > 0 {
			off = " offset " + strconv.FormatInt(offsetMs, 10) + "ms"
		}
		parts = append(parts, fmt.Sprintf(`label_set(sum by (device_id) (%s(%s[%dms]%s)), "wq", %q)`, fn, model.MetricPingUp, windowMs, off, wq))
	}
	part("count_over_time", end-from.UnixMilli(), 0, "probes")
	part("sum_over_time", end-from.UnixMilli(), 0, "answered")
	for i, sp := range spans {
		part("count_over_time", sp.e-sp.s, end-sp.e, "xp"+strconv.Itoa(i))
		part("sum_over_time", sp.e-sp.s, end-sp.e, "xa"+strconv.Itoa(i))
	}
	expr := "union(\n  " + strings.Join(parts, ",\n  ") + "\n)"
	vec, err := r.Query(ctx, expr, to.Add(-time.Millisecond))
	if err != nil {
		return nil, err
	}
	total := map[int64]model.ProbeCounts{}
	xp := map[int64]int64{}
	xa := map[int64]int64{}
	for _, s := range vec {
		id, err := strconv.ParseInt(string(s.Metric["device_id"]), 10, 64)
		v := float64(s.Value)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			continue // not one of ours
		}
		n := int64(math.Round(v))
		wq := string(s.Metric["wq"])
		switch {
		case wq == "probes":
			c := total[id]
			c.Probes = n
			total[id] = c
		case wq == "answered":
			c := total[id]
			c.Answered = n
			total[id] = c
		case len(wq) > 2:
			i, err := strconv.Atoi(wq[2:])
			if err != nil || i >= len(spans) || !covered[spans[i]][id] {
				continue
			}
			if wq[:2] == "xp" {
				xp[id] += n
			} else {
				xa[id] += n
			}
		}
	}
	for id, c := range total {
		c.Excluded = xp[id]
		c.Probes -= xp[id]
		c.Answered -= xa[id]
		total[id] = c
	}
	return total, nil
}

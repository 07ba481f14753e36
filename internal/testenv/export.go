package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Series is one raw series from /api/v1/export: its labels (__name__ included) and samples,
// oldest first.
type Series struct {
	Labels     map[string]string
	Timestamps []int64 // milliseconds
	Values     []float64
}

// ExportSeries returns every raw sample of the series matching match in [start, end], one Series
// per label set. Unlike Export it keeps values and labels, for checks on counters and label sets.
func (vm *VM) ExportSeries(match string, start, end time.Time) ([]Series, error) {
	q := url.Values{"match[]": {match}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)}}
	resp, err := http.Get(vm.URL + "/api/v1/export?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("cannot export %s: %w", match, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot export %s: status %s", match, resp.Status)
	}
	// A series may come in several lines (one per stored block): they are merged and sorted.
	byKey := map[string]*Series{}
	var keys []string
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Timestamps []int64           `json:"timestamps"`
			Values     []float64         `json:"values"`
		}
		if err := dec.Decode(&line); err != nil {
			return nil, fmt.Errorf("cannot decode export of %s: %w", match, err)
		}
		k := seriesKey(line.Metric)
		s := byKey[k]
		if s == nil {
			s = &Series{Labels: line.Metric}
			byKey[k] = s
			keys = append(keys, k)
		}
		s.Timestamps = append(s.Timestamps, line.Timestamps...)
		s.Values = append(s.Values, line.Values...)
	}
	out := make([]Series, 0, len(keys))
	for _, k := range keys {
		s := byKey[k]
		sort.Stable(byTime{s})
		out = append(out, *s)
	}
	return out, nil
}

func seriesKey(m map[string]string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(0)
		b.WriteString(m[n])
		b.WriteByte(0)
	}
	return b.String()
}

type byTime struct{ s *Series }

func (b byTime) Len() int           { return len(b.s.Timestamps) }
func (b byTime) Less(i, j int) bool { return b.s.Timestamps[i] < b.s.Timestamps[j] }
func (b byTime) Swap(i, j int) {
	b.s.Timestamps[i], b.s.Timestamps[j] = b.s.Timestamps[j], b.s.Timestamps[i]
	b.s.Values[i], b.s.Values[j] = b.s.Values[j], b.s.Values[i]
}

// ForceFlush makes every sample received so far searchable at once, instead of within the
// second or so VictoriaMetrics takes to flush its in-memory parts.
func (vm *VM) ForceFlush() error {
	resp, err := http.Get(vm.URL + "/internal/force_flush")
	if err != nil {
		return fmt.Errorf("cannot flush victoria-metrics: %w", err)
	}
	resp.Body.Close()
	return nil
}

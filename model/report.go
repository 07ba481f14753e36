package model

import (
	"sort"
	"time"
)

// Interval is the half-open span [Start, End).
type Interval struct {
	Start time.Time
	End   time.Time
}

// DeviceInterval is a span of one device's time, such as a maintenance occurrence that covers it.
type DeviceInterval struct {
	DeviceID int64
	Interval
}

// ProbeCounts are one device's probes over a report period: the counted ones (outside
// maintenance), how many of those were answered, and how many fell inside maintenance.
type ProbeCounts struct {
	Probes   int64
	Answered int64
	Excluded int64
}

// Occurrences returns the spans of the window that overlap [from, to), clipped to it, in order.
// A weekly window's start follows its time zone's daylight saving, as ActiveAt does.
func (w MaintenanceWindow) Occurrences(from, to time.Time) []Interval {
	var out []Interval
	add := func(s, e time.Time) {
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if s.Before(e) {
			out = append(out, Interval{Start: s, End: e})
		}
	}
	if w.StartsAt != nil && w.EndsAt != nil {
		add(*w.StartsAt, *w.EndsAt)
		return out
	}
	loc, err := time.LoadLocation(w.tz())
	if err != nil {
		return nil
	}
	st, err := time.Parse("15:04", w.StartTime)
	if err != nil || w.Duration <= 0 {
		return nil
	}
	// An occurrence that overlaps from started at most Duration before it.
	first := from.Add(-w.Duration).In(loc)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -1)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		start := time.Date(day.Year(), day.Month(), day.Day(), st.Hour(), st.Minute(), 0, 0, loc)
		if weekdayIn(int(start.Weekday()), w.Weekdays) {
			add(start.UTC(), start.Add(w.Duration).UTC())
		}
	}
	return out
}

// MergeIntervals returns the union of spans as disjoint spans in order, so that a probe covered by
// two overlapping windows is excluded once.
func MergeIntervals(in []Interval) []Interval {
	if len(in) == 0 {
		return nil
	}
	s := append([]Interval(nil), in...)
	sort.Slice(s, func(i, j int) bool { return s[i].Start.Before(s[j].Start) })
	out := []Interval{s[0]}
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if !iv.Start.After(last.End) {
			if iv.End.After(last.End) {
				last.End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

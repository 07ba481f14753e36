package model

import (
	"errors"
	"fmt"
	"time"
)

// Validate checks a window before it is written: a scope, a reason and who, and exactly one
// shape (one-off with an end after its start, or weekly with days, a start time and a duration in
// a known time zone).
func (w MaintenanceWindow) Validate() error {
	switch w.ScopeKind {
	case MaintenanceDevice, MaintenanceBranch, MaintenanceRegion:
	default:
		return fmt.Errorf("scope_kind %q: must be device, branch or region", w.ScopeKind)
	}
	if w.ScopeValue == "" || w.Reason == "" || w.CreatedBy == "" {
		return errors.New("scope_value, reason and created_by are required")
	}
	if _, err := time.LoadLocation(w.tz()); err != nil {
		return fmt.Errorf("time_zone %q: %w", w.TimeZone, err)
	}
	oneOff := w.StartsAt != nil || w.EndsAt != nil
	weekly := len(w.Weekdays) > 0 || w.StartTime != "" || w.Duration > 0
	switch {
	case oneOff == weekly:
		return errors.New("a window is either one-off (starts_at, ends_at) or weekly (weekdays, start_time, duration)")
	case oneOff:
		if w.StartsAt == nil || w.EndsAt == nil || !w.EndsAt.After(*w.StartsAt) {
			return errors.New("ends_at must be after starts_at")
		}
	default:
		if _, err := time.Parse("15:04", w.StartTime); err != nil {
			return fmt.Errorf("start_time %q: must be HH:MM", w.StartTime)
		}
		if w.Duration <= 0 || w.Duration > 7*24*time.Hour {
			return errors.New("duration must be positive and at most a week")
		}
		for _, d := range w.Weekdays {
			if d < 0 || d > 6 {
				return fmt.Errorf("weekday %d: must be 0 (Sunday) to 6", d)
			}
		}
	}
	return nil
}

func (w MaintenanceWindow) tz() string {
	if w.TimeZone == "" {
		return "UTC"
	}
	return w.TimeZone
}

// ActiveAt reports whether the window covers t, and if so when that occurrence ends. A weekly
// window starts at StartTime local time on each listed weekday (so it follows daylight saving)
// and may run past midnight.
func (w MaintenanceWindow) ActiveAt(t time.Time) (bool, time.Time) {
	if w.StartsAt != nil && w.EndsAt != nil {
		if !t.Before(*w.StartsAt) && t.Before(*w.EndsAt) {
			return true, *w.EndsAt
		}
		return false, time.Time{}
	}
	loc, err := time.LoadLocation(w.tz())
	if err != nil {
		return false, time.Time{}
	}
	st, err := time.Parse("15:04", w.StartTime)
	if err != nil || w.Duration <= 0 {
		return false, time.Time{}
	}
	lt := t.In(loc)
	// An occurrence covering t started at most Duration ago: look back over the days that could
	// hold its start.
	for back := 0; back <= int(w.Duration/(24*time.Hour))+1; back++ {
		day := lt.AddDate(0, 0, -back)
		start := time.Date(day.Year(), day.Month(), day.Day(), st.Hour(), st.Minute(), 0, 0, loc)
		if !weekdayIn(int(start.Weekday()), w.Weekdays) {
			continue
		}
		end := start.Add(w.Duration)
		if !t.Before(start) && t.Before(end) {
			return true, end
		}
	}
	return false, time.Time{}
}

func weekdayIn(d int, ds []int) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

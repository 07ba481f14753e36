package store

import "time"

// This file holds what store/alertrules.go and store/maintenance.go (copied unchanged from the
// evaluator's branch, alerting) take from that branch's store/alertstate.go. At merge, delete it.

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

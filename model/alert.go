package model

import "time"

// Alert is an alert_history row not yet resolved, with its rule and device named.
type Alert struct {
	ID             int64
	DeviceID       int64
	Device         string
	RuleID         int64
	Rule           string
	Severity       string
	FiredAt        time.Time
	AcknowledgedAt *time.Time
	AcknowledgedBy string
	Value          *float64
	Summary        string
}

package model

import "time"

// Alert is an alert_history row not yet resolved, with its rule and device named.
type Alert struct {
	ID int64
	// State is firing, suppressed or acknowledged (see StateFiring); Source is wardops or
	// alertmanager. SuppressedBy is the device whose outage holds the alert, 0 when none; AckActive
	// says whether AcknowledgedAt's acknowledgement still holds.
	State          string
	Source         string
	SuppressedBy   int64
	AckActive      bool
	AckNote        string
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

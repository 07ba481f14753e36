package model

import (
	"errors"
	"fmt"
	"time"
)

// Alert states as the alerts API and the NOC page show them. An open alert is acknowledged while
// its acknowledgement holds, else suppressed when a root cause holds it, else firing.
const (
	StateFiring       = "firing"
	StateResolved     = "resolved"
	StateSuppressed   = "suppressed"
	StateAcknowledged = "acknowledged"
)

// Alert sources: raised by wardops' own evaluator, or received from an Alertmanager webhook.
const (
	SourceWardops      = "wardops"
	SourceAlertmanager = "alertmanager"
)

// SeverityRank orders severities; an acknowledgement stops holding when its alert's rank rises.
func SeverityRank(s string) int {
	switch s {
	case "info":
		return 1
	case "warning":
		return 2
	case "critical":
		return 3
	}
	return 0
}

// AlertFilter selects alerts for the alerts list. Zero values select everything.
type AlertFilter struct {
	State    string // one of the State* constants
	Severity string
	Branch   string
	Region   string
	DeviceID int64
	Source   string
	Limit    int
	Offset   int
}

// AlertEntry is one alert_history row as the alerts API shows it.
type AlertEntry struct {
	ID           int64
	Source       string
	State        string
	RuleID       int64 // 0: none (an alert received from Alertmanager)
	Name         string
	Severity     string
	DeviceID     int64 // 0: no known device
	Device       string
	Branch       string
	Region       string
	FiredAt      time.Time
	ResolvedAt   *time.Time
	Summary      string
	Fingerprint  string
	Labels       map[string]string
	Annotations  map[string]string
	SuppressedBy int64 // the device whose outage holds this alert; 0: none
	HoldReason   string
	GeneratorURL string
	Ack          *Ack // the last acknowledgement, whether or not it still holds
}

// Ack is an acknowledgement: who (the API token's name), when, why, until when, and whether it
// still holds (not expired, the alert open and not worse than when acknowledged).
type Ack struct {
	By        string
	At        time.Time
	Note      string
	ExpiresAt *time.Time
	Severity  string // the alert's severity when acknowledged
	Active    bool
	Silences  []string // Alertmanager silences mirroring it, "URL ID"
}

// AckRequest acknowledges one alert.
type AckRequest struct {
	AlertID   int64
	By        string
	Note      string
	ExpiresAt *time.Time
}

// ErrAlertResolved is returned for an acknowledgement of an alert that has already cleared.
var ErrAlertResolved = errors.New("alert already resolved")

// ErrNotAcknowledged is returned when un-acknowledging an alert nobody acknowledged.
var ErrNotAcknowledged = errors.New("alert is not acknowledged")

// WebhookMessage is one Alertmanager webhook notification (payload version 4), reduced to what
// is stored.
type WebhookMessage struct {
	Receiver        string
	Status          string
	GroupKey        string
	ExternalURL     string
	TruncatedAlerts int
	Alerts          []WebhookAlert
}

// WebhookAlert is one alert of a notification. EndsAt is only meaningful when Status is resolved.
type WebhookAlert struct {
	Status       string
	Fingerprint  string
	StartsAt     time.Time
	EndsAt       time.Time
	Labels       map[string]string
	Annotations  map[string]string
	GeneratorURL string
}

// WebhookResult counts what a notification changed: alerts newly recorded, resolved, or updated
// (labels or severity); an unchanged redelivery counts nothing.
type WebhookResult struct {
	Inserted  int
	Resolved  int
	Updated   int
	Unchanged int
	Own       int // wardops' own alerts echoed back by Alertmanager: not recorded twice
}

// AuditEntry is one audit_log row. Detail is canonical JSON (encoding/json of a map: sorted keys).
type AuditEntry struct {
	Seq        int64
	At         time.Time
	Actor      string
	Action     string
	ObjectKind string
	ObjectID   string
	Detail     string
	PrevHash   []byte
	Hash       []byte
}

// Audit actions.
const (
	AuditAck               = "alert.ack"
	AuditUnack             = "alert.unack"
	AuditRuleCreate        = "rule.create"
	AuditRuleUpdate        = "rule.update"
	AuditRuleDelete        = "rule.delete"
	AuditMaintenanceCreate = "maintenance.create"
	AuditMaintenanceUpdate = "maintenance.update"
	AuditMaintenanceDelete = "maintenance.delete"
)

// AuditChange is what a change appends to the audit log; the store fills in seq, time and hashes.
type AuditChange struct {
	Actor      string
	Action     string
	ObjectKind string
	ObjectID   string
	Detail     map[string]any
}

// ChainError says where the audit chain breaks: the first row whose stored hashes disagree with
// the recomputed ones, or a gap in the sequence.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

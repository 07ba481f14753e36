package model

import "time"

// This file is a copy of the rule and maintenance types from the evaluator's branch (alerting,
// model/alert.go), so the rules and maintenance API can be built beside it. At merge, delete this
// file: the evaluator's model/alert.go declares the same names.

// Rule kinds. device_down, flapping and blind are evaluated on ping_results as probes land; the
// others are one MetricsQL query per rule per evaluation against VictoriaMetrics.
const (
	RuleManual          = "manual"
	RuleDeviceDown      = "device_down"
	RuleFlapping        = "flapping"
	RuleBlind           = "blind"
	RuleHighRTT         = "high_rtt"
	RulePacketLoss      = "packet_loss"
	RuleIfOperDown      = "if_oper_down"
	RuleIfErrors        = "if_errors"
	RuleRebooted        = "rebooted"
	RuleSNMPUnreachable = "snmp_unreachable"
	RuleExpr            = "expr"
)

// Scope kinds of a rule: which devices it applies to.
const (
	ScopeAll        = "all"
	ScopeRegion     = "region"
	ScopeBranch     = "branch"
	ScopeVendor     = "vendor"
	ScopeDeviceType = "device_type"
	ScopeDevice     = "device" // ScopeValue is the device id
)

// Rule is an alert_rules row.
type Rule struct {
	ID          int64
	Name        string // the alertname label
	Kind        string
	Expr        string // MetricsQL, for RuleExpr only
	Comparison  string // ">" fires above Threshold, "<" below
	Threshold   *float64
	Recovery    *float64 // the value must get back past this to resolve (hysteresis); nil: Threshold
	Window      time.Duration
	For         time.Duration
	Severity    string // info, warning, critical
	ScopeKind   string
	ScopeValue  string
	Labels      map[string]string // added to every alert of the rule
	Description string
	Enabled     bool
	// The last evaluation: when, "ok", "no_data" (VictoriaMetrics answered nothing: open alerts
	// are kept) or "error" (with LastError).
	LastEvalAt    *time.Time
	LastEvalState string
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Hold reasons: why an open alert has not been notified.
const (
	HoldNone        = ""
	HoldSuppressed  = "suppressed"  // its parents are all down: the root cause pages instead
	HoldMaintenance = "maintenance" // the device, its branch or region, or a parent is in maintenance
	HoldFlapping    = "flapping"    // the device flaps: notified once as DeviceFlapping instead
	HoldUnsettled   = "unsettled"   // it changed state shortly before: it pages once it stays down
	HoldBlind       = "blind"       // most of the fleet failed at once: MonitoringBlind pages instead
)

// Maintenance scope kinds.
const (
	MaintenanceDevice = "device" // ScopeValue is the device id
	MaintenanceBranch = "branch" // the branch name
	MaintenanceRegion = "region"
)

// MaintenanceWindow is a maintenance_windows row: one-off (StartsAt..EndsAt) or weekly
// (Weekdays, StartTime "15:04", Duration, in TimeZone).
type MaintenanceWindow struct {
	ID         int64
	ScopeKind  string
	ScopeValue string
	StartsAt   *time.Time
	EndsAt     *time.Time
	Weekdays   []int // 0 = Sunday
	StartTime  string
	Duration   time.Duration
	TimeZone   string
	Reason     string
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

package model

import (
	"errors"
	"time"
)

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

// Breaches reports whether v is on the firing side of the threshold; Recovered whether an open
// alert's value is back past the recovery threshold.
func (r Rule) Breaches(v float64) bool {
	if r.Threshold == nil {
		return false
	}
	if r.Comparison == "<" {
		return v < *r.Threshold
	}
	return v > *r.Threshold
}

// Recovered reports whether an open alert with value v resolves.
func (r Rule) Recovered(v float64) bool {
	t := r.Threshold
	if r.Recovery != nil {
		t = r.Recovery
	}
	if t == nil {
		return true
	}
	if r.Comparison == "<" {
		return v >= *t
	}
	return v <= *t
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

// AlertRecord is an alert_history row as the evaluator and the notifier see it.
type AlertRecord struct {
	ID           int64
	RuleID       int64
	DeviceID     int64 // 0: no device
	Instance     string
	Severity     string
	FiredAt      time.Time // startsAt: the first failed probe, or when the condition started
	OpenedAt     time.Time // when wardops opened the alert
	ResolvedAt   *time.Time
	NotifiedAt   *time.Time
	HoldReason   string
	SuppressedBy int64 // 0: none
	Value        *float64
	Fingerprint  string
	Summary      string
	Labels       map[string]string
	Annotations  map[string]string
}

// Open reports whether the alert is not resolved.
func (a AlertRecord) Open() bool { return a.ResolvedAt == nil }

// DeviceNode is a device as alerting needs it: its labels and parents.
type DeviceNode struct {
	ID           int64
	Name         string
	IP           string
	Branch       string
	Region       string
	Vendor       string
	DeviceType   string
	Enabled      bool
	SNMP         bool          // polled over SNMP (it has an SNMP version)
	PingInterval time.Duration // 0: the default
	Parents      []int64
}

// DeviceState is the evaluator's view of a device's probes: up or down since when, the newest
// probe, the last states (bit 0 the newest, 1 = down) and whether it is flapping.
type DeviceState struct {
	DeviceID   int64
	Up         bool
	Since      time.Time // first probe of the current state
	LastProbe  time.Time
	History    uint64
	HistoryLen int
	Flapping   bool
}

// ProbeState is one ping_results row reduced to what the alerter reads: down detection its
// reachability, the HighRTT and PacketLoss rules its RTT and loss.
type ProbeState struct {
	DeviceID  int64
	Timestamp time.Time
	Up        bool
	RTTMs     float64 // mean RTT of the answered echoes; NaN when none was answered
	Loss      float64 // lost / sent, 0..1
}

// Pending is a threshold rule's condition that holds but has not lasted its `for` yet.
type Pending struct {
	RuleID      int64
	DeviceID    int64
	Instance    string
	ActiveSince time.Time
	Value       *float64
}

// Notification is one alert as Alertmanager's POST /api/v2/alerts takes it.
type Notification struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// OutboxEntry is a notification waiting for one Alertmanager.
type OutboxEntry struct {
	ID          int64
	Receiver    string
	AlertID     int64
	Fingerprint string
	Resolved    bool
	Payload     Notification
	CreatedAt   time.Time
	Attempts    int
}

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

// ErrParentCycle is returned when parents would make a device its own ancestor.
var ErrParentCycle = errors.New("parent cycle")

// SNMPState is a device's latest SNMP poll reduced to what the SNMP alert rules judge. The
// collector writes one per poll to snmp_states (the newest per device is kept); the alerter reads
// those written since its last cycle, so the SNMP rules cost no VictoriaMetrics query.
type SNMPState struct {
	DeviceID int64
	PolledAt time.Time
	Up       bool // every request of the poll succeeded
	// LastOK is the newest successful poll and RebootedAt the newest poll that saw sysUpTime go
	// back; zero when never. The store keeps them across polls that do not move them.
	LastOK, RebootedAt time.Time
	// InterfacesAt is the poll the interfaces were read at: a failed poll that read none keeps
	// the previous poll's.
	InterfacesAt time.Time
	// Interfaces are the IF-MIB rows' labels and status. They seldom change (InterfacesChanged
	// is when they last did, by the database's clock), so a reader that holds that version
	// skips them (InterfacesRead false) and keeps its own.
	Interfaces        []InterfaceState
	InterfacesChanged time.Time
	InterfacesRead    bool
	// ErrorRates are in + out interface errors per second since the collector's previous poll,
	// in Interfaces' order; NaN where there is none (a first poll, a counter that went back).
	ErrorRates []float64
}

// InterfaceState is one IF-MIB row of an SNMPState.
type InterfaceState struct {
	// Labels are the row's own labels (index and the profile's label columns, as on its series),
	// without the device's.
	Labels map[string]string `json:"labels"`
	Oper   int               `json:"oper,omitempty"`  // ifOperStatus; 0 when not read
	Admin  int               `json:"admin,omitempty"` // ifAdminStatus; 0 when not read
}

package query

import (
	"context"
	"net/netip"
	"time"

	"github.com/wardops/wardops/model"
)

// Each handler group takes only the store methods it calls, so a reader of one file sees every
// PostgreSQL query that group can make, and a new endpoint adds one method to one interface.

// FleetStore is what a snapshot build reads: the inventory, its fingerprint, open alerts, and
// ping_results: every device's newest row, and the rows that landed since a time.
type FleetStore interface {
	InventoryVersion(ctx context.Context) (model.InventoryVersion, error)
	ListDeviceSummaries(ctx context.Context) ([]model.DeviceSummary, error)
	OpenAlerts(ctx context.Context, deviceID int64, limit int) ([]model.Alert, int, error)
	DownSince(ctx context.Context, ids []int64, since time.Time) (map[int64]time.Time, error)
	ProbeStates(ctx context.Context, since time.Time) ([]model.ProbeState, error)
	LatestPings(ctx context.Context, since time.Time) (map[int64]model.LatestPing, error)
}

// DeviceReader is what the device read endpoints need beyond the snapshot.
type DeviceReader interface {
	GetDevice(ctx context.Context, id int64) (model.Device, error)
	DeviceItems(ctx context.Context, deviceID int64) ([]model.Item, error)
	OpenAlerts(ctx context.Context, deviceID int64, limit int) ([]model.Alert, int, error)
	PingHistory(ctx context.Context, ip netip.Addr, from, to time.Time, limit int) ([]model.PingResult, error)
	ListAlerts(ctx context.Context, f model.AlertFilter) ([]model.AlertEntry, int, error)
}

// DeviceWriter is what device writes need: the write itself and the row it answers with.
type DeviceWriter interface {
	GetDevice(ctx context.Context, id int64) (model.Device, error)
	CreateDevice(ctx context.Context, in model.DeviceChange) (int64, error)
	UpdateDevice(ctx context.Context, id int64, in model.DeviceChange) error
	DeleteDevice(ctx context.Context, id int64) error
}

// BranchStore is what the branch endpoints need.
type BranchStore interface {
	ListBranches(ctx context.Context) ([]model.Branch, error)
	GetBranch(ctx context.Context, id int64) (model.Branch, error)
	CreateBranch(ctx context.Context, name, region string) (model.Branch, error)
	UpdateBranch(ctx context.Context, id int64, name, region string) (model.Branch, error)
	DeleteBranch(ctx context.Context, id int64) error
}

// TokenStore checks an API token by the hash of its secret.
type TokenStore interface {
	UseToken(ctx context.Context, hash []byte) (model.Token, error)
}

// AlertStore is what the alerts list and acknowledgements need.
type AlertStore interface {
	ListAlerts(ctx context.Context, f model.AlertFilter) ([]model.AlertEntry, int, error)
	GetAlert(ctx context.Context, id int64) (model.AlertEntry, error)
	AckAlert(ctx context.Context, r model.AckRequest) error
	UnackAlert(ctx context.Context, id int64, by, note string) ([]string, error)
	SetAckSilences(ctx context.Context, id int64, silences []string) error
}

// WebhookStore records Alertmanager webhook notifications.
type WebhookStore interface {
	RecordWebhook(ctx context.Context, m model.WebhookMessage) (model.WebhookResult, error)
}

// RuleStore is what the alert-rules endpoints need; every write is audited in its transaction.
type RuleStore interface {
	AlertRules(ctx context.Context) ([]model.Rule, error)
	AlertRule(ctx context.Context, id int64) (model.Rule, error)
	CreateRuleAudited(ctx context.Context, r model.Rule, by string) (int64, error)
	UpdateRuleAudited(ctx context.Context, r model.Rule, by string) error
	DeleteRuleAudited(ctx context.Context, id int64, by string) error
}

// MaintenanceStore is what the maintenance endpoints need; every write is audited.
type MaintenanceStore interface {
	MaintenanceWindows(ctx context.Context, endedAfter time.Time) ([]model.MaintenanceWindow, error)
	MaintenanceWindow(ctx context.Context, id int64) (model.MaintenanceWindow, error)
	CreateMaintenanceAudited(ctx context.Context, w model.MaintenanceWindow, by string) (int64, error)
	UpdateMaintenanceAudited(ctx context.Context, w model.MaintenanceWindow, by string) error
	DeleteMaintenanceAudited(ctx context.Context, id int64, by string) error
}

// Pinger is the health check's PostgreSQL liveness probe.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Store is every store method the service calls; *store.Store implements it, and New hands each
// handler group only its own part.
type Store interface {
	FleetStore
	DeviceReader
	DeviceWriter
	BranchStore
	TokenStore
	CollectorStore
	Pinger
	AlertStore
	WebhookStore
	RuleStore
	MaintenanceStore
	ReportStore
}

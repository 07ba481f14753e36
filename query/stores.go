package query

import (
	"context"
	"net/netip"
	"time"

	"github.com/wardops/wardops/model"
)

// Each handler group takes only the store methods it calls, so a reader of one file sees every
// PostgreSQL query that group can make, and a new endpoint adds one method to one interface.

// FleetStore is what a snapshot build reads: the inventory, its fingerprint, open alerts and the
// ping_results fallback.
type FleetStore interface {
	InventoryVersion(ctx context.Context) (model.InventoryVersion, error)
	ListDeviceSummaries(ctx context.Context) ([]model.DeviceSummary, error)
	OpenAlerts(ctx context.Context, deviceID int64, limit int) ([]model.Alert, int, error)
	DownSince(ctx context.Context, ids []int64, since time.Time) (map[int64]time.Time, error)
	LatestPings(ctx context.Context, since time.Time) (map[int64]model.LatestPing, error)
}

// DeviceReader is what the device read endpoints need beyond the snapshot.
type DeviceReader interface {
	GetDevice(ctx context.Context, id int64) (model.Device, error)
	DeviceItems(ctx context.Context, deviceID int64) ([]model.Item, error)
	OpenAlerts(ctx context.Context, deviceID int64, limit int) ([]model.Alert, int, error)
	PingHistory(ctx context.Context, ip netip.Addr, from, to time.Time, limit int) ([]model.PingResult, error)
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
}

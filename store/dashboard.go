package store

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

// ListDeviceSummaries returns every device, enabled or not, ordered by id, in one query.
func (s *Store) ListDeviceSummaries(ctx context.Context) ([]model.DeviceSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.name, d.ip, d.vendor, d.device_type, COALESCE(d.branch_id, 0),
			COALESCE(b.name, ''), COALESCE(b.region, ''), d.enabled, d.parent_device_id, COALESCE(d.ping_interval_seconds, 0)
		FROM standalone_devices d LEFT JOIN branches b ON b.id = d.branch_id ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list devices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.DeviceSummary, error) {
		var d model.DeviceSummary
		var ip netip.Prefix
		var sec int
		err := r.Scan(&d.ID, &d.Name, &ip, &d.Vendor, &d.DeviceType, &d.BranchID, &d.Branch, &d.Region, &d.Enabled, &d.ParentID, &sec)
		d.IP, d.PingInterval = ip.Addr(), time.Duration(sec)*time.Second
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list devices: %w", err)
	}
	return out, nil
}

// InventoryVersion reads the fingerprint: one row, kept by the tables' triggers.
func (s *Store) InventoryVersion(ctx context.Context) (model.InventoryVersion, error) {
	var v model.InventoryVersion
	if err := s.pool.QueryRow(ctx, `SELECT version FROM inventory_version`).Scan(&v); err != nil {
		return v, fmt.Errorf("cannot read inventory version: %w", err)
	}
	return v, nil
}

// DownSince returns, for each of the given devices, the time of its first failed probe after its
// last successful one, looking back no further than since (a device down for longer gets the
// oldest failed probe in the window). One query for the whole set, on
// idx_ping_results_device_timestamp; devices with no failed probe are absent.
func (s *Store) DownSince(ctx context.Context, ids []int64, since time.Time) (map[int64]time.Time, error) {
	out := make(map[int64]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT d.id, (
			SELECT min(x.timestamp) FROM ping_results x
			WHERE x.device_ip = d.ip AND x.timestamp >= $2 AND NOT x.is_reachable
			AND x.timestamp > COALESCE((SELECT max(u.timestamp) FROM ping_results u
				WHERE u.device_ip = d.ip AND u.is_reachable AND u.timestamp >= $2), '-infinity'))
		FROM standalone_devices d WHERE d.id = ANY($1)`, ids, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read down times: %w", err)
	}
	var id int64
	var t *time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &t}, func() error {
		if t != nil {
			out[id] = t.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read down times: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

// OpenAlerts returns the open alerts, newest first, at most limit of them, and how many are open
// in all. deviceID 0 means the whole fleet. One query either way.
func (s *Store) OpenAlerts(ctx context.Context, deviceID int64, limit int) ([]model.Alert, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.id, COALESCE(a.device_id, 0), COALESCE(d.name, ''), a.rule_id, r.name, a.severity, a.fired_at,
			a.acknowledged_at, COALESCE(a.acknowledged_by, ''), a.value, a.summary, count(*) OVER ()
		FROM alert_history a
		LEFT JOIN standalone_devices d ON d.id = a.device_id
		JOIN alert_rules r ON r.id = a.rule_id
		WHERE a.resolved_at IS NULL AND ($1 = 0 OR a.device_id = $1)
		ORDER BY a.fired_at DESC, a.id DESC LIMIT $2`, deviceID, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list open alerts: %w", err)
	}
	total := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Alert, error) {
		var a model.Alert
		err := r.Scan(&a.ID, &a.DeviceID, &a.Device, &a.RuleID, &a.Rule, &a.Severity, &a.FiredAt,
			&a.AcknowledgedAt, &a.AcknowledgedBy, &a.Value, &a.Summary, &total)
		a.FiredAt = a.FiredAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list open alerts: %w", err)
	}
	return out, total, nil
}

// FireAlert opens an alert for a device under the named rule (created as kind "manual" when it
// does not exist) and returns its id. An alert already open for that device and rule is kept.
func (s *Store) FireAlert(ctx context.Context, deviceID int64, rule, severity, summary string, firedAt time.Time) (int64, error) {
	var id int64
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var ruleID int64
		if err := tx.QueryRow(ctx, `INSERT INTO alert_rules (name, kind, severity) VALUES ($1, 'manual', $2)
			ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, rule, severity).Scan(&ruleID); err != nil {
			return interpretError(err)
		}
		return tx.QueryRow(ctx, `INSERT INTO alert_history (device_id, rule_id, fired_at, severity, summary)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (rule_id, COALESCE(device_id, 0), instance) WHERE resolved_at IS NULL DO UPDATE SET summary = excluded.summary
			RETURNING id`, deviceID, ruleID, firedAt.UTC(), severity, summary).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("cannot fire alert %q for device %d: %w", rule, deviceID, err)
	}
	return id, nil
}

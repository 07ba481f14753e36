package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/model"
)

// The API's rule and maintenance writes: each change and its audit row in one transaction, the
// audit detail holding the row before and after, so the log alone tells what changed.

func ruleDetail(r model.Rule) map[string]any {
	return map[string]any{"name": r.Name, "kind": r.Kind, "expr": r.Expr, "comparison": r.Comparison,
		"threshold": r.Threshold, "recovery_threshold": r.Recovery, "window_seconds": int(r.Window.Seconds()),
		"for_seconds": int(r.For.Seconds()), "severity": r.Severity, "scope_kind": r.ScopeKind,
		"scope_value": r.ScopeValue, "labels": nonNil(r.Labels), "description": r.Description, "enabled": r.Enabled}
}

func maintenanceDetail(w model.MaintenanceWindow) map[string]any {
	return map[string]any{"scope_kind": w.ScopeKind, "scope_value": w.ScopeValue, "starts_at": utcPtr(w.StartsAt),
		"ends_at": utcPtr(w.EndsAt), "weekdays": w.Weekdays, "start_time": w.StartTime,
		"duration_seconds": int(w.Duration.Seconds()), "time_zone": w.TimeZone, "reason": w.Reason, "created_by": w.CreatedBy}
}

// CreateRuleAudited inserts a rule as CreateAlertRule does and audits it as by.
func (s *Store) CreateRuleAudited(ctx context.Context, r model.Rule, by string) (int64, error) {
	labels, err := json.Marshal(nonNil(r.Labels))
	if err != nil {
		return 0, fmt.Errorf("cannot create alert rule %q: %w", r.Name, err)
	}
	var id int64
	err = s.WithTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO alert_rules (name, kind, expr, comparison, threshold, recovery_threshold,
				window_seconds, for_seconds, severity, scope_kind, scope_value, labels, description, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			r.Name, r.Kind, r.Expr, orDefault(r.Comparison, ">"), r.Threshold, r.Recovery, int(r.Window.Seconds()),
			int(r.For.Seconds()), orDefault(r.Severity, "warning"), orDefault(r.ScopeKind, model.ScopeAll), r.ScopeValue,
			labels, r.Description, r.Enabled).Scan(&id)
		if err != nil {
			return ruleError(err)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditRuleCreate, ObjectKind: "alert_rule",
			ObjectID: strconv.FormatInt(id, 10), Detail: map[string]any{"after": ruleDetail(r)}})
	})
	if err != nil {
		return 0, fmt.Errorf("cannot create alert rule %q: %w", r.Name, err)
	}
	return id, nil
}

// UpdateRuleAudited replaces every editable field of rule r.ID and audits it as by.
func (s *Store) UpdateRuleAudited(ctx context.Context, r model.Rule, by string) error {
	labels, err := json.Marshal(nonNil(r.Labels))
	if err != nil {
		return fmt.Errorf("cannot update alert rule %d: %w", r.ID, err)
	}
	err = s.WithTx(ctx, func(tx pgx.Tx) error {
		before, err := scanRule(tx.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1 FOR UPDATE`, r.ID))
		if err != nil {
			return interpretError(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE alert_rules SET name = $2, kind = $3, expr = $4, comparison = $5,
				threshold = $6, recovery_threshold = $7, window_seconds = $8, for_seconds = $9, severity = $10,
				scope_kind = $11, scope_value = $12, labels = $13, description = $14, enabled = $15, updated_at = now()
			WHERE id = $1`, r.ID, r.Name, r.Kind, r.Expr, orDefault(r.Comparison, ">"), r.Threshold, r.Recovery,
			int(r.Window.Seconds()), int(r.For.Seconds()), orDefault(r.Severity, "warning"),
			orDefault(r.ScopeKind, model.ScopeAll), r.ScopeValue, labels, r.Description, r.Enabled); err != nil {
			return ruleError(err)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditRuleUpdate, ObjectKind: "alert_rule",
			ObjectID: strconv.FormatInt(r.ID, 10), Detail: map[string]any{"before": ruleDetail(before), "after": ruleDetail(r)}})
	})
	if err != nil {
		return fmt.Errorf("cannot update alert rule %d: %w", r.ID, err)
	}
	return nil
}

// DeleteRuleAudited deletes a rule (and with it its alerts' history) and audits it as by.
func (s *Store) DeleteRuleAudited(ctx context.Context, id int64, by string) error {
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		before, err := scanRule(tx.QueryRow(ctx, `DELETE FROM alert_rules WHERE id = $1 RETURNING `+ruleColumns, id))
		if err != nil {
			return interpretError(err)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditRuleDelete, ObjectKind: "alert_rule",
			ObjectID: strconv.FormatInt(id, 10), Detail: map[string]any{"before": ruleDetail(before)}})
	})
	if err != nil {
		return fmt.Errorf("cannot delete alert rule %d: %w", id, err)
	}
	return nil
}

// CreateMaintenanceAudited inserts a window (validated by the caller) and audits it as by.
func (s *Store) CreateMaintenanceAudited(ctx context.Context, w model.MaintenanceWindow, by string) (int64, error) {
	var id int64
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO maintenance_windows (scope_kind, scope_value, starts_at, ends_at, weekdays,
				start_time, duration_seconds, time_zone, reason, created_by)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::time, NULLIF($7, 0), $8, $9, $10) RETURNING id`,
			w.ScopeKind, w.ScopeValue, utcPtr(w.StartsAt), utcPtr(w.EndsAt), weekdays(w.Weekdays), w.StartTime,
			int(w.Duration.Seconds()), orDefault(w.TimeZone, "UTC"), w.Reason, w.CreatedBy).Scan(&id)
		if err != nil {
			return ruleError(err)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditMaintenanceCreate, ObjectKind: "maintenance_window",
			ObjectID: strconv.FormatInt(id, 10), Detail: map[string]any{"after": maintenanceDetail(w)}})
	})
	if err != nil {
		return 0, fmt.Errorf("cannot create maintenance window: %w", err)
	}
	return id, nil
}

// UpdateMaintenanceAudited replaces window w.ID (created_by is kept) and audits it as by.
func (s *Store) UpdateMaintenanceAudited(ctx context.Context, w model.MaintenanceWindow, by string) error {
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		before, err := scanMaintenance(tx.QueryRow(ctx, `SELECT `+maintenanceColumns+` FROM maintenance_windows WHERE id = $1 FOR UPDATE`, w.ID))
		if err != nil {
			return interpretError(err)
		}
		w.CreatedBy = before.CreatedBy
		if _, err := tx.Exec(ctx, `UPDATE maintenance_windows SET scope_kind = $2, scope_value = $3, starts_at = $4,
				ends_at = $5, weekdays = $6, start_time = NULLIF($7, '')::time, duration_seconds = NULLIF($8, 0),
				time_zone = $9, reason = $10, updated_at = now() WHERE id = $1`,
			w.ID, w.ScopeKind, w.ScopeValue, utcPtr(w.StartsAt), utcPtr(w.EndsAt), weekdays(w.Weekdays), w.StartTime,
			int(w.Duration.Seconds()), orDefault(w.TimeZone, "UTC"), w.Reason); err != nil {
			return ruleError(err)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditMaintenanceUpdate, ObjectKind: "maintenance_window",
			ObjectID: strconv.FormatInt(w.ID, 10), Detail: map[string]any{"before": maintenanceDetail(before), "after": maintenanceDetail(w)}})
	})
	if err != nil {
		return fmt.Errorf("cannot update maintenance window %d: %w", w.ID, err)
	}
	return nil
}

// DeleteMaintenanceAudited deletes a window and audits it as by.
func (s *Store) DeleteMaintenanceAudited(ctx context.Context, id int64, by string) error {
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		before, err := scanMaintenance(tx.QueryRow(ctx, `DELETE FROM maintenance_windows WHERE id = $1 RETURNING `+maintenanceColumns, id))
		if err != nil {
			return interpretError(err)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditMaintenanceDelete, ObjectKind: "maintenance_window",
			ObjectID: strconv.FormatInt(id, 10), Detail: map[string]any{"before": maintenanceDetail(before)}})
	})
	if err != nil {
		return fmt.Errorf("cannot delete maintenance window %d: %w", id, err)
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

const maintenanceColumns = `id, scope_kind, scope_value, starts_at, ends_at, weekdays, COALESCE(to_char(start_time, 'HH24:MI'), ''),
	COALESCE(duration_seconds, 0), time_zone, reason, created_by, created_at, updated_at`

func scanMaintenance(r pgx.Row) (model.MaintenanceWindow, error) {
	var w model.MaintenanceWindow
	var days []int16
	var dur int
	err := r.Scan(&w.ID, &w.ScopeKind, &w.ScopeValue, &w.StartsAt, &w.EndsAt, &days, &w.StartTime, &dur, &w.TimeZone,
		&w.Reason, &w.CreatedBy, &w.CreatedAt, &w.UpdatedAt)
	for _, d := range days {
		w.Weekdays = append(w.Weekdays, int(d))
	}
	w.Duration = time.Duration(dur) * time.Second
	return w, err
}

// MaintenanceWindows returns every window, one-off windows that ended before endedAfter left out.
func (s *Store) MaintenanceWindows(ctx context.Context, endedAfter time.Time) ([]model.MaintenanceWindow, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+maintenanceColumns+` FROM maintenance_windows
		WHERE ends_at IS NULL OR ends_at > $1 ORDER BY id`, endedAfter.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot list maintenance windows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.MaintenanceWindow, error) { return scanMaintenance(r) })
	if err != nil {
		return nil, fmt.Errorf("cannot list maintenance windows: %w", err)
	}
	return out, nil
}

// MaintenanceWindow returns one window or model.ErrNotFound.
func (s *Store) MaintenanceWindow(ctx context.Context, id int64) (model.MaintenanceWindow, error) {
	w, err := scanMaintenance(s.pool.QueryRow(ctx, `SELECT `+maintenanceColumns+` FROM maintenance_windows WHERE id = $1`, id))
	if err != nil {
		return w, fmt.Errorf("cannot read maintenance window %d: %w", id, interpretError(err))
	}
	return w, nil
}

// CreateMaintenanceWindow inserts a window and returns its id. Callers validate it first
// (model.MaintenanceWindow.Validate); the table's constraints are the last word.
func (s *Store) CreateMaintenanceWindow(ctx context.Context, w model.MaintenanceWindow) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO maintenance_windows (scope_kind, scope_value, starts_at, ends_at, weekdays,
			start_time, duration_seconds, time_zone, reason, created_by)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::time, NULLIF($7, 0), $8, $9, $10) RETURNING id`,
		w.ScopeKind, w.ScopeValue, utcPtr(w.StartsAt), utcPtr(w.EndsAt), weekdays(w.Weekdays), w.StartTime,
		int(w.Duration.Seconds()), orDefault(w.TimeZone, "UTC"), w.Reason, w.CreatedBy).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("cannot create maintenance window: %w", ruleError(err))
	}
	return id, nil
}

// UpdateMaintenanceWindow replaces window w.ID (created_by is kept).
func (s *Store) UpdateMaintenanceWindow(ctx context.Context, w model.MaintenanceWindow) error {
	tag, err := s.pool.Exec(ctx, `UPDATE maintenance_windows SET scope_kind = $2, scope_value = $3, starts_at = $4,
			ends_at = $5, weekdays = $6, start_time = NULLIF($7, '')::time, duration_seconds = NULLIF($8, 0),
			time_zone = $9, reason = $10, updated_at = now() WHERE id = $1`,
		w.ID, w.ScopeKind, w.ScopeValue, utcPtr(w.StartsAt), utcPtr(w.EndsAt), weekdays(w.Weekdays), w.StartTime,
		int(w.Duration.Seconds()), orDefault(w.TimeZone, "UTC"), w.Reason)
	if err != nil {
		return fmt.Errorf("cannot update maintenance window %d: %w", w.ID, ruleError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot update maintenance window %d: %w", w.ID, model.ErrNotFound)
	}
	return nil
}

// DeleteMaintenanceWindow deletes a window; alerts it held are notified at the next evaluation.
func (s *Store) DeleteMaintenanceWindow(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM maintenance_windows WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("cannot delete maintenance window %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot delete maintenance window %d: %w", id, model.ErrNotFound)
	}
	return nil
}

func weekdays(ds []int) []int16 {
	out := make([]int16, len(ds))
	for i, d := range ds {
		out[i] = int16(d)
	}
	return out
}

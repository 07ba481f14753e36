package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/model"
)

// sevRank is model.SeverityRank in SQL.
func sevRank(col string) string {
	return `(CASE ` + col + ` WHEN 'info' THEN 1 WHEN 'warning' THEN 2 WHEN 'critical' THEN 3 ELSE 0 END)`
}

// ackActiveSQL says whether an alert's acknowledgement still holds: it is open, the ack has not
// expired and the alert is no worse than when acknowledged. It is computed on read, so whoever
// raises the severity (the evaluator, a webhook) ends the acknowledgement without knowing of it.
var ackActiveSQL = `(a.acknowledged_at IS NOT NULL AND a.resolved_at IS NULL AND
	(a.ack_expires_at IS NULL OR a.ack_expires_at > now()) AND
	` + sevRank("a.severity") + ` <= ` + sevRank("COALESCE(a.ack_severity, a.severity)") + `)`

// alertStateSQL is the state the API shows; see model.StateFiring.
var alertStateSQL = `(CASE WHEN a.resolved_at IS NOT NULL THEN 'resolved'
	WHEN ` + ackActiveSQL + ` THEN 'acknowledged'
	WHEN a.suppressed_by IS NOT NULL OR a.hold_reason = 'suppressed' THEN 'suppressed'
	ELSE 'firing' END)`

// alertEntrySelect is every column of an AlertEntry; an alert with no known device takes branch
// and region from its labels.
var alertEntrySelect = `SELECT a.id, a.source, ` + alertStateSQL + ` AS state, COALESCE(a.rule_id, 0) AS rule_id,
		COALESCE(r.name, a.labels->>'alertname', '') AS name, a.severity, COALESCE(a.device_id, 0) AS device_id,
		COALESCE(d.name, a.labels->>'device', '') AS device,
		COALESCE(b.name, a.labels->>'branch', '') AS branch, COALESCE(b.region, a.labels->>'region', '') AS region,
		a.fired_at, a.resolved_at, a.summary, a.fingerprint, a.labels, a.annotations, COALESCE(a.suppressed_by, 0) AS suppressed_by,
		a.hold_reason, a.generator_url, a.acknowledged_at, COALESCE(a.acknowledged_by, '') AS acknowledged_by, a.ack_note,
		a.ack_expires_at, COALESCE(a.ack_severity, '') AS ack_severity, a.ack_silences, ` + ackActiveSQL + ` AS ack_active
	FROM alert_history a
	LEFT JOIN alert_rules r ON r.id = a.rule_id
	LEFT JOIN standalone_devices d ON d.id = a.device_id
	LEFT JOIN branches b ON b.id = d.branch_id`

func scanAlertEntry(row pgx.Row, extra ...any) (model.AlertEntry, error) {
	var e model.AlertEntry
	var labels, ann []byte
	var ackAt *time.Time
	var ack model.Ack
	dst := []any{&e.ID, &e.Source, &e.State, &e.RuleID, &e.Name, &e.Severity, &e.DeviceID, &e.Device, &e.Branch, &e.Region,
		&e.FiredAt, &e.ResolvedAt, &e.Summary, &e.Fingerprint, &labels, &ann, &e.SuppressedBy, &e.HoldReason,
		&e.GeneratorURL, &ackAt, &ack.By, &ack.Note, &ack.ExpiresAt, &ack.Severity, &ack.Silences, &ack.Active}
	if err := row.Scan(append(dst, extra...)...); err != nil {
		return e, err
	}
	e.FiredAt = e.FiredAt.UTC()
	if err := json.Unmarshal(labels, &e.Labels); err != nil {
		return e, fmt.Errorf("alert %d labels: %w", e.ID, err)
	}
	if err := json.Unmarshal(ann, &e.Annotations); err != nil {
		return e, fmt.Errorf("alert %d annotations: %w", e.ID, err)
	}
	if ackAt != nil {
		ack.At = ackAt.UTC()
		e.Ack = &ack
	}
	return e, nil
}

// ListAlerts returns the alerts f selects, newest first, and how many it selects in all. One
// query.
func (s *Store) ListAlerts(ctx context.Context, f model.AlertFilter) ([]model.AlertEntry, int, error) {
	q := `SELECT * FROM (SELECT v.*, count(*) OVER () AS total FROM (` + alertEntrySelect + `) v
		WHERE ($1 = '' OR v.state = $1) AND ($2 = '' OR v.severity = $2) AND ($3 = '' OR v.branch = $3)
			AND ($4 = '' OR v.region = $4) AND ($5 = 0 OR v.device_id = $5) AND ($6 = '' OR v.source = $6)) w
		ORDER BY w.fired_at DESC, w.id DESC LIMIT $7 OFFSET $8`
	rows, err := s.pool.Query(ctx, q, f.State, f.Severity, f.Branch, f.Region, f.DeviceID, f.Source, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list alerts: %w", err)
	}
	total := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.AlertEntry, error) {
		return scanAlertEntry(r, &total)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("cannot list alerts: %w", err)
	}
	return out, total, nil
}

// GetAlert returns one alert or model.ErrNotFound.
func (s *Store) GetAlert(ctx context.Context, id int64) (model.AlertEntry, error) {
	e, err := scanAlertEntry(s.pool.QueryRow(ctx, alertEntrySelect+` WHERE a.id = $1`, id))
	if err != nil {
		return e, fmt.Errorf("cannot read alert %d: %w", id, interpretError(err))
	}
	return e, nil
}

// AckAlert records an acknowledgement and its audit row in one transaction. A resolved alert
// cannot be acknowledged (model.ErrAlertResolved); acknowledging again replaces the earlier one.
func (s *Store) AckAlert(ctx context.Context, r model.AckRequest) error {
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var resolved *time.Time
		var sev string
		err := tx.QueryRow(ctx, `SELECT resolved_at, severity FROM alert_history WHERE id = $1 FOR UPDATE`, r.AlertID).
			Scan(&resolved, &sev)
		if err != nil {
			return interpretError(err)
		}
		if resolved != nil {
			return model.ErrAlertResolved
		}
		if _, err := tx.Exec(ctx, `UPDATE alert_history SET acknowledged_at = now(), acknowledged_by = $2, ack_note = $3,
			ack_expires_at = $4, ack_severity = severity, ack_silences = '{}' WHERE id = $1`,
			r.AlertID, r.By, r.Note, utcPtr(r.ExpiresAt)); err != nil {
			return err
		}
		detail := map[string]any{"note": r.Note, "severity": sev}
		if r.ExpiresAt != nil {
			detail["expires_at"] = r.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: r.By, Action: model.AuditAck, ObjectKind: "alert",
			ObjectID: strconv.FormatInt(r.AlertID, 10), Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("cannot acknowledge alert %d: %w", r.AlertID, err)
	}
	return nil
}

// UnackAlert removes an alert's acknowledgement, auditing it, and returns the Alertmanager
// silences that mirrored it so the caller can expire them.
func (s *Store) UnackAlert(ctx context.Context, id int64, by, note string) ([]string, error) {
	var silences []string
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var ackAt *time.Time
		var prevBy string
		err := tx.QueryRow(ctx, `SELECT acknowledged_at, COALESCE(acknowledged_by, ''), ack_silences FROM alert_history
			WHERE id = $1 FOR UPDATE`, id).Scan(&ackAt, &prevBy, &silences)
		if err != nil {
			return interpretError(err)
		}
		if ackAt == nil {
			return model.ErrNotAcknowledged
		}
		if _, err := tx.Exec(ctx, `UPDATE alert_history SET acknowledged_at = NULL, acknowledged_by = NULL, ack_note = '',
			ack_expires_at = NULL, ack_severity = NULL, ack_silences = '{}' WHERE id = $1`, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditChange{Actor: by, Action: model.AuditUnack, ObjectKind: "alert",
			ObjectID: strconv.FormatInt(id, 10), Detail: map[string]any{"note": note, "acknowledged_by": prevBy}})
	})
	if err != nil {
		return nil, fmt.Errorf("cannot un-acknowledge alert %d: %w", id, err)
	}
	return silences, nil
}

// SetAckSilences records the Alertmanager silences created for an alert's acknowledgement.
func (s *Store) SetAckSilences(ctx context.Context, id int64, silences []string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE alert_history SET ack_silences = $2 WHERE id = $1 AND acknowledged_at IS NOT NULL`,
		id, silences); err != nil {
		return fmt.Errorf("cannot record silences of alert %d: %w", id, err)
	}
	return nil
}

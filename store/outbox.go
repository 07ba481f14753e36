package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

// Outbox returns up to limit notifications waiting for receiver, oldest first.
func (s *Store) Outbox(ctx context.Context, receiver string, limit int) ([]model.OutboxEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, receiver, COALESCE(alert_id, 0), fingerprint, resolved, payload, created_at, attempts
		FROM alert_outbox WHERE receiver = $1 ORDER BY id LIMIT $2`, receiver, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read outbox of %s: %w", receiver, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.OutboxEntry, error) {
		var e model.OutboxEntry
		var p []byte
		if err := r.Scan(&e.ID, &e.Receiver, &e.AlertID, &e.Fingerprint, &e.Resolved, &p, &e.CreatedAt, &e.Attempts); err != nil {
			return e, err
		}
		return e, json.Unmarshal(p, &e.Payload)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read outbox of %s: %w", receiver, err)
	}
	return out, nil
}

// DeleteOutbox removes delivered notifications.
func (s *Store) DeleteOutbox(ctx context.Context, ids []int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM alert_outbox WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("cannot delete %d delivered notifications: %w", len(ids), err)
	}
	return nil
}

// firedAcceptedKeep is how long a firing's acceptance is remembered: far longer than any
// Alertmanager group_wait.
const firedAcceptedKeep = time.Hour

// OutboxDelivered removes the notifications receiver accepted at `at` and records, in the same
// transaction, that it accepted the firings of the fingerprints fired.
func (s *Store) OutboxDelivered(ctx context.Context, receiver string, ids []int64, fired []string, at time.Time) error {
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM alert_outbox WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		if len(fired) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO alert_fired_accepted (receiver, fingerprint, accepted_at)
			SELECT $1, f, $3 FROM unnest($2::text[]) AS f
			ON CONFLICT (receiver, fingerprint) DO UPDATE SET accepted_at = excluded.accepted_at`, receiver, fired, at.UTC()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM alert_fired_accepted WHERE receiver = $1 AND accepted_at < $2`,
			receiver, at.Add(-firedAcceptedKeep).UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot record %d notifications delivered to %s: %w", len(ids), receiver, err)
	}
	return nil
}

// FiringsAccepted returns when receiver accepted each firing it accepted after since, by
// fingerprint.
func (s *Store) FiringsAccepted(ctx context.Context, receiver string, since time.Time) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT fingerprint, accepted_at FROM alert_fired_accepted
		WHERE receiver = $1 AND accepted_at > $2`, receiver, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read the firings %s accepted: %w", receiver, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var fp string
		var at time.Time
		if err := rows.Scan(&fp, &at); err != nil {
			return nil, fmt.Errorf("cannot read the firings %s accepted: %w", receiver, err)
		}
		out[fp] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read the firings %s accepted: %w", receiver, err)
	}
	return out, nil
}

// OutboxFailed records a failed attempt on notifications, for the operator.
func (s *Store) OutboxFailed(ctx context.Context, ids []int64, reason string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE alert_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)`, ids, reason); err != nil {
		return fmt.Errorf("cannot record a failed delivery: %w", err)
	}
	return nil
}

// OutboxDepth counts the notifications waiting, by receiver.
func (s *Store) OutboxDepth(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT receiver, count(*) FROM alert_outbox GROUP BY receiver`)
	if err != nil {
		return nil, fmt.Errorf("cannot count the outbox: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("cannot count the outbox: %w", err)
		}
		out[r] = n
	}
	return out, rows.Err()
}

// NotifiedAlerts returns the alerts that Alertmanager should hold now: notified and open, or
// notified and resolved after resolvedSince (whose resolution is re-sent for a while).
func (s *Store) NotifiedAlerts(ctx context.Context, resolvedSince time.Time) ([]model.AlertRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alert_history a
		WHERE a.source = 'wardops' AND a.notified_at IS NOT NULL AND (a.resolved_at IS NULL OR a.resolved_at > $1)
		ORDER BY a.id`, resolvedSince.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot list notified alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.AlertRecord, error) { return scanAlert(r) })
	if err != nil {
		return nil, fmt.Errorf("cannot list notified alerts: %w", err)
	}
	return out, nil
}

// AlertHistory returns the alerts of one device (0: all) fired after since, oldest first: what
// tests, the device page and the alerts API read.
func (s *Store) AlertHistory(ctx context.Context, deviceID int64, since time.Time) ([]model.AlertRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alert_history a
		WHERE ($1 = 0 OR a.device_id = $1) AND a.fired_at >= $2 ORDER BY a.fired_at, a.id`, deviceID, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read alert history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.AlertRecord, error) { return scanAlert(r) })
	if err != nil {
		return nil, fmt.Errorf("cannot read alert history: %w", err)
	}
	return out, nil
}

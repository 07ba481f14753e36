package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/model"
)

// RecordWebhook stores one Alertmanager notification in a single transaction: every alert or
// none. An alert is identified by (fingerprint, startsAt); a firing alert already known is
// updated only while it is open and only when its severity, labels or annotations differ, and a
// resolved alert sets resolved_at once. So the same notification delivered again changes nothing,
// and a resolved notification that overtakes its firing one ends resolved: the late firing
// notification finds the row resolved and leaves it so. A firing alert also resolves an older
// incident of its fingerprint still open, whose resolved notification was lost.
func (s *Store) RecordWebhook(ctx context.Context, m model.WebhookMessage) (model.WebhookResult, error) {
	var res model.WebhookResult
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		res = model.WebhookResult{}
		// wardops' own alerts come back when Alertmanager routes them to this receiver too; the
		// evaluator stores Alertmanager's fingerprint of what it sends, so they are recognised and
		// left to the row wardops already has.
		fps := make([]string, len(m.Alerts))
		for i, a := range m.Alerts {
			fps[i] = a.Fingerprint
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT fingerprint FROM alert_history
			WHERE source = 'wardops' AND fingerprint = ANY($1)`, fps)
		if err != nil {
			return err
		}
		own, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		alerts := make([]model.WebhookAlert, 0, len(m.Alerts))
		for _, a := range m.Alerts {
			if slices.Contains(own, a.Fingerprint) {
				res.Own++
				continue
			}
			alerts = append(alerts, a)
		}
		b := &pgx.Batch{}
		for _, a := range alerts {
			labels, err := json.Marshal(nonNil(a.Labels))
			if err != nil {
				return err
			}
			ann, err := json.Marshal(nonNil(a.Annotations))
			if err != nil {
				return err
			}
			var resolved *time.Time
			if a.Status == "resolved" {
				r := a.EndsAt.UTC()
				if r.Before(a.StartsAt) || a.EndsAt.IsZero() {
					r = a.StartsAt.UTC()
				}
				resolved = &r
			}
			devID, _ := strconv.ParseInt(a.Labels["device_id"], 10, 64)
			b.Queue(`UPDATE alert_history SET resolved_at = $2
				WHERE source = 'alertmanager' AND fingerprint = $1 AND fired_at < $2 AND resolved_at IS NULL`,
				a.Fingerprint, a.StartsAt.UTC())
			b.Queue(`INSERT INTO alert_history AS h (device_id, fired_at, resolved_at, severity, fingerprint, summary, labels,
					annotations, source, generator_url)
				VALUES ((SELECT id FROM standalone_devices WHERE id = $1 OR ($1 = 0 AND name = $2 AND $2 <> '')
						ORDER BY id LIMIT 1),
					$3, $4, $5, $6, $7, $8, $9, 'alertmanager', $10)
				ON CONFLICT (fingerprint, fired_at) WHERE source = 'alertmanager' DO UPDATE SET
					resolved_at = COALESCE(excluded.resolved_at, h.resolved_at),
					severity = excluded.severity, summary = excluded.summary, labels = excluded.labels,
					annotations = excluded.annotations, generator_url = excluded.generator_url
				WHERE h.resolved_at IS NULL AND (excluded.resolved_at IS NOT NULL OR
					(h.severity, h.summary, h.labels, h.annotations, h.generator_url) IS DISTINCT FROM
					(excluded.severity, excluded.summary, excluded.labels, excluded.annotations, excluded.generator_url))
				RETURNING h.xmax = 0, h.resolved_at IS NOT NULL`,
				devID, a.Labels["device"], a.StartsAt.UTC(), resolved, webhookSeverity(a.Labels["severity"]), a.Fingerprint,
				webhookSummary(a), labels, ann, a.GeneratorURL)
		}
		b.Queue(`INSERT INTO webhook_groups AS g (group_key, receiver, status, external_url, truncated_alerts, alerts)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (group_key) DO UPDATE SET receiver = excluded.receiver, status = excluded.status,
				external_url = excluded.external_url, truncated_alerts = excluded.truncated_alerts,
				alerts = excluded.alerts, updated_at = now()
			WHERE (g.receiver, g.status, g.external_url, g.truncated_alerts, g.alerts) IS DISTINCT FROM
				(excluded.receiver, excluded.status, excluded.external_url, excluded.truncated_alerts, excluded.alerts)`,
			m.GroupKey, m.Receiver, m.Status, m.ExternalURL, m.TruncatedAlerts, len(m.Alerts))
		br := tx.SendBatch(ctx, b)
		for _, a := range alerts {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("alert %s: %w", a.Fingerprint, err)
			}
			res.Resolved += int(tag.RowsAffected())
			var inserted, isResolved bool
			err = br.QueryRow().Scan(&inserted, &isResolved)
			switch {
			case err == pgx.ErrNoRows:
				res.Unchanged++
			case err != nil:
				_ = br.Close()
				return fmt.Errorf("alert %s: %w", a.Fingerprint, err)
			case inserted:
				res.Inserted++
			case isResolved:
				res.Resolved++
			default:
				res.Updated++
			}
		}
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("group %q: %w", m.GroupKey, err)
		}
		return br.Close()
	})
	if err != nil {
		return res, fmt.Errorf("cannot record webhook notification of group %q: %w", m.GroupKey, interpretError(err))
	}
	return res, nil
}

// webhookSeverity maps a severity label onto the three alert_history knows; anything else is a
// warning (the label itself is kept in labels).
func webhookSeverity(s string) string {
	switch s {
	case "info", "warning", "critical":
		return s
	case "page", "error", "high", "disaster":
		return "critical"
	case "none", "low", "notice":
		return "info"
	}
	return "warning"
}

func webhookSummary(a model.WebhookAlert) string {
	for _, k := range []string{"summary", "description", "message"} {
		if v := a.Annotations[k]; v != "" {
			return v
		}
	}
	return a.Labels["alertname"]
}

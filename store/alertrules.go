package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/wardops/wardops/model"
)

const ruleColumns = `id, name, kind, expr, comparison, threshold, recovery_threshold, window_seconds, for_seconds,
	severity, scope_kind, scope_value, labels, description, enabled, last_eval_at, last_eval_state, last_eval_error,
	created_at, updated_at`

func scanRule(row pgx.Row) (model.Rule, error) {
	var r model.Rule
	var win, forS int
	var labels []byte
	err := row.Scan(&r.ID, &r.Name, &r.Kind, &r.Expr, &r.Comparison, &r.Threshold, &r.Recovery, &win, &forS,
		&r.Severity, &r.ScopeKind, &r.ScopeValue, &labels, &r.Description, &r.Enabled, &r.LastEvalAt,
		&r.LastEvalState, &r.LastError, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return r, err
	}
	r.Window, r.For = time.Duration(win)*time.Second, time.Duration(forS)*time.Second
	if err := json.Unmarshal(labels, &r.Labels); err != nil {
		return r, fmt.Errorf("rule %d labels: %w", r.ID, err)
	}
	return r, nil
}

// AlertRules returns every rule, enabled or not, by id.
func (s *Store) AlertRules(ctx context.Context) ([]model.Rule, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+ruleColumns+` FROM alert_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list alert rules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Rule, error) { return scanRule(r) })
	if err != nil {
		return nil, fmt.Errorf("cannot list alert rules: %w", err)
	}
	return out, nil
}

// AlertRule returns one rule or model.ErrNotFound.
func (s *Store) AlertRule(ctx context.Context, id int64) (model.Rule, error) {
	r, err := scanRule(s.pool.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1`, id))
	if err != nil {
		return r, fmt.Errorf("cannot read alert rule %d: %w", id, interpretError(err))
	}
	return r, nil
}

// CreateAlertRule inserts a rule and returns its id. A taken name is a *model.ConflictError; a
// value the table's constraints refuse (kind, scope, severity, an expr rule without expression)
// is a *model.RefError naming the constraint. Callers validate an expression with
// alerting.ValidateRule first.
func (s *Store) CreateAlertRule(ctx context.Context, r model.Rule) (int64, error) {
	labels, err := json.Marshal(nonNil(r.Labels))
	if err != nil {
		return 0, fmt.Errorf("cannot create alert rule %q: %w", r.Name, err)
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO alert_rules (name, kind, expr, comparison, threshold, recovery_threshold,
			window_seconds, for_seconds, severity, scope_kind, scope_value, labels, description, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		r.Name, r.Kind, r.Expr, orDefault(r.Comparison, ">"), r.Threshold, r.Recovery, int(r.Window.Seconds()),
		int(r.For.Seconds()), orDefault(r.Severity, "warning"), orDefault(r.ScopeKind, model.ScopeAll), r.ScopeValue,
		labels, r.Description, r.Enabled).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("cannot create alert rule %q: %w", r.Name, ruleError(err))
	}
	return id, nil
}

// UpdateAlertRule replaces every editable field of rule r.ID; model.ErrNotFound when it is gone.
func (s *Store) UpdateAlertRule(ctx context.Context, r model.Rule) error {
	labels, err := json.Marshal(nonNil(r.Labels))
	if err != nil {
		return fmt.Errorf("cannot update alert rule %d: %w", r.ID, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE alert_rules SET name = $2, kind = $3, expr = $4, comparison = $5,
			threshold = $6, recovery_threshold = $7, window_seconds = $8, for_seconds = $9, severity = $10,
			scope_kind = $11, scope_value = $12, labels = $13, description = $14, enabled = $15, updated_at = now()
		WHERE id = $1`, r.ID, r.Name, r.Kind, r.Expr, orDefault(r.Comparison, ">"), r.Threshold, r.Recovery,
		int(r.Window.Seconds()), int(r.For.Seconds()), orDefault(r.Severity, "warning"),
		orDefault(r.ScopeKind, model.ScopeAll), r.ScopeValue, labels, r.Description, r.Enabled)
	if err != nil {
		return fmt.Errorf("cannot update alert rule %d: %w", r.ID, ruleError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot update alert rule %d: %w", r.ID, model.ErrNotFound)
	}
	return nil
}

// DeleteAlertRule deletes a rule and, with it, its alerts' history.
func (s *Store) DeleteAlertRule(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("cannot delete alert rule %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot delete alert rule %d: %w", id, model.ErrNotFound)
	}
	return nil
}

// RuleEvaluation is the outcome of one rule in one evaluation, recorded on the rule.
type RuleEvaluation struct {
	RuleID int64
	At     time.Time
	State  string // ok, no_data or error
	Error  string
}

func ruleError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23514" {
		return &model.RefError{Field: "rule", Value: pe.ConstraintName}
	}
	return interpretError(err)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

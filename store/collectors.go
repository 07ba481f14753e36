package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/model"
)

// Heartbeat records that collector id is alive until now + lease, by the database's clock, so
// collectors with skewed clocks still agree on who is live, and returns the live collectors
// (itself included) in the same round trip.
func (s *Store) Heartbeat(ctx context.Context, id, zone string, lease time.Duration) ([]model.Collector, error) {
	var out []model.Collector
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO collectors (id, zone, expires_at) VALUES ($1, $2, now() + $3::interval)
			ON CONFLICT (id) DO UPDATE SET zone = excluded.zone, heartbeat_at = now(), expires_at = excluded.expires_at`,
			id, zone, lease.String()); err != nil {
			return err
		}
		var err error
		out, err = liveCollectors(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot heartbeat collector %q: %w", id, err)
	}
	return out, nil
}

// Collectors returns the live collectors, by id.
func (s *Store) Collectors(ctx context.Context) ([]model.Collector, error) {
	out, err := liveCollectors(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("cannot list collectors: %w", err)
	}
	return out, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func liveCollectors(ctx context.Context, q querier) ([]model.Collector, error) {
	rows, err := q.Query(ctx, `SELECT id, zone, started_at, heartbeat_at, expires_at FROM collectors
		WHERE expires_at > now() ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[model.Collector])
}

// LeaveCollectors removes collector id, so the others take its devices at once instead of when
// its lease expires; a clean shutdown calls it.
func (s *Store) LeaveCollectors(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM collectors WHERE id = $1`, id); err != nil {
		return fmt.Errorf("cannot remove collector %q: %w", id, err)
	}
	return nil
}

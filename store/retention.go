package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PingPurge is what PurgePingResultsBefore removed.
type PingPurge struct {
	Partitions []string // daily partitions dropped whole
	Rows       int64    // rows deleted from the partition that holds the cutoff
}

// PurgePingResultsBefore removes every ping result older than cutoff and none newer. Daily
// partitions that end on or before cutoff are dropped whole, which is how retention works without
// deleting tens of millions of rows; the partition that holds cutoff keeps its newer rows, so only
// its rows older than cutoff are deleted, an hour at a time so that no statement runs for long.
// Retention is thus exact: no row newer than cutoff goes (a bank must keep its 30 days), and no
// row older stays for up to a day.
func (s *Store) PurgePingResultsBefore(ctx context.Context, cutoff time.Time) (PingPurge, error) {
	var p PingPurge
	cutoff = cutoff.UTC()
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = 'ping_results' AND c.relname ~ '^ping_results_[0-9]{8}$' ORDER BY c.relname`)
	if err != nil {
		return p, fmt.Errorf("cannot list ping_results partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return p, fmt.Errorf("cannot list ping_results partitions: %w", err)
	}
	for _, n := range names {
		day, err := time.Parse("20060102", strings.TrimPrefix(n, "ping_results_"))
		if err != nil || day.Add(24*time.Hour).After(cutoff) {
			continue
		}
		if _, err := s.pool.Exec(ctx, `DROP TABLE `+pgx.Identifier{n}.Sanitize()); err != nil {
			return p, fmt.Errorf("cannot drop partition %s: %w", n, err)
		}
		p.Partitions = append(p.Partitions, n)
	}
	for from := cutoff.Truncate(24 * time.Hour); from.Before(cutoff); from = from.Add(time.Hour) {
		to := minTime(from.Add(time.Hour), cutoff)
		tag, err := s.pool.Exec(ctx, `DELETE FROM ping_results WHERE timestamp >= $1 AND timestamp < $2`, from, to)
		if err != nil {
			return p, fmt.Errorf("cannot delete ping results older than %s: %w", cutoff.Format(time.RFC3339), err)
		}
		p.Rows += tag.RowsAffected()
	}
	return p, nil
}

// DeleteResolvedAlertsBefore deletes the alert_history rows resolved before cutoff and returns
// how many went. Open alerts stay whatever their age: they are the current state, not history.
func (s *Store) DeleteResolvedAlertsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM alert_history WHERE resolved_at IS NOT NULL AND resolved_at < $1`, cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("cannot delete alerts resolved before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}

// WithAdvisoryLock runs fn while this session holds PostgreSQL's advisory lock key, so that of
// several instances sharing a database one does the work. When another session holds the lock,
// fn does not run and ran is false. The lock is a session lock on one pooled connection, held
// for fn's whole run and released (also when ctx is cancelled) before the connection goes back.
func (s *Store) WithAdvisoryLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("cannot acquire a connection for advisory lock %d: %w", key, err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return false, fmt.Errorf("cannot take advisory lock %d: %w", key, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); uerr != nil {
			// A session lock outlives the call; a connection that still holds it must not be reused.
			_ = conn.Conn().Close(uctx)
			if err == nil {
				err = fmt.Errorf("cannot release advisory lock %d: %w", key, uerr)
			}
		}
	}()
	return true, fn(ctx)
}

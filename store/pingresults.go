package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/wardops/wardops/model"
)

var pingColumns = []string{"device_id", "device_ip", "timestamp", "is_reachable", "rtt_avg_ms", "rtt_min_ms",
	"rtt_max_ms", "rtt_stddev_ms", "packet_loss", "sent", "received"}

// InsertPingResults writes a batch with COPY. When a row falls outside the existing partitions
// (a clock jump, a spool replayed after days) the partitions are created and the copy retried once.
func (s *Store) InsertPingResults(ctx context.Context, rs []model.PingResult) error {
	if len(rs) == 0 {
		return nil
	}
	err := s.copyPingResults(ctx, rs)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23514" { // no partition of relation found for row
		lo, hi := rs[0].Timestamp, rs[0].Timestamp
		for _, r := range rs {
			lo, hi = minTime(lo, r.Timestamp), maxTime(hi, r.Timestamp)
		}
		if _, perr := s.EnsurePingPartitions(ctx, lo, int(hi.Sub(lo).Hours()/24)+2); perr != nil {
			return perr
		}
		err = s.copyPingResults(ctx, rs)
	}
	if err != nil {
		return fmt.Errorf("cannot copy %d ping results: %w", len(rs), err)
	}
	return nil
}

func (s *Store) copyPingResults(ctx context.Context, rs []model.PingResult) error {
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"ping_results"}, pingColumns, pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
		r := rs[i]
		return []any{r.DeviceID, netip.PrefixFrom(r.DeviceIP, r.DeviceIP.BitLen()), r.Timestamp.UTC(), r.IsReachable,
			r.RTTAvgMs, r.RTTMinMs, r.RTTMaxMs, r.RTTStddevMs, r.PacketLoss, r.Sent, r.Received}, nil
	}))
	return err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// EnsurePingPartitions creates the daily partitions covering days days from the UTC day of from.
func (s *Store) EnsurePingPartitions(ctx context.Context, from time.Time, days int) (int, error) {
	var n int
	day := from.UTC().Truncate(24 * time.Hour)
	if err := s.pool.QueryRow(ctx, `SELECT wardops_ensure_ping_partitions($1::date, $2)`, day.Format(time.DateOnly), days).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot create ping_results partitions: %w", err)
	}
	return n, nil
}

// DropPingPartitionsBefore removes every ping result older than cutoff and none newer (see
// PurgePingResultsBefore) and returns the dropped partitions' names.
func (s *Store) DropPingPartitionsBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	p, err := s.PurgePingResultsBefore(ctx, cutoff)
	return p.Partitions, err
}

// LatestPings returns the newest ping result of every enabled device, looked back no further than
// since, in one query for the fleet: a LATERAL LIMIT 1 per device walks
// idx_ping_results_device_timestamp instead of scanning the partitions.
func (s *Store) LatestPings(ctx context.Context, since time.Time) (map[int64]model.LatestPing, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, r.timestamp, r.is_reachable, r.rtt_avg_ms, r.rtt_min_ms, r.rtt_max_ms,
			r.rtt_stddev_ms, r.packet_loss, r.sent, r.received,
			CASE WHEN NOT r.is_reachable THEN COALESCE((
				SELECT min(x.timestamp) FROM ping_results x
				WHERE x.device_ip = d.ip AND x.timestamp > COALESCE((
					SELECT max(u.timestamp) FROM ping_results u
					WHERE u.device_ip = d.ip AND u.is_reachable AND u.timestamp >= $1), $1)
				AND x.timestamp >= $1), r.timestamp) END
		FROM standalone_devices d
		CROSS JOIN LATERAL (
			SELECT * FROM ping_results p WHERE p.device_ip = d.ip AND p.timestamp >= $1
			ORDER BY p.timestamp DESC LIMIT 1) r
		WHERE d.enabled`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read latest ping results: %w", err)
	}
	defer rows.Close()
	out := map[int64]model.LatestPing{}
	for rows.Next() {
		var l model.LatestPing
		if err := rows.Scan(&l.DeviceID, &l.Timestamp, &l.IsReachable, &l.RTTAvgMs, &l.RTTMinMs, &l.RTTMaxMs,
			&l.RTTStddevMs, &l.PacketLoss, &l.Sent, &l.Received, &l.DownSince); err != nil {
			return nil, fmt.Errorf("cannot read latest ping results: %w", err)
		}
		l.Timestamp = l.Timestamp.UTC()
		out[l.DeviceID] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read latest ping results: %w", err)
	}
	return out, nil
}

// PingHistory returns one device's probes between from and to, oldest first, at most limit rows.
func (s *Store) PingHistory(ctx context.Context, ip netip.Addr, from, to time.Time, limit int) ([]model.PingResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT device_id, device_ip, timestamp, is_reachable, rtt_avg_ms, rtt_min_ms,
			rtt_max_ms, rtt_stddev_ms, packet_loss, sent, received
		FROM ping_results WHERE device_ip = $1 AND timestamp >= $2 AND timestamp <= $3
		ORDER BY timestamp DESC LIMIT $4`, netip.PrefixFrom(ip, ip.BitLen()), from.UTC(), to.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read ping history of %s: %w", ip, err)
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.PingResult, error) {
		var p model.PingResult
		var pfx netip.Prefix
		err := r.Scan(&p.DeviceID, &pfx, &p.Timestamp, &p.IsReachable, &p.RTTAvgMs, &p.RTTMinMs, &p.RTTMaxMs,
			&p.RTTStddevMs, &p.PacketLoss, &p.Sent, &p.Received)
		p.DeviceIP, p.Timestamp = pfx.Addr(), p.Timestamp.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read ping history of %s: %w", ip, err)
	}
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return rs, nil
}

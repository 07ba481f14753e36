package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wardops/wardops/model"
)

// ProbeCounts counts every device's probes in [from, to) in one query over ping_results: the
// probes outside the excluded spans, how many of those were answered, and how many fell inside a
// span. Devices with no probes in the period are absent.
func (s *Store) ProbeCounts(ctx context.Context, from, to time.Time, excluded []model.DeviceInterval) (map[int64]model.ProbeCounts, error) {
	ids := make([]int64, len(excluded))
	starts := make([]time.Time, len(excluded))
	ends := make([]time.Time, len(excluded))
	for i, x := range excluded {
		ids[i], starts[i], ends[i] = x.DeviceID, x.Start.UTC(), x.End.UTC()
	}
	rows, err := s.pool.Query(ctx, `WITH x AS (
			SELECT * FROM unnest($3::bigint[], $4::timestamptz[], $5::timestamptz[]) AS x(device_id, s, e)
		), p AS (
			SELECT p.device_id, p.is_reachable,
				EXISTS (SELECT 1 FROM x WHERE x.device_id = p.device_id AND p."timestamp" >= x.s AND p."timestamp" < x.e) AS excluded
			FROM ping_results p
			WHERE p."timestamp" >= $1 AND p."timestamp" < $2
		)
		SELECT device_id,
			count(*) FILTER (WHERE NOT excluded),
			count(*) FILTER (WHERE NOT excluded AND is_reachable),
			count(*) FILTER (WHERE excluded)
		FROM p GROUP BY device_id`, from.UTC(), to.UTC(), ids, starts, ends)
	if err != nil {
		return nil, fmt.Errorf("cannot count probes from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	defer rows.Close()
	out := map[int64]model.ProbeCounts{}
	for rows.Next() {
		var id int64
		var c model.ProbeCounts
		if err := rows.Scan(&id, &c.Probes, &c.Answered, &c.Excluded); err != nil {
			return nil, fmt.Errorf("cannot count probes: %w", err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot count probes: %w", err)
	}
	return out, nil
}

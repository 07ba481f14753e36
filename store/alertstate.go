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

// AlertDevices returns every device with its labels and parents, in one query.
func (s *Store) AlertDevices(ctx context.Context) ([]model.DeviceNode, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.name, host(d.ip), COALESCE(b.name, ''), COALESCE(b.region, ''),
			d.vendor, d.device_type, d.enabled, d.snmp_version <> '', COALESCE(d.ping_interval_seconds, 0),
			COALESCE((SELECT array_agg(p.parent_id ORDER BY p.parent_id) FROM device_parents p WHERE p.device_id = d.id), '{}')
		FROM standalone_devices d LEFT JOIN branches b ON b.id = d.branch_id ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list devices for alerting: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.DeviceNode, error) {
		var d model.DeviceNode
		var sec int
		err := r.Scan(&d.ID, &d.Name, &d.IP, &d.Branch, &d.Region, &d.Vendor, &d.DeviceType, &d.Enabled, &d.SNMP, &sec, &d.Parents)
		d.PingInterval = time.Duration(sec) * time.Second
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list devices for alerting: %w", err)
	}
	return out, nil
}

// CheckParents returns an error wrapping model.ErrParentCycle when giving deviceID the parents
// parentIDs would make it its own ancestor, and a *model.RefError for a parent that does not
// exist. It writes nothing: the API calls it before SetDeviceParents to answer 400.
func (s *Store) CheckParents(ctx context.Context, deviceID int64, parentIDs []int64) error {
	var missing *int64
	var cycle bool
	err := s.pool.QueryRow(ctx, `WITH RECURSIVE up(id) AS (
			SELECT unnest($2::bigint[])
			UNION
			SELECT p.parent_id FROM device_parents p JOIN up ON p.device_id = up.id WHERE p.device_id <> $1)
		SELECT (SELECT min(x) FROM unnest($2::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM standalone_devices d WHERE d.id = x)),
			EXISTS (SELECT 1 FROM up WHERE id = $1)`, deviceID, parentIDs).Scan(&missing, &cycle)
	if err != nil {
		return fmt.Errorf("cannot check parents of device %d: %w", deviceID, err)
	}
	if missing != nil {
		return &model.RefError{Field: "parent_id", Value: fmt.Sprint(*missing)}
	}
	if cycle {
		return fmt.Errorf("device %d: %w", deviceID, model.ErrParentCycle)
	}
	return nil
}

// SetDeviceParents makes parentIDs the device's parents (the first also its parent_device_id),
// refusing a cycle with model.ErrParentCycle.
func (s *Store) SetDeviceParents(ctx context.Context, deviceID int64, parentIDs []int64) error {
	if err := s.CheckParents(ctx, deviceID, parentIDs); err != nil {
		return err
	}
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var first *int64
		if len(parentIDs) > 0 {
			first = &parentIDs[0]
		}
		tag, err := tx.Exec(ctx, `UPDATE standalone_devices SET parent_device_id = $2, updated_at = now() WHERE id = $1`, deviceID, first)
		if err != nil {
			return interpretError(err)
		}
		if tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM device_parents WHERE device_id = $1`, deviceID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO device_parents (device_id, parent_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`, deviceID, parentIDs)
		return interpretCycle(err)
	})
	if err != nil {
		return fmt.Errorf("cannot set parents of device %d: %w", deviceID, err)
	}
	return nil
}

func interpretCycle(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.ConstraintName == "device_parents_no_cycle" {
		return model.ErrParentCycle
	}
	return interpretError(err)
}

// ProbeStates returns the ping_results rows with a timestamp after since, oldest first: the
// whole fleet's new probes in one query on idx_ping_results_timestamp. RTTMs is NaN where no
// echo was answered.
func (s *Store) ProbeStates(ctx context.Context, since time.Time) ([]model.ProbeState, error) {
	rows, err := s.pool.Query(ctx, `SELECT device_id, "timestamp", is_reachable, COALESCE(rtt_avg_ms, 'NaN'), packet_loss
		FROM ping_results WHERE "timestamp" > $1 ORDER BY "timestamp"`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read new ping results: %w", err)
	}
	defer rows.Close()
	var out []model.ProbeState
	var p model.ProbeState
	for rows.Next() {
		if err := rows.Scan(&p.DeviceID, &p.Timestamp, &p.Up, &p.RTTMs, &p.Loss); err != nil {
			return nil, fmt.Errorf("cannot read new ping results: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read new ping results: %w", err)
	}
	return out, nil
}

// EvaluatorState is what a new leader loads to carry on where the last one committed.
type EvaluatorState struct {
	Cursor  time.Time // newest ping_results timestamp processed; zero when never run
	Devices []model.DeviceState
	Pending []model.Pending
	Open    []model.AlertRecord // open alerts of every rule
	// Recent are alerts resolved in the last resendFor that were notified: their resolution is
	// re-sent.
}

const alertColumns = `a.id, COALESCE(a.rule_id, 0), COALESCE(a.device_id, 0), a.instance, a.severity, a.fired_at, a.opened_at,
	a.resolved_at, a.notified_at, a.hold_reason, COALESCE(a.suppressed_by, 0), a.value, a.fingerprint, a.summary,
	a.labels, a.annotations`

func scanAlert(row pgx.Row) (model.AlertRecord, error) {
	var a model.AlertRecord
	var labels, ann []byte
	err := row.Scan(&a.ID, &a.RuleID, &a.DeviceID, &a.Instance, &a.Severity, &a.FiredAt, &a.OpenedAt, &a.ResolvedAt,
		&a.NotifiedAt, &a.HoldReason, &a.SuppressedBy, &a.Value, &a.Fingerprint, &a.Summary, &labels, &ann)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(labels, &a.Labels); err != nil {
		return a, err
	}
	return a, json.Unmarshal(ann, &a.Annotations)
}

// LoadEvaluatorState reads the cursor, device states, pending timers and open alerts of the
// wardops evaluator (alerts received from elsewhere are not its to resolve).
func (s *Store) LoadEvaluatorState(ctx context.Context) (EvaluatorState, error) {
	var st EvaluatorState
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT ts FROM alert_evaluator_state WHERE key = 'ping_cursor'`).Scan(&st.Cursor)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT device_id, up, since, last_probe, history, history_len, flapping FROM alert_device_state`)
		if err != nil {
			return err
		}
		st.Devices, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.DeviceState, error) {
			var d model.DeviceState
			var h int64
			var n int16
			err := r.Scan(&d.DeviceID, &d.Up, &d.Since, &d.LastProbe, &h, &n, &d.Flapping)
			d.History, d.HistoryLen = uint64(h), int(n)
			return d, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT rule_id, device_id, instance, active_since, value FROM alert_pending`)
		if err != nil {
			return err
		}
		st.Pending, err = pgx.CollectRows(rows, pgx.RowToStructByPos[model.Pending])
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+alertColumns+` FROM alert_history a WHERE a.resolved_at IS NULL AND a.source = 'wardops'`)
		if err != nil {
			return err
		}
		st.Open, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.AlertRecord, error) { return scanAlert(r) })
		return err
	})
	if err != nil {
		return st, fmt.Errorf("cannot load evaluator state: %w", err)
	}
	return st, nil
}

// CycleChange is everything one evaluation changes, written in one transaction.
type CycleChange struct {
	Cursor        *time.Time // new ping_results cursor
	Devices       []model.DeviceState
	PendingSet    []model.Pending
	PendingDelete []model.Pending      // by key
	NewAlerts     []*model.AlertRecord // ID filled in on commit
	Updated       []*model.AlertRecord // full row written by ID
	// Notify lists notifications to queue: Alert points into NewAlerts or Updated, so new alerts
	// get their id before their outbox rows are written.
	Notify      []Notify
	Evaluations []RuleEvaluation
}

// Notify is one outbox row for each receiver.
type Notify struct {
	Alert    *model.AlertRecord
	Resolved bool
	Payload  model.Notification
}

// Empty reports whether committing c would change nothing.
func (c *CycleChange) Empty() bool {
	return c.Cursor == nil && len(c.Devices) == 0 && len(c.PendingSet) == 0 && len(c.PendingDelete) == 0 &&
		len(c.NewAlerts) == 0 && len(c.Updated) == 0 && len(c.Notify) == 0 && len(c.Evaluations) == 0
}

// CommitCycle writes c for the receivers in one transaction, and only while lead still holds
// leadership: a deposed leader's late cycle is refused with ErrNotLeader and changes nothing.
func (s *Store) CommitCycle(ctx context.Context, lead *Leadership, receivers []string, c *CycleChange) error {
	if lead != nil && lead.ended() {
		return ErrNotLeader
	}
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		if lead != nil {
			var held bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
					AND classid::bigint = $1::bigint AND objid::bigint = $2::bigint AND objsubid = 2 AND pid = $3::int AND granted)`,
				int64(lead.k1), int64(lead.k2), int64(lead.pid)).Scan(&held); err != nil {
				return err
			}
			if !held {
				return ErrNotLeader
			}
		}
		if c.Cursor != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO alert_evaluator_state (key, ts) VALUES ('ping_cursor', $1)
				ON CONFLICT (key) DO UPDATE SET ts = excluded.ts, updated_at = now()`, c.Cursor.UTC()); err != nil {
				return err
			}
		}
		if err := writeDeviceStates(ctx, tx, c.Devices); err != nil {
			return err
		}
		if err := writePending(ctx, tx, c.PendingSet, c.PendingDelete); err != nil {
			return err
		}
		if err := insertAlerts(ctx, tx, c.NewAlerts); err != nil {
			return err
		}
		if err := updateAlerts(ctx, tx, c.Updated); err != nil {
			return err
		}
		if err := insertOutbox(ctx, tx, receivers, c.Notify); err != nil {
			return err
		}
		return writeEvaluations(ctx, tx, c.Evaluations)
	})
	if err != nil {
		return fmt.Errorf("cannot commit evaluation: %w", err)
	}
	return nil
}

func writeDeviceStates(ctx context.Context, tx pgx.Tx, ds []model.DeviceState) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	ids, ups, since, last, hist, hlen, flap := make([]int64, n), make([]bool, n), make([]time.Time, n),
		make([]time.Time, n), make([]int64, n), make([]int16, n), make([]bool, n)
	for i, d := range ds {
		ids[i], ups[i], since[i], last[i], hist[i], hlen[i], flap[i] = d.DeviceID, d.Up, d.Since.UTC(), d.LastProbe.UTC(),
			int64(d.History), int16(d.HistoryLen), d.Flapping
	}
	_, err := tx.Exec(ctx, `INSERT INTO alert_device_state (device_id, up, since, last_probe, history, history_len, flapping)
		SELECT * FROM unnest($1::bigint[], $2::boolean[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::smallint[], $7::boolean[])
		ON CONFLICT (device_id) DO UPDATE SET up = excluded.up, since = excluded.since, last_probe = excluded.last_probe,
			history = excluded.history, history_len = excluded.history_len, flapping = excluded.flapping`,
		ids, ups, since, last, hist, hlen, flap)
	if err != nil {
		return fmt.Errorf("device states: %w", err)
	}
	return nil
}

func writePending(ctx context.Context, tx pgx.Tx, set, del []model.Pending) error {
	if len(del) > 0 {
		rules, devs, inst := make([]int64, len(del)), make([]int64, len(del)), make([]string, len(del))
		for i, p := range del {
			rules[i], devs[i], inst[i] = p.RuleID, p.DeviceID, p.Instance
		}
		if _, err := tx.Exec(ctx, `DELETE FROM alert_pending p USING unnest($1::bigint[], $2::bigint[], $3::text[]) AS x(r, d, i)
			WHERE p.rule_id = x.r AND p.device_id = x.d AND p.instance = x.i`, rules, devs, inst); err != nil {
			return fmt.Errorf("pending timers: %w", err)
		}
	}
	if len(set) > 0 {
		n := len(set)
		rules, devs, inst, since, vals := make([]int64, n), make([]int64, n), make([]string, n), make([]time.Time, n), make([]*float64, n)
		for i, p := range set {
			rules[i], devs[i], inst[i], since[i], vals[i] = p.RuleID, p.DeviceID, p.Instance, p.ActiveSince.UTC(), p.Value
		}
		if _, err := tx.Exec(ctx, `INSERT INTO alert_pending (rule_id, device_id, instance, active_since, value)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::float8[])
			ON CONFLICT (rule_id, device_id, instance) DO UPDATE SET value = excluded.value`, rules, devs, inst, since, vals); err != nil {
			return fmt.Errorf("pending timers: %w", err)
		}
	}
	return nil
}

type alertCols struct {
	ids, rules, devs, supp                    []*int64
	inst, sev, hold, fp, summary, labels, ann []string
	fired, opened                             []time.Time
	resolved, notified                        []*time.Time
	vals                                      []*float64
}

func columnsOf(as []*model.AlertRecord) (alertCols, error) {
	var c alertCols
	for _, a := range as {
		lb, err := json.Marshal(nonNil(a.Labels))
		if err != nil {
			return c, err
		}
		an, err := json.Marshal(nonNil(a.Annotations))
		if err != nil {
			return c, err
		}
		c.ids = append(c.ids, &a.ID)
		c.rules = append(c.rules, &a.RuleID)
		c.devs = append(c.devs, nullID(a.DeviceID))
		c.supp = append(c.supp, nullID(a.SuppressedBy))
		c.inst, c.sev, c.hold, c.fp = append(c.inst, a.Instance), append(c.sev, a.Severity), append(c.hold, a.HoldReason), append(c.fp, a.Fingerprint)
		c.summary, c.labels, c.ann = append(c.summary, a.Summary), append(c.labels, string(lb)), append(c.ann, string(an))
		c.fired, c.opened = append(c.fired, a.FiredAt.UTC()), append(c.opened, a.OpenedAt.UTC())
		c.resolved, c.notified, c.vals = append(c.resolved, utcPtr(a.ResolvedAt)), append(c.notified, utcPtr(a.NotifiedAt)), append(c.vals, a.Value)
	}
	return c, nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func insertAlerts(ctx context.Context, tx pgx.Tx, as []*model.AlertRecord) error {
	if len(as) == 0 {
		return nil
	}
	c, err := columnsOf(as)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `INSERT INTO alert_history (rule_id, device_id, instance, severity, fired_at, opened_at,
			resolved_at, notified_at, hold_reason, suppressed_by, value, fingerprint, summary, labels, annotations)
		SELECT r, d, i, sv, f, o, rs, n, h, su, v, fp, sm, lb::jsonb, an::jsonb FROM unnest($1::bigint[], $2::bigint[], $3::text[],
			$4::text[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::bigint[],
			$11::float8[], $12::text[], $13::text[], $14::text[], $15::text[]) WITH ORDINALITY AS x(r, d, i, sv, f, o, rs, n, h, su, v, fp, sm, lb, an, ord)
		ORDER BY ord RETURNING id, rule_id, COALESCE(device_id, 0), instance`,
		c.rules, c.devs, c.inst, c.sev, c.fired, c.opened, c.resolved, c.notified, c.hold, c.supp, c.vals, c.fp, c.summary, c.labels, c.ann)
	if err != nil {
		return fmt.Errorf("new alerts: %w", interpretError(err))
	}
	type key struct {
		rule, dev int64
		inst      string
	}
	ids := map[key]int64{}
	for rows.Next() {
		var id int64
		var k key
		if err := rows.Scan(&id, &k.rule, &k.dev, &k.inst); err != nil {
			rows.Close()
			return fmt.Errorf("new alerts: %w", err)
		}
		ids[k] = id
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("new alerts: %w", interpretError(err))
	}
	// Open alerts are unique by rule, device and instance, so the key finds each row's id.
	for _, a := range as {
		id, ok := ids[key{a.RuleID, a.DeviceID, a.Instance}]
		if !ok {
			return fmt.Errorf("new alerts: no id for rule %d device %d %q", a.RuleID, a.DeviceID, a.Instance)
		}
		a.ID = id
	}
	return nil
}

func updateAlerts(ctx context.Context, tx pgx.Tx, as []*model.AlertRecord) error {
	if len(as) == 0 {
		return nil
	}
	c, err := columnsOf(as)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE alert_history a SET severity = x.sv, fired_at = x.f, resolved_at = x.rs, notified_at = x.n,
			hold_reason = x.h, suppressed_by = x.su, value = x.v, fingerprint = x.fp, summary = x.sm,
			labels = x.lb::jsonb, annotations = x.an::jsonb
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::text[],
			$7::bigint[], $8::float8[], $9::text[], $10::text[], $11::text[], $12::text[]) AS x(id, sv, f, rs, n, h, su, v, fp, sm, lb, an)
		WHERE a.id = x.id`, c.ids, c.sev, c.fired, c.resolved, c.notified, c.hold, c.supp, c.vals, c.fp, c.summary, c.labels, c.ann)
	if err != nil {
		return fmt.Errorf("alert updates: %w", interpretError(err))
	}
	return nil
}

func insertOutbox(ctx context.Context, tx pgx.Tx, receivers []string, ns []Notify) error {
	if len(ns) == 0 || len(receivers) == 0 {
		return nil
	}
	var recv, fps, payloads []string
	var alertIDs []int64
	var resolved []bool
	for _, r := range receivers {
		for _, n := range ns {
			p, err := json.Marshal(n.Payload)
			if err != nil {
				return err
			}
			recv, fps, payloads = append(recv, r), append(fps, n.Alert.Fingerprint), append(payloads, string(p))
			alertIDs, resolved = append(alertIDs, n.Alert.ID), append(resolved, n.Resolved)
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO alert_outbox (receiver, alert_id, fingerprint, resolved, payload)
		SELECT r, a, f, rs, p::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[], $4::boolean[], $5::text[])
			WITH ORDINALITY AS x(r, a, f, rs, p, ord) ORDER BY ord`, recv, alertIDs, fps, resolved, payloads)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

func writeEvaluations(ctx context.Context, tx pgx.Tx, es []RuleEvaluation) error {
	if len(es) == 0 {
		return nil
	}
	ids, at, states, errs := make([]int64, len(es)), make([]time.Time, len(es)), make([]string, len(es)), make([]string, len(es))
	for i, e := range es {
		ids[i], at[i], states[i], errs[i] = e.RuleID, e.At.UTC(), e.State, e.Error
	}
	_, err := tx.Exec(ctx, `UPDATE alert_rules r SET last_eval_at = x.a, last_eval_state = x.s, last_eval_error = x.e
		FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[]) AS x(id, a, s, e) WHERE r.id = x.id`, ids, at, states, errs)
	if err != nil {
		return fmt.Errorf("rule evaluations: %w", err)
	}
	return nil
}

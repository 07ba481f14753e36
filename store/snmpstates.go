package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/wardops/wardops/model"
)

// UpsertSNMPStates writes the latest SNMP poll of each device in one statement. A row older than
// the one stored is ignored (two collectors both polled a device during a hand-over), and so is a
// device deleted meanwhile. LastOK and RebootedAt keep their stored value when the poll does not
// move them; a poll that read no interfaces keeps the stored ones.
func (s *Store) UpsertSNMPStates(ctx context.Context, ss []model.SNMPState) error {
	if len(ss) == 0 {
		return nil
	}
	ids := make([]int64, len(ss))
	at := make([]time.Time, len(ss))
	up := make([]bool, len(ss))
	ok := make([]*time.Time, len(ss))
	boot := make([]*time.Time, len(ss))
	ifAt := make([]*time.Time, len(ss))
	ifs := make([]string, len(ss))
	// One text literal per row: unnest cannot take an array of arrays of different lengths.
	rates := make([]string, len(ss))
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	for i, st := range ss {
		ids[i], at[i], up[i] = st.DeviceID, st.PolledAt.UTC(), st.Up
		ok[i], boot[i], ifAt[i] = opt(st.LastOK), opt(st.RebootedAt), opt(st.InterfacesAt)
		if st.Interfaces == nil {
			st.Interfaces = []model.InterfaceState{}
		}
		b, err := json.Marshal(st.Interfaces)
		if err != nil {
			return fmt.Errorf("cannot encode the interfaces of device %d: %w", st.DeviceID, err)
		}
		ifs[i] = string(b)
		rates[i] = floatArray(st.ErrorRates)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO snmp_states AS s (device_id, polled_at, up, last_ok_at, rebooted_at, interfaces_at,
			interfaces, error_rates)
		SELECT u.device_id, u.polled_at, u.up, u.last_ok_at, u.rebooted_at, u.interfaces_at, u.interfaces::jsonb,
			u.error_rates::double precision[]
		FROM unnest($1::bigint[], $2::timestamptz[], $3::boolean[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
			$7::text[], $8::text[])
			AS u (device_id, polled_at, up, last_ok_at, rebooted_at, interfaces_at, interfaces, error_rates)
		JOIN standalone_devices d ON d.id = u.device_id
		ON CONFLICT (device_id) DO UPDATE SET polled_at = EXCLUDED.polled_at, up = EXCLUDED.up, written_at = now(),
			last_ok_at = COALESCE(EXCLUDED.last_ok_at, s.last_ok_at),
			rebooted_at = COALESCE(EXCLUDED.rebooted_at, s.rebooted_at),
			interfaces_at = COALESCE(EXCLUDED.interfaces_at, s.interfaces_at),
			interfaces = CASE WHEN EXCLUDED.interfaces_at IS NULL THEN s.interfaces ELSE EXCLUDED.interfaces END,
			error_rates = CASE WHEN EXCLUDED.interfaces_at IS NULL THEN s.error_rates ELSE EXCLUDED.error_rates END,
			interfaces_changed_at = CASE WHEN EXCLUDED.interfaces_at IS NULL OR EXCLUDED.interfaces = s.interfaces
				THEN s.interfaces_changed_at ELSE now() END
		WHERE s.polled_at < EXCLUDED.polled_at`, ids, at, up, ok, boot, ifAt, ifs, rates)
	if err != nil {
		return fmt.Errorf("cannot write %d SNMP states: %w", len(ss), err)
	}
	return nil
}

// floatArray is v as a PostgreSQL array literal, NaN included.
func floatArray(v []float64) string {
	b := []byte{'{'}
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	return string(append(b, '}'))
}

// SNMPStates returns the devices' SNMP states written after since by the database's clock, and
// that clock's newest write among them (since when none): the next read's cursor. Interfaces are
// sent only where they changed after since, and decoded (InterfacesRead) only where has, given
// the device and when its interfaces last changed, says the caller does not hold them already;
// has nil decodes all.
func (s *Store) SNMPStates(ctx context.Context, since time.Time, has func(id int64, changed time.Time) bool) ([]model.SNMPState, time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT device_id, polled_at, up, COALESCE(last_ok_at, 'epoch'), COALESCE(rebooted_at, 'epoch'),
		COALESCE(interfaces_at, 'epoch'), interfaces_changed_at, CASE WHEN interfaces_changed_at > $1 THEN interfaces END,
		error_rates, written_at
		FROM snmp_states WHERE written_at > $1`, since.UTC())
	if err != nil {
		return nil, since, fmt.Errorf("cannot read SNMP states: %w", err)
	}
	defer rows.Close()
	newest := since
	var out []model.SNMPState
	epoch := time.Unix(0, 0)
	zero := func(t *time.Time) {
		if t.Equal(epoch) {
			*t = time.Time{}
		}
	}
	for rows.Next() {
		var st model.SNMPState
		var ifs []byte
		var written time.Time
		if err := rows.Scan(&st.DeviceID, &st.PolledAt, &st.Up, &st.LastOK, &st.RebootedAt, &st.InterfacesAt,
			&st.InterfacesChanged, &ifs, &st.ErrorRates, &written); err != nil {
			return nil, since, fmt.Errorf("cannot read SNMP states: %w", err)
		}
		if written.After(newest) {
			newest = written
		}
		zero(&st.LastOK)
		zero(&st.RebootedAt)
		zero(&st.InterfacesAt)
		if ifs != nil && (has == nil || !has(st.DeviceID, st.InterfacesChanged)) {
			st.InterfacesRead = true
			if err := json.Unmarshal(ifs, &st.Interfaces); err != nil {
				return nil, since, fmt.Errorf("cannot read the SNMP state of device %d: %w", st.DeviceID, err)
			}
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, since, fmt.Errorf("cannot read SNMP states: %w", err)
	}
	return out, newest, nil
}

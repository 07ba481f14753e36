package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

const deviceColumns = `d.id, d.name, d.ip, d.vendor, d.device_type, COALESCE(d.branch_id, 0), COALESCE(b.name, ''),
	COALESCE(b.region, ''), d.enabled, d.parent_device_id,
	COALESCE(c.version, d.snmp_version), d.snmp_port, COALESCE(c.name, ''),
	COALESCE(c.username, ''), COALESCE(c.auth_protocol, ''), COALESCE(c.priv_protocol, ''),
	d.snmp_profiles, COALESCE(d.ping_interval_seconds, 0), d.created_at, d.updated_at`

// secretColumns are the sealed SNMP secrets and their key ids. Only LoadFleet, for the collector,
// selects them: lists and details never carry a secret out of PostgreSQL, even sealed.
const secretColumns = `, d.snmp_community, d.secret_key_id, c.id IS NOT NULL,
	COALESCE(c.community, ''), COALESCE(c.auth_key, ''), COALESCE(c.priv_key, ''), c.secret_key_id`

const deviceFrom = `standalone_devices d
	LEFT JOIN branches b ON b.id = d.branch_id
	LEFT JOIN snmp_credentials c ON c.id = d.snmp_credential_id`

func scanDevice(row pgx.Row) (model.Device, error) {
	d, dest := deviceDest()
	err := row.Scan(dest...)
	d.finish()
	return d.Device, err
}

// scannedDevice is a device row being scanned, with the fields that need converting after.
type scannedDevice struct {
	model.Device
	ip      netip.Prefix
	pingSec int
}

func deviceDest() (*scannedDevice, []any) {
	d := &scannedDevice{}
	return d, []any{&d.ID, &d.Name, &d.ip, &d.Vendor, &d.DeviceType, &d.BranchID, &d.Branch, &d.Region,
		&d.Enabled, &d.ParentID, &d.SNMP.Version, &d.SNMP.Port, &d.SNMP.Credential,
		&d.SNMP.Username, &d.SNMP.AuthProtocol, &d.SNMP.PrivProtocol,
		&d.Profiles, &d.pingSec, &d.CreatedAt, &d.UpdatedAt}
}

func (d *scannedDevice) finish() {
	d.IP = d.ip.Addr()
	d.PingInterval = time.Duration(d.pingSec) * time.Second
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
}

// scanFleetDevice scans a device with its secretColumns and opens the secrets.
func (s *Store) scanFleetDevice(row pgx.CollectableRow) (model.Device, error) {
	d, dest := deviceDest()
	var devComm, credComm, credAuth, credPriv string
	var devKey, credKey *string
	var onCred bool
	if err := row.Scan(append(dest, &devComm, &devKey, &onCred, &credComm, &credAuth, &credPriv, &credKey)...); err != nil {
		return model.Device{}, err
	}
	d.finish()
	if !onCred {
		c, err := s.openSecrets(devKey, field{"standalone_devices.snmp_community", devComm})
		if err != nil {
			return model.Device{}, fmt.Errorf("device %d: %w", d.ID, err)
		}
		d.SNMP.Community = model.Secret(c[0])
		return d.Device, nil
	}
	c, err := s.openSecrets(credKey, field{"snmp_credentials.community", credComm},
		field{"snmp_credentials.auth_key", credAuth}, field{"snmp_credentials.priv_key", credPriv})
	if err != nil {
		return model.Device{}, fmt.Errorf("credential %q of device %d: %w", d.SNMP.Credential, d.ID, err)
	}
	d.SNMP.Community, d.SNMP.AuthKey, d.SNMP.PrivKey = model.Secret(c[0]), model.Secret(c[1]), model.Secret(c[2])
	return d.Device, nil
}

// LoadFleet reads every enabled device and its enabled items in two queries, whatever the fleet size.
func (s *Store) LoadFleet(ctx context.Context) (*model.Fleet, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deviceColumns+secretColumns+` FROM `+deviceFrom+` WHERE d.enabled ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("cannot load devices: %w", err)
	}
	devs, err := pgx.CollectRows(rows, s.scanFleetDevice)
	if err != nil {
		return nil, fmt.Errorf("cannot load devices: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT i.id, i.device_id, i.name, i.oid, i.kind, i.value_type, i.labels,
			i.profile, COALESCE(i.interval_seconds, 0), i.enabled, i.table_name, i.fallback_oid, i.fallback_table, i.fallback_divisor
		FROM monitoring_items i JOIN standalone_devices d ON d.id = i.device_id
		WHERE i.enabled AND d.enabled ORDER BY i.device_id, i.id`)
	if err != nil {
		return nil, fmt.Errorf("cannot load monitoring items: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("cannot load monitoring items: %w", err)
	}
	f := &model.Fleet{Devices: devs, Items: make(map[int64][]model.Item, len(devs))}
	for _, it := range items {
		f.Items[it.DeviceID] = append(f.Items[it.DeviceID], it)
	}
	return f, nil
}

func scanItem(r pgx.CollectableRow) (model.Item, error) {
	var it model.Item
	var labels []byte
	var sec int
	if err := r.Scan(&it.ID, &it.DeviceID, &it.Name, &it.OID, &it.Kind, &it.ValueType, &labels, &it.Profile, &sec, &it.Enabled,
		&it.Table, &it.Fallback.OID, &it.Fallback.Table, &it.Fallback.Divisor); err != nil {
		return it, err
	}
	it.Interval = time.Duration(sec) * time.Second
	if it.Fallback.OID == "" {
		it.Fallback = model.ItemFallback{} // the column's default divisor 1 means nothing without a fallback
	}
	if err := json.Unmarshal(labels, &it.Labels); err != nil {
		return it, fmt.Errorf("item %d: bad labels: %w", it.ID, err)
	}
	return it, nil
}

// ListDevices returns every device, enabled or not, ordered by id, without its SNMP secrets.
func (s *Store) ListDevices(ctx context.Context) ([]model.Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deviceColumns+` FROM `+deviceFrom+` ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list devices: %w", err)
	}
	devs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Device, error) { return scanDevice(r) })
	if err != nil {
		return nil, fmt.Errorf("cannot list devices: %w", err)
	}
	return devs, nil
}

// GetDevice returns one device, without its SNMP secrets, or model.ErrNotFound.
func (s *Store) GetDevice(ctx context.Context, id int64) (model.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceColumns+` FROM `+deviceFrom+` WHERE d.id = $1`, id))
	if err != nil {
		return model.Device{}, fmt.Errorf("cannot get device %d: %w", id, interpretError(err))
	}
	return d, nil
}

// DeviceItems returns all monitoring items of a device, enabled or not.
func (s *Store) DeviceItems(ctx context.Context, deviceID int64) ([]model.Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, device_id, name, oid, kind, value_type, labels, profile,
			COALESCE(interval_seconds, 0), enabled, table_name, fallback_oid, fallback_table, fallback_divisor
		FROM monitoring_items WHERE device_id = $1 ORDER BY id`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("cannot list items of device %d: %w", deviceID, err)
	}
	items, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("cannot list items of device %d: %w", deviceID, err)
	}
	return items, nil
}

// ListBranches returns every branch ordered by name.
func (s *Store) ListBranches(ctx context.Context) ([]model.Branch, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, region, created_at, updated_at FROM branches ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("cannot list branches: %w", err)
	}
	bs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[model.Branch])
	if err != nil {
		return nil, fmt.Errorf("cannot list branches: %w", err)
	}
	return bs, nil
}

// SetDeviceEnabled enables or disables one device.
func (s *Store) SetDeviceEnabled(ctx context.Context, id int64, enabled bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE standalone_devices SET enabled = $2, updated_at = now() WHERE id = $1`, id, enabled)
	if err != nil {
		return fmt.Errorf("cannot update device %d: %w", id, interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot update device %d: %w", id, model.ErrNotFound)
	}
	return nil
}

// DeleteDevice deletes one device with its items and alerts.
func (s *Store) DeleteDevice(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM standalone_devices WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("cannot delete device %d: %w", id, interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot delete device %d: %w", id, model.ErrNotFound)
	}
	return nil
}

// FleetVersion is a cheap fingerprint of everything LoadFleet reads: row counts (deletions) and
// newest updated_at (inserts, updates) of devices, items, branches and credentials. The collector
// reloads the fleet only when it changes, so a quiet inventory of 100,000 devices costs one tiny
// query per reload period instead of two large ones.
func (s *Store) FleetVersion(ctx context.Context) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT concat_ws('/',
		(SELECT count(*) || ':' || COALESCE(max(updated_at)::text, '') FROM standalone_devices),
		(SELECT count(*) || ':' || COALESCE(max(updated_at)::text, '') FROM monitoring_items),
		(SELECT count(*) || ':' || COALESCE(max(updated_at)::text, '') FROM branches),
		(SELECT count(*) || ':' || COALESCE(max(updated_at)::text, '') FROM snmp_credentials))`).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("cannot read fleet version: %w", err)
	}
	return v, nil
}

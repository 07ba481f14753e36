package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

// CreateDevice inserts a device and its profile items in one transaction and returns its id.
// A taken name or IP gives model.ErrConflict; an unknown branch, parent or credential a *model.RefError.
func (s *Store) CreateDevice(ctx context.Context, in model.DeviceChange) (int64, error) {
	var id int64
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		credID, err := checkDeviceRefs(ctx, tx, in, 0)
		if err != nil {
			return err
		}
		kid, sealed, err := s.sealSecrets(field{"standalone_devices.snmp_community", in.SNMPCommunity.Reveal()})
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO standalone_devices (name, ip, vendor, device_type, branch_id, enabled,
				parent_device_id, snmp_version, snmp_community, snmp_port, snmp_credential_id, snmp_profiles, ping_interval_seconds,
				secret_key_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			in.Name, prefixOf(in.IP), in.Vendor, in.DeviceType, in.BranchID, in.Enabled, in.ParentID, in.SNMPVersion,
			sealed[0], in.SNMPPort, credID, profilesOrEmpty(in.Profiles), in.PingIntervalSeconds, kid).Scan(&id)
		if err != nil {
			return interpretError(err)
		}
		return replaceItems(ctx, tx, in)
	})
	if err != nil {
		return 0, fmt.Errorf("cannot create device %q: %w", in.Name, err)
	}
	return id, nil
}

// UpdateDevice replaces every field of a device (the caller merges a partial update onto the
// current row first) and, when in.ReplaceItems, its profile items. Unknown id gives model.ErrNotFound.
func (s *Store) UpdateDevice(ctx context.Context, id int64, in model.DeviceChange) error {
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		credID, err := checkDeviceRefs(ctx, tx, in, id)
		if err != nil {
			return err
		}
		kid, sealed, err := s.sealSecrets(field{"standalone_devices.snmp_community", in.SNMPCommunity.Reveal()})
		if err != nil {
			return err
		}
		// KeepSecret leaves the stored community and its key id as they are ($16).
		tag, err := tx.Exec(ctx, `UPDATE standalone_devices SET name = $2, ip = $3, vendor = $4, device_type = $5,
				branch_id = $6, enabled = $7, parent_device_id = $8, snmp_version = $9,
				snmp_community = CASE WHEN $16 THEN snmp_community ELSE $10 END,
				secret_key_id = CASE WHEN $16 THEN secret_key_id ELSE $15 END,
				snmp_port = $11, snmp_credential_id = $12, snmp_profiles = $13, ping_interval_seconds = $14, updated_at = now()
			WHERE id = $1`,
			id, in.Name, prefixOf(in.IP), in.Vendor, in.DeviceType, in.BranchID, in.Enabled, in.ParentID, in.SNMPVersion,
			sealed[0], in.SNMPPort, credID, profilesOrEmpty(in.Profiles), in.PingIntervalSeconds, kid, in.KeepSecret)
		if err != nil {
			return interpretError(err)
		}
		if tag.RowsAffected() == 0 {
			return model.ErrNotFound
		}
		if !in.ReplaceItems {
			return nil
		}
		return replaceItems(ctx, tx, in)
	})
	if err != nil {
		return fmt.Errorf("cannot update device %d: %w", id, err)
	}
	return nil
}

// checkDeviceRefs resolves the credential and checks branch and parent, so a bad reference is
// reported by field instead of as a bare foreign-key violation.
func checkDeviceRefs(ctx context.Context, tx pgx.Tx, in model.DeviceChange, self int64) (*int64, error) {
	var branchOK, parentOK bool
	var credID *int64
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM branches WHERE id = $1),
			$2::bigint IS NULL OR EXISTS (SELECT 1 FROM standalone_devices WHERE id = $2 AND id <> $3),
			(SELECT id FROM snmp_credentials WHERE name = $4 AND $4 <> '')`,
		in.BranchID, in.ParentID, self, in.Credential).Scan(&branchOK, &parentOK, &credID)
	if err != nil {
		return nil, fmt.Errorf("cannot check references: %w", err)
	}
	switch {
	case !branchOK:
		return nil, &model.RefError{Field: "branch_id", Value: fmt.Sprint(in.BranchID)}
	case !parentOK:
		return nil, &model.RefError{Field: "parent_id", Value: fmt.Sprint(*in.ParentID)}
	case in.Credential != "" && credID == nil:
		return nil, &model.RefError{Field: "snmp.credential", Value: fmt.Sprintf("%q", in.Credential)}
	}
	return credID, nil
}

// replaceItems makes the device's profile items exactly in.Items, through the importer's upsert.
func replaceItems(ctx context.Context, tx pgx.Tx, in model.DeviceChange) error {
	_, _, err := upsertItems(ctx, tx, []model.ImportDevice{{Name: in.Name, IP: in.IP.String(), Items: in.Items}})
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return err
	}
	return nil
}

func prefixOf(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }

func profilesOrEmpty(p []string) []string {
	if p == nil {
		return []string{}
	}
	return p
}

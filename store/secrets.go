package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/model"
)

// SNMP communities and v3 keys are stored sealed (AES-256-GCM, internal/seal) with the id of their
// key in the row's secret_key_id; NULL there means plaintext left from before migration 0040,
// which SealPlaintext seals. The store seals on every write and opens only in LoadFleet.

// field is one secret column's name (bound into its ciphertext) and value.
type field struct{ name, value string }

// sealSecrets seals a row's secret values under the current key. A row without secrets gets a
// NULL key id; a store without keys refuses any secret with model.ErrNoSecretKey.
func (s *Store) sealSecrets(fs ...field) (*string, []string, error) {
	out := make([]string, len(fs))
	any := false
	for _, f := range fs {
		any = any || f.value != ""
	}
	if !any {
		return nil, out, nil
	}
	if s.keys == nil {
		return nil, nil, model.ErrNoSecretKey
	}
	for i, f := range fs {
		v, err := s.keys.Seal(f.name, f.value)
		if err != nil {
			return nil, nil, err
		}
		out[i] = v
	}
	kid := s.keys.Current()
	return &kid, out, nil
}

// openSecrets opens a row's sealed values; with a NULL key id they are plaintext.
func (s *Store) openSecrets(kid *string, fs ...field) ([]string, error) {
	out := make([]string, len(fs))
	if kid == nil {
		for i, f := range fs {
			out[i] = f.value
		}
		return out, nil
	}
	if s.keys == nil {
		return nil, fmt.Errorf("secrets sealed under key %q but no secret key is configured: %w", *kid, seal.ErrUnknownKey)
	}
	for i, f := range fs {
		v, err := s.keys.Open(*kid, f.name, f.value)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// PlaintextSecrets counts rows whose secrets are not sealed yet.
func (s *Store) PlaintextSecrets(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM snmp_credentials WHERE secret_key_id IS NULL AND (community, auth_key, priv_key) <> ('', '', '')) +
		(SELECT count(*) FROM standalone_devices WHERE secret_key_id IS NULL AND snmp_community <> '')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("cannot count plaintext secrets: %w", err)
	}
	return n, nil
}

// SealPlaintext seals every plaintext secret under the current key, in one transaction; it is
// what `wardops migrate` (and every start with a key) runs after the migrations.
func (s *Store) SealPlaintext(ctx context.Context) (int, error) {
	return s.reseal(ctx, `secret_key_id IS NULL`, "cannot seal plaintext secrets")
}

// RotateKey re-seals every secret not sealed under the current key (plaintext included) in one
// transaction: a failure leaves every row as it was. The old key can leave the key file after.
func (s *Store) RotateKey(ctx context.Context) (int, error) {
	return s.reseal(ctx, `secret_key_id IS DISTINCT FROM $1`, "cannot rotate secret key")
}

func (s *Store) reseal(ctx context.Context, where, what string) (int, error) {
	if s.keys == nil {
		return 0, fmt.Errorf("%s: %w", what, model.ErrNoSecretKey)
	}
	args := []any{}
	if where != `secret_key_id IS NULL` {
		args = append(args, s.keys.Current())
	}
	n := 0
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		type cred struct {
			id                  int64
			kid                 *string
			comm, auth, privKey string
		}
		rows, err := tx.Query(ctx, `SELECT id, secret_key_id, community, auth_key, priv_key FROM snmp_credentials
			WHERE `+where+` AND (community, auth_key, priv_key) <> ('', '', '') FOR UPDATE`, args...)
		if err != nil {
			return err
		}
		var creds []cred
		var c cred
		if _, err := pgx.ForEachRow(rows, []any{&c.id, &c.kid, &c.comm, &c.auth, &c.privKey}, func() error {
			creds = append(creds, c)
			return nil
		}); err != nil {
			return err
		}
		for _, c := range creds {
			fs := []field{{"snmp_credentials.community", c.comm}, {"snmp_credentials.auth_key", c.auth}, {"snmp_credentials.priv_key", c.privKey}}
			plain, err := s.openSecrets(c.kid, fs...)
			if err != nil {
				return fmt.Errorf("credential %d: %w", c.id, err)
			}
			for i := range fs {
				fs[i].value = plain[i]
			}
			kid, sealed, err := s.sealSecrets(fs...)
			if err != nil {
				return err
			}
			// updated_at stays: the plaintext did not change, so the collector has nothing to reload.
			if _, err := tx.Exec(ctx, `UPDATE snmp_credentials SET community = $2, auth_key = $3, priv_key = $4, secret_key_id = $5
				WHERE id = $1`, c.id, sealed[0], sealed[1], sealed[2], kid); err != nil {
				return err
			}
			n++
		}
		type dev struct {
			id   int64
			kid  *string
			comm string
		}
		rows, err = tx.Query(ctx, `SELECT id, secret_key_id, snmp_community FROM standalone_devices
			WHERE `+where+` AND snmp_community <> '' FOR UPDATE`, args...)
		if err != nil {
			return err
		}
		var devs []dev
		var d dev
		if _, err := pgx.ForEachRow(rows, []any{&d.id, &d.kid, &d.comm}, func() error {
			devs = append(devs, d)
			return nil
		}); err != nil {
			return err
		}
		for _, d := range devs {
			plain, err := s.openSecrets(d.kid, field{"standalone_devices.snmp_community", d.comm})
			if err != nil {
				return fmt.Errorf("device %d: %w", d.id, err)
			}
			kid, sealed, err := s.sealSecrets(field{"standalone_devices.snmp_community", plain[0]})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE standalone_devices SET snmp_community = $2, secret_key_id = $3 WHERE id = $1`,
				d.id, sealed[0], kid); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

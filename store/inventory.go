package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

var errDryRun = errors.New("dry run: rolled back")

// ImportInventory upserts credentials, branches, devices (by IP), parents and profile items in one
// transaction, with one statement per table whatever the fleet size. A row whose name belongs to
// another IP already in the database, or whose parent is unknown, fails the whole import with a
// *model.LinesError; rows that do not differ are left untouched (updated_at does not move). With dryRun
// everything is checked against the database and then rolled back.
func (s *Store) ImportInventory(ctx context.Context, creds []model.ImportCredential, devs []model.ImportDevice, dryRun bool) (model.ImportStats, error) {
	var st model.ImportStats
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		if err := s.upsertCredentials(ctx, tx, creds); err != nil {
			return err
		}
		if err := checkNameConflicts(ctx, tx, devs); err != nil {
			return err
		}
		n, err := upsertBranches(ctx, tx, devs)
		if err != nil {
			return err
		}
		st.BranchesCreated = n
		if st.DevicesCreated, st.DevicesUpdated, err = s.upsertDevices(ctx, tx, devs); err != nil {
			return err
		}
		st.DevicesUnchanged = len(devs) - st.DevicesCreated - st.DevicesUpdated
		if err := setParents(ctx, tx, devs); err != nil {
			return err
		}
		if st.ItemsUpserted, st.ItemsDeleted, err = upsertItems(ctx, tx, devs); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return st, nil
	}
	if err != nil {
		return model.ImportStats{}, fmt.Errorf("cannot import inventory: %w", err)
	}
	return st, nil
}

func (s *Store) upsertCredentials(ctx context.Context, tx pgx.Tx, creds []model.ImportCredential) error {
	for _, c := range creds {
		fs := []field{{"snmp_credentials.community", c.Community.Reveal()}, {"snmp_credentials.auth_key", c.AuthKey.Reveal()},
			{"snmp_credentials.priv_key", c.PrivKey.Reveal()}}
		kid, sealed, err := s.keepOrSeal(ctx, tx, `SELECT secret_key_id, community, auth_key, priv_key FROM snmp_credentials WHERE name = $1`, c.Name, fs)
		if err != nil {
			return fmt.Errorf("cannot seal credential %q: %w", c.Name, err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO snmp_credentials (name, version, community, username, auth_protocol, auth_key, priv_protocol, priv_key, secret_key_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (name) DO UPDATE SET version = excluded.version, community = excluded.community,
				username = excluded.username, auth_protocol = excluded.auth_protocol, auth_key = excluded.auth_key,
				priv_protocol = excluded.priv_protocol, priv_key = excluded.priv_key, secret_key_id = excluded.secret_key_id, updated_at = now()
			WHERE (snmp_credentials.version, snmp_credentials.community, snmp_credentials.username,
				snmp_credentials.auth_protocol, snmp_credentials.auth_key, snmp_credentials.priv_protocol, snmp_credentials.priv_key,
				snmp_credentials.secret_key_id)
				IS DISTINCT FROM (excluded.version, excluded.community, excluded.username, excluded.auth_protocol,
				excluded.auth_key, excluded.priv_protocol, excluded.priv_key, excluded.secret_key_id)`,
			c.Name, c.Version, sealed[0], c.Username, c.AuthProtocol, sealed[1], c.PrivProtocol, sealed[2], kid)
		if err != nil {
			// Never echo the secret values: name the credential only.
			return fmt.Errorf("cannot upsert credential %q: %w", c.Name, interpretError(err))
		}
	}
	return nil
}

// keepOrSeal seals fs for a row, reusing the stored ciphertext when the stored secrets open to the
// same values: sealing draws a fresh nonce, so re-sealing unchanged secrets would make every
// import rewrite every row (and move updated_at, which makes the collector reload).
func (s *Store) keepOrSeal(ctx context.Context, tx pgx.Tx, sel string, key any, fs []field) (*string, []string, error) {
	var kid *string
	stored := make([]string, len(fs))
	dest := []any{&kid}
	for i := range stored {
		dest = append(dest, &stored[i])
	}
	err := tx.QueryRow(ctx, sel, key).Scan(dest...)
	if err == nil && (kid != nil || s.keys == nil) {
		cur := make([]field, len(fs))
		for i, f := range fs {
			cur[i] = field{f.name, stored[i]}
		}
		if plain, oerr := s.openSecrets(kid, cur...); oerr == nil && (kid == nil || *kid == s.keys.Current()) {
			same := true
			for i := range fs {
				same = same && plain[i] == fs[i].value
			}
			if same {
				return kid, stored, nil
			}
		}
	} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, err
	}
	return s.sealSecrets(fs...)
}

// checkNameConflicts rejects rows whose name already belongs to a device with another IP, and rows
// naming a credential that does not exist.
func checkNameConflicts(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice) error {
	names := make([]string, len(devs))
	creds := make([]string, len(devs))
	for i, d := range devs {
		names[i], creds[i] = d.Name, d.Credential
	}
	rows, err := tx.Query(ctx, `SELECT name, host(ip) FROM standalone_devices WHERE name = ANY($1)`, names)
	if err != nil {
		return fmt.Errorf("cannot check device names: %w", err)
	}
	owner := map[string]string{}
	var n, ip string
	if _, err := pgx.ForEachRow(rows, []any{&n, &ip}, func() error { owner[n] = ip; return nil }); err != nil {
		return fmt.Errorf("cannot check device names: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT name FROM snmp_credentials WHERE name = ANY($1)`, creds)
	if err != nil {
		return fmt.Errorf("cannot check credentials: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("cannot check credentials: %w", err)
	}
	haveCred := map[string]bool{}
	for _, k := range known {
		haveCred[k] = true
	}
	var bad []model.LineError
	for _, d := range devs {
		if ip, ok := owner[d.Name]; ok && ip != d.IP {
			bad = append(bad, model.LineError{Line: d.Line, Reason: fmt.Sprintf("name %q already belongs to device %s", d.Name, ip)})
		}
		if d.Credential != "" && !haveCred[d.Credential] {
			bad = append(bad, model.LineError{Line: d.Line, Reason: fmt.Sprintf("unknown SNMP credential %q", d.Credential)})
		}
	}
	if len(bad) > 0 {
		return &model.LinesError{Lines: bad}
	}
	return nil
}

func upsertBranches(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice) (int, error) {
	region := map[string]string{}
	var names, regions []string
	for _, d := range devs {
		if _, ok := region[d.Branch]; !ok {
			region[d.Branch] = d.Region
			names = append(names, d.Branch)
			regions = append(regions, d.Region)
		}
	}
	rows, err := tx.Query(ctx, `INSERT INTO branches (name, region)
		SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (name) DO UPDATE SET region = excluded.region, updated_at = now()
		WHERE branches.region IS DISTINCT FROM excluded.region
		RETURNING (xmax = 0)`, names, regions)
	if err != nil {
		return 0, fmt.Errorf("cannot upsert branches: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return 0, fmt.Errorf("cannot upsert branches: %w", err)
	}
	n := 0
	for _, ins := range inserted {
		if ins {
			n++
		}
	}
	return n, nil
}

func (s *Store) upsertDevices(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice) (created, updated int, err error) {
	var name, ip, vendor, typ, branch, ver, comm, cred, profiles []string
	var kids []*string
	var enabled []bool
	var port []int32
	sealed, err := s.sealDeviceCommunities(ctx, tx, devs)
	if err != nil {
		return 0, 0, err
	}
	for i, d := range devs {
		name, ip, vendor, typ = append(name, d.Name), append(ip, d.IP), append(vendor, d.Vendor), append(typ, d.DeviceType)
		branch, ver, comm, cred = append(branch, d.Branch), append(ver, d.SNMPVersion), append(comm, sealed[i].value), append(cred, d.Credential)
		kids = append(kids, sealed[i].kid)
		profiles = append(profiles, strings.Join(d.Profiles, ";"))
		enabled, port = append(enabled, d.Enabled), append(port, int32(d.SNMPPort))
	}
	rows, err := tx.Query(ctx, `INSERT INTO standalone_devices AS t (name, ip, vendor, device_type, branch_id, enabled,
			snmp_version, snmp_community, snmp_port, snmp_credential_id, snmp_profiles, secret_key_id)
		SELECT x.name, x.ip::inet, x.vendor, x.typ, b.id, x.enabled, x.ver, x.comm, x.port, c.id,
			CASE WHEN x.profiles = '' THEN '{}'::text[] ELSE string_to_array(x.profiles, ';') END, x.kid
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[],
			$9::int[], $10::text[], $11::text[], $12::text[]) AS x(name, ip, vendor, typ, branch, enabled, ver, comm, port, cred, profiles, kid)
		JOIN branches b ON b.name = x.branch
		LEFT JOIN snmp_credentials c ON c.name = x.cred AND x.cred <> ''
		ON CONFLICT (ip) DO UPDATE SET name = excluded.name, vendor = excluded.vendor, device_type = excluded.device_type,
			branch_id = excluded.branch_id, enabled = excluded.enabled, snmp_version = excluded.snmp_version,
			snmp_community = excluded.snmp_community, snmp_port = excluded.snmp_port,
			snmp_credential_id = excluded.snmp_credential_id, snmp_profiles = excluded.snmp_profiles,
			secret_key_id = excluded.secret_key_id, updated_at = now()
		WHERE (t.name, t.vendor, t.device_type, t.branch_id, t.enabled, t.snmp_version, t.snmp_community,
			t.snmp_port, t.snmp_credential_id, t.snmp_profiles, t.secret_key_id)
		IS DISTINCT FROM (excluded.name, excluded.vendor, excluded.device_type, excluded.branch_id, excluded.enabled,
			excluded.snmp_version, excluded.snmp_community, excluded.snmp_port, excluded.snmp_credential_id, excluded.snmp_profiles,
			excluded.secret_key_id)
		RETURNING (xmax = 0)`, name, ip, vendor, typ, branch, enabled, ver, comm, port, cred, profiles, kids)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot upsert devices: %w", interpretError(err))
	}
	ins, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot upsert devices: %w", interpretError(err))
	}
	for _, i := range ins {
		if i {
			created++
		} else {
			updated++
		}
	}
	return created, updated, nil
}

type sealedValue struct {
	kid   *string
	value string
}

// sealDeviceCommunities seals each device's community, keeping the stored ciphertext of a device
// (by IP) whose community did not change; one query for the stored ones, whatever the fleet size.
func (s *Store) sealDeviceCommunities(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice) ([]sealedValue, error) {
	ips := make([]string, len(devs))
	for i, d := range devs {
		ips[i] = d.IP
	}
	rows, err := tx.Query(ctx, `SELECT host(ip), secret_key_id, snmp_community FROM standalone_devices WHERE ip = ANY($1::inet[])`, ips)
	if err != nil {
		return nil, fmt.Errorf("cannot read stored communities: %w", err)
	}
	stored := map[string]sealedValue{}
	var ip string
	var sv sealedValue
	if _, err := pgx.ForEachRow(rows, []any{&ip, &sv.kid, &sv.value}, func() error { stored[ip] = sv; return nil }); err != nil {
		return nil, fmt.Errorf("cannot read stored communities: %w", err)
	}
	const col = "standalone_devices.snmp_community"
	out := make([]sealedValue, len(devs))
	for i, d := range devs {
		want := d.SNMPCommunity.Reveal()
		if old, ok := stored[normIP(d.IP)]; ok && (old.kid == nil) == (s.keys == nil) && (old.kid == nil || *old.kid == s.keys.Current()) {
			if plain, err := s.openSecrets(old.kid, field{col, old.value}); err == nil && plain[0] == want {
				out[i] = old
				continue
			}
		}
		kid, sealed, err := s.sealSecrets(field{col, want})
		if err != nil {
			return nil, fmt.Errorf("cannot seal the community of %s: %w", d.IP, err)
		}
		out[i] = sealedValue{kid, sealed[0]}
	}
	return out, nil
}

// normIP is an address as PostgreSQL's host() prints it.
func normIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

func setParents(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice) error {
	var ips, parents []string
	lines := map[string]int{}
	for _, d := range devs {
		for _, p := range model.SplitParents(d.Parent) {
			ips, parents = append(ips, d.IP), append(parents, p)
		}
		lines[d.IP] = d.Line
	}
	rows, err := tx.Query(ctx, `SELECT x.ip, x.parent FROM unnest($1::text[], $2::text[]) AS x(ip, parent)
		WHERE NOT EXISTS (SELECT 1 FROM standalone_devices p WHERE p.name = x.parent)`, ips, parents)
	if err != nil {
		return fmt.Errorf("cannot resolve parents: %w", err)
	}
	type ref struct{ IP, Parent string }
	unknown, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ref])
	if err != nil {
		return fmt.Errorf("cannot resolve parents: %w", err)
	}
	if len(unknown) > 0 {
		le := &model.LinesError{}
		for _, u := range unknown {
			le.Lines = append(le.Lines, model.LineError{Line: lines[u.IP], Reason: fmt.Sprintf("unknown parent device %q", u.Parent)})
		}
		return le
	}
	if err := checkImportCycles(ctx, tx, devs, ips, parents, lines); err != nil {
		return err
	}
	// parent_device_id keeps the first parent for the readers that know one; its trigger replaces
	// the device's device_parents rows, which the statement after it then makes exactly the file's.
	var firstIPs, firsts, allIPs []string
	for _, d := range devs {
		allIPs = append(allIPs, d.IP)
		if ps := model.SplitParents(d.Parent); len(ps) > 0 {
			firstIPs, firsts = append(firstIPs, d.IP), append(firsts, ps[0])
		} else {
			firstIPs, firsts = append(firstIPs, d.IP), append(firsts, "")
		}
	}
	_, err = tx.Exec(ctx, `UPDATE standalone_devices d SET parent_device_id = p.id, updated_at = now()
		FROM unnest($1::text[], $2::text[]) AS x(ip, parent)
		LEFT JOIN standalone_devices p ON p.name = x.parent AND x.parent <> ''
		WHERE d.ip = x.ip::inet AND d.parent_device_id IS DISTINCT FROM p.id`, firstIPs, firsts)
	if err != nil {
		return fmt.Errorf("cannot set parents: %w", interpretError(err))
	}
	_, err = tx.Exec(ctx, `WITH want AS (
			SELECT d.id AS device_id, p.id AS parent_id FROM unnest($1::text[], $2::text[]) AS x(ip, parent)
			JOIN standalone_devices d ON d.ip = x.ip::inet JOIN standalone_devices p ON p.name = x.parent),
		gone AS (
			DELETE FROM device_parents dp USING standalone_devices d
			WHERE dp.device_id = d.id AND d.ip = ANY($3::inet[])
			AND NOT EXISTS (SELECT 1 FROM want w WHERE w.device_id = dp.device_id AND w.parent_id = dp.parent_id))
		INSERT INTO device_parents (device_id, parent_id) SELECT device_id, parent_id FROM want ON CONFLICT DO NOTHING`,
		ips, parents, allIPs)
	if err != nil {
		return fmt.Errorf("cannot set parents: %w", interpretError(err))
	}
	return nil
}

// checkImportCycles refuses parents that would make a device its own ancestor, counting the
// parents already in the database for devices the file does not mention, and names every line on
// a cycle.
func checkImportCycles(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice, ips, parents []string, lines map[string]int) error {
	rows, err := tx.Query(ctx, `SELECT c.name, p.name FROM device_parents dp
		JOIN standalone_devices c ON c.id = dp.device_id JOIN standalone_devices p ON p.id = dp.parent_id
		WHERE host(c.ip) <> ALL($1::text[])`, ips)
	if err != nil {
		return fmt.Errorf("cannot read parents: %w", err)
	}
	type edge struct{ Child, Parent string }
	existing, err := pgx.CollectRows(rows, pgx.RowToStructByPos[edge])
	if err != nil {
		return fmt.Errorf("cannot read parents: %w", err)
	}
	graph := map[string][]string{}
	for _, e := range existing {
		graph[e.Child] = append(graph[e.Child], e.Parent)
	}
	nameOf := map[string]string{}
	lineOf := map[string]int{}
	for _, d := range devs {
		nameOf[d.IP] = d.Name
		lineOf[d.Name] = lines[d.IP]
	}
	for i, ip := range ips {
		graph[nameOf[ip]] = append(graph[nameOf[ip]], parents[i])
	}
	cyc := model.CycleMembers(graph)
	if len(cyc) == 0 {
		return nil
	}
	le := &model.LinesError{}
	// Only the file's lines can be fixed: the database held no cycle before this import.
	for _, name := range cyc {
		if l, inFile := lineOf[name]; inFile {
			le.Lines = append(le.Lines, model.LineError{Line: l, Reason: fmt.Sprintf("parent cycle through %s", name)})
		}
	}
	return le
}

// upsertItems makes each device's profile items exactly what its profiles expand to; items added
// by hand (profile ”) are left alone.
func upsertItems(ctx context.Context, tx pgx.Tx, devs []model.ImportDevice) (upserted, deleted int, err error) {
	var ips, names, oids, kinds, types, profiles, labels, tables, fbOIDs, fbTables, allIPs []string
	var fbDivisors []float64
	for _, d := range devs {
		allIPs = append(allIPs, d.IP)
		for _, it := range d.Items {
			lb, err := json.Marshal(it.Labels)
			if err != nil {
				return 0, 0, fmt.Errorf("item %s: %w", it.Name, err)
			}
			if it.Labels == nil {
				lb = []byte("{}")
			}
			div := it.Fallback.Divisor
			if div == 0 {
				div = 1
			}
			ips, names, oids, kinds = append(ips, d.IP), append(names, it.Name), append(oids, it.OID), append(kinds, it.Kind)
			types, profiles, labels = append(types, it.ValueType), append(profiles, it.Profile), append(labels, string(lb))
			tables, fbOIDs, fbTables, fbDivisors = append(tables, it.Table), append(fbOIDs, it.Fallback.OID), append(fbTables, it.Fallback.Table), append(fbDivisors, div)
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO monitoring_items AS t (device_id, name, oid, kind, value_type, labels, profile,
			table_name, fallback_oid, fallback_table, fallback_divisor)
		SELECT d.id, x.name, x.oid, x.kind, x.vtype, x.labels::jsonb, x.profile, x.tname, x.fboid, x.fbtable, x.fbdiv
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::text[], $10::text[], $11::float8[])
			AS x(ip, name, oid, kind, vtype, labels, profile, tname, fboid, fbtable, fbdiv)
		JOIN standalone_devices d ON d.ip = x.ip::inet
		ON CONFLICT (device_id, name) DO UPDATE SET oid = excluded.oid, kind = excluded.kind,
			value_type = excluded.value_type, labels = excluded.labels, profile = excluded.profile,
			table_name = excluded.table_name, fallback_oid = excluded.fallback_oid,
			fallback_table = excluded.fallback_table, fallback_divisor = excluded.fallback_divisor, updated_at = now()
		WHERE (t.oid, t.kind, t.value_type, t.labels, t.profile, t.table_name, t.fallback_oid, t.fallback_table, t.fallback_divisor)
			IS DISTINCT FROM (excluded.oid, excluded.kind, excluded.value_type, excluded.labels, excluded.profile,
				excluded.table_name, excluded.fallback_oid, excluded.fallback_table, excluded.fallback_divisor)`,
		ips, names, oids, kinds, types, labels, profiles, tables, fbOIDs, fbTables, fbDivisors)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot upsert monitoring items: %w", interpretError(err))
	}
	upserted = int(tag.RowsAffected())
	tag, err = tx.Exec(ctx, `DELETE FROM monitoring_items i USING standalone_devices d
		WHERE d.id = i.device_id AND d.ip = ANY($1::inet[]) AND i.profile <> ''
		AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS x(ip, name)
			WHERE x.ip::inet = d.ip AND x.name = i.name)`, allIPs, ips, names)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot prune monitoring items: %w", err)
	}
	return upserted, int(tag.RowsAffected()), nil
}

package store_test

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// dumpSecrets is what TestDumpHasNoSecret imports and greps the dump for.
var dumpSecrets = []string{"dump-community-7731", "dump-v3-auth-passphrase", "dump-v3-priv-passphrase", "dump-own-community-8842", "legacy-plain-community"}

func pgDump(t *testing.T, dbURL string) string {
	t.Helper()
	bin := testenv.LookBinary(t, "pg_dump", "postgresql-client")
	out, err := exec.Command(bin, "--no-owner", "--inserts", dbURL).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return string(out)
}

func assertNoSecret(t *testing.T, dump, when string) {
	t.Helper()
	if !strings.Contains(dump, "standalone_devices") {
		t.Fatalf("%s: the dump has no inventory", when)
	}
	for _, s := range dumpSecrets {
		if strings.Contains(dump, s) {
			t.Errorf("%s: pg_dump contains %q in clear", when, s)
		}
	}
}

// TestDumpHasNoSecret imports credentials and devices with communities and v3 keys, then checks
// that a pg_dump holds none of them in clear: after an import, after an API-style write, after
// plaintext rows from before encryption are sealed, and after a key rotation; the collector's
// fleet load still gets every value back.
func TestDumpHasNoSecret(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.Database(t)
	e1, _ := seal.NewEntry("k1")
	k1, _ := seal.Parse(e1)
	open := func(keys *seal.Keyring) *store.Store {
		s, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 4, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(k1)
	creds := []model.ImportCredential{{Name: "core-v3", Version: "3", Username: "noc", AuthProtocol: "SHA", AuthKey: "dump-v3-auth-passphrase",
		PrivProtocol: "AES", PrivKey: "dump-v3-priv-passphrase"}}
	devs := []model.ImportDevice{
		{Line: 2, Branch: "b", Name: "v2", IP: "127.20.0.1", Enabled: true, SNMPVersion: "2c", SNMPCommunity: "dump-community-7731", SNMPPort: 161},
		{Line: 3, Branch: "b", Name: "v3", IP: "127.20.0.2", Enabled: true, SNMPVersion: "3", Credential: "core-v3", SNMPPort: 161},
		{Line: 4, Branch: "b", Name: "legacy", IP: "127.20.0.3", Enabled: true, SNMPVersion: "2c", SNMPPort: 161},
	}
	if _, err := s.ImportInventory(ctx, creds, devs, false); err != nil {
		t.Fatal(err)
	}
	// Importing the same file again changes nothing: unchanged secrets keep their ciphertext.
	if st, err := s.ImportInventory(ctx, creds, devs, false); err != nil || st.DevicesUnchanged != 3 {
		t.Fatalf("second import: %+v %v", st, err)
	}
	branches, _ := s.ListBranches(ctx)
	if _, err := s.CreateDevice(ctx, model.DeviceChange{Name: "api", IP: mustAddr("127.20.0.4"), BranchID: branches[0].ID, Enabled: true,
		SNMPVersion: "2c", SNMPCommunity: "dump-own-community-8842", SNMPPort: 161}); err != nil {
		t.Fatal(err)
	}
	// A row as an old version left it: plaintext, no key id.
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `UPDATE standalone_devices SET snmp_community = 'legacy-plain-community', secret_key_id = NULL WHERE name = 'legacy'`); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if n, err := s.PlaintextSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("plaintext rows: %d %v", n, err)
	}
	if n, err := s.SealPlaintext(ctx); err != nil || n != 1 {
		t.Fatalf("sealed %d %v", n, err)
	}
	assertNoSecret(t, pgDump(t, dbURL), "after import and sealing")

	want := map[string][3]string{"v2": {"dump-community-7731"}, "v3": {"", "dump-v3-auth-passphrase", "dump-v3-priv-passphrase"},
		"legacy": {"legacy-plain-community"}, "api": {"dump-own-community-8842"}}
	checkFleet := func(s *store.Store, when string) {
		t.Helper()
		f, err := s.LoadFleet(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, d := range f.Devices {
			got := [3]string{d.SNMP.Community.Reveal(), d.SNMP.AuthKey.Reveal(), d.SNMP.PrivKey.Reveal()}
			if got != want[d.Name] {
				t.Errorf("%s: %s secrets %q, want %q", when, d.Name, got, want[d.Name])
			}
		}
		// Lists and details never carry a secret.
		ds, _ := s.ListDevices(ctx)
		for _, d := range ds {
			if d.SNMP.Community != "" || d.SNMP.AuthKey != "" || d.SNMP.PrivKey != "" {
				t.Errorf("%s: ListDevices carries secrets of %s", when, d.Name)
			}
		}
	}
	checkFleet(s, "key k1")

	// Rotation: k2 becomes current, everything is re-sealed in one go, and k1 can go.
	e2, _ := seal.NewEntry("k2")
	both, _ := seal.Parse(e2 + "\n" + e1)
	if n, err := open(both).RotateKey(ctx); err != nil || n != 4 {
		t.Fatalf("rotated %d rows: %v", n, err)
	}
	k2, _ := seal.Parse(e2)
	checkFleet(open(k2), "key k2 only")
	assertNoSecret(t, pgDump(t, dbURL), "after rotation")
	if _, err := open(k1).LoadFleet(ctx); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("the retired key alone must not open the rows: %v", err)
	}

	// Without a key, a secret is refused rather than stored in clear.
	nokey := open(nil)
	_, err = nokey.ImportInventory(ctx, nil, []model.ImportDevice{{Line: 2, Branch: "b", Name: "x", IP: "127.20.0.9", Enabled: true,
		SNMPVersion: "2c", SNMPCommunity: "would-be-plain", SNMPPort: 161}}, false)
	if !errors.Is(err, model.ErrNoSecretKey) {
		t.Fatalf("import without a key: %v", err)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

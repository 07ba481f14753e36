package main

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/inventory"
)

func TestBadSettingExitsTwoWithOneLine(t *testing.T) {
	t.Setenv("WARDOPS_PING_INTERVAL", "often")
	var out, errb bytes.Buffer
	if code := run([]string{"collector"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	msg := strings.TrimSpace(errb.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "WARDOPS_PING_INTERVAL") {
		t.Fatalf("want one line naming the setting, got %q", msg)
	}
	var e2 bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &e2); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// TestEverySubcommandChecks: each subcommand knows its settings (config has its parts) and its
// --check passes on the defaults.
func TestEverySubcommandChecks(t *testing.T) {
	for name := range commands() {
		var out, errb bytes.Buffer
		if code := run([]string{name, "--check"}, &out, &errb); code != 0 {
			t.Errorf("%s --check: exit %d: %s", name, code, errb.String())
		}
	}
}

// TestMigrateAndImportCommands runs the subcommands as an operator would.
func TestMigrateAndImportCommands(t *testing.T) {
	dbURL := testenv.Database(t)
	t.Setenv("WARDOPS_DATABASE_URL", dbURL)
	var out, errb bytes.Buffer
	for i := range 2 {
		if code := run([]string{"migrate"}, &out, &errb); code != 0 {
			t.Fatalf("migrate run %d: exit %d: %s", i+1, code, errb.String())
		}
	}
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: 1000, Base: netip.MustParseAddr("127.20.0.1"), SNMPPort: 1161, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = csv.NewWriter(&b).WriteAll(doc.CSVRecords())
	good := filepath.Join(t.TempDir(), "fleet.csv")
	if err := os.WriteFile(good, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		errb.Reset()
		if code := run([]string{"import", good}, &out, &errb); code != 0 {
			t.Fatalf("import run %d: exit %d: %s", i+1, code, errb.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	lines := strings.Split(b.String(), "\n")
	lines[5] = strings.Replace(lines[5], "127.20.0.5", "127.20.0.300", 1)
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"import", "--dry-run", bad}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "line 6: invalid ip") {
		t.Fatalf("bad import: exit %d, stderr %q", code, errb.String())
	}
}

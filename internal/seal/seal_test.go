package seal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	oldE, _ := NewEntry("k1")
	newE, _ := NewEntry("k2")
	old, err := Parse(oldE)
	if err != nil {
		t.Fatal(err)
	}
	s, err := old.Seal("snmp_credentials.auth_key", "authpass-123")
	if err != nil || strings.Contains(s, "authpass") {
		t.Fatalf("sealed %q %v", s, err)
	}
	if _, err := old.Open("k1", "snmp_credentials.priv_key", s); err == nil {
		t.Fatal("a value must not open under another field")
	}
	both, err := Parse(newE + "\n" + oldE)
	if err != nil || both.Current() != "k2" {
		t.Fatalf("current %q %v", both.Current(), err)
	}
	if p, err := both.Open("k1", "snmp_credentials.auth_key", s); err != nil || p != "authpass-123" {
		t.Fatalf("open under the old key: %q %v", p, err)
	}
	only, _ := Parse(newE)
	if _, err := only.Open("k1", "snmp_credentials.auth_key", s); err == nil || !strings.Contains(err.Error(), "k1") {
		t.Fatalf("a missing key must be named: %v", err)
	}
	for _, bad := range []string{"", "k1", "k1:short", oldE + "," + oldE, "bad id:" + strings.Split(oldE, ":")[1]} {
		if _, err := Parse(bad); err == nil {
			t.Fatalf("Parse(%q) accepted", bad)
		} else if strings.Contains(err.Error(), strings.Split(oldE, ":")[1]) {
			t.Fatalf("error echoes key material: %v", err)
		}
	}
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte(oldE+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(f); err == nil {
		t.Fatal("a world-readable key file must be refused")
	}
	_ = os.Chmod(f, 0o600)
	if _, err := ReadFile(f); err != nil {
		t.Fatal(err)
	}
}

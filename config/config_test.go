package config

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseDefaultsAndOverrides(t *testing.T) {
	c, rest, err := Parse("run", []string{"--ping-interval=10s", "extra"}, env(map[string]string{
		"WARDOPS_PING_INTERVAL": "45s", "WARDOPS_VM_URL": "http://127.0.0.1:8480/insert/3/prometheus",
		"WARDOPS_VM_QUERY_URL": "http://127.0.0.1:8481/select/3/prometheus",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PingInterval != 10*time.Second || c.SNMPInterval != 60*time.Second || c.Listen != "127.0.0.1:5001" ||
		c.CollectorListen != "127.0.0.1:5002" || c.DataDir != "./var/data" || len(rest) != 1 {
		t.Fatalf("flag should beat env, defaults apply: %+v %v", c, rest)
	}
	if c.VMQueryURL != "http://127.0.0.1:8481/select/3/prometheus" || c.VMTenant != "3" {
		t.Fatalf("cluster URLs: query %q, tenant %q", c.VMQueryURL, c.VMTenant)
	}
}

func TestParseRejectsBadValuesNamingTheSetting(t *testing.T) {
	f := func(envs map[string]string, args []string, want string) {
		t.Helper()
		_, _, err := Parse("run", args, env(envs), io.Discard)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("want one-line usage error naming %q, got %v", want, err)
		}
	}
	f(map[string]string{"WARDOPS_PING_INTERVAL": "soon"}, nil, "WARDOPS_PING_INTERVAL")
	f(map[string]string{"WARDOPS_PING_INTERVAL": "-5s"}, nil, "WARDOPS_PING_INTERVAL")
	f(nil, []string{"--snmp-interval=x"}, "--snmp-interval")
	f(map[string]string{"WARDOPS_VM_URL": "127.0.0.1:8428"}, nil, "WARDOPS_VM_URL")
	f(map[string]string{"WARDOPS_DATABASE_URL": "mysql://x"}, nil, "WARDOPS_DATABASE_URL")
	f(map[string]string{"WARDOPS_LISTEN": "5001"}, nil, "WARDOPS_LISTEN")
	f(map[string]string{"WARDOPS_ICMP_ENGINE": "magic"}, nil, "WARDOPS_ICMP_ENGINE")
	f(map[string]string{"WARDOPS_PING_COUNT": "0"}, nil, "WARDOPS_PING_COUNT")
	f(map[string]string{"WARDOPS_PING_TIMEOUT": "40s"}, nil, "WARDOPS_PING_TIMEOUT")
	f(map[string]string{"WARDOPS_PING_ECHO_INTERVAL": "0s"}, nil, "WARDOPS_PING_ECHO_INTERVAL")
	f(map[string]string{"WARDOPS_PING_ECHO_INTERVAL": "15s"}, nil, "WARDOPS_PING_ECHO_INTERVAL")
	f(nil, []string{"--no-such-flag"}, "no-such-flag")
}

// TestSubcommandValidatesOnlyItsSettings: a setting another part reads neither fails a subcommand
// nor is offered as its flag, and every setting belongs to some subcommand.
func TestSubcommandValidatesOnlyItsSettings(t *testing.T) {
	badCollector := env(map[string]string{"WARDOPS_PING_TIMEOUT": "40s", "WARDOPS_ICMP_ENGINE": "magic", "WARDOPS_LISTEN": "x"})
	for _, cmd := range []string{"migrate", "token", "maintenance", "import", "sim"} {
		if _, _, err := Parse(cmd, nil, badCollector, io.Discard); err != nil {
			t.Errorf("%s failed on settings it does not read: %v", cmd, err)
		}
	}
	for _, cmd := range []string{"collector", "run", "dev"} {
		if _, _, err := Parse(cmd, nil, badCollector, io.Discard); !errors.Is(err, ErrUsage) {
			t.Errorf("%s accepted a bad collector setting: %v", cmd, err)
		}
	}
	if _, _, err := Parse("query", nil, env(map[string]string{"WARDOPS_PING_TIMEOUT": "40s"}), io.Discard); err != nil {
		t.Errorf("query failed on a collector-only rule: %v", err)
	}
	if _, _, err := Parse("migrate", []string{"--ping-interval=5s"}, env(nil), io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("migrate took a collector flag: %v", err)
	}
	if _, _, err := Parse("nosuch", nil, env(nil), io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown command parsed: %v", err)
	}
	for _, s := range settings() {
		used := s.parts&pCommon != 0
		for cmd, p := range commandParts {
			if cmd != "defaults" && p&s.parts != 0 {
				used = true
			}
		}
		if !used {
			t.Errorf("setting --%s is read by no subcommand", s.flag)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("postgres://u:hunter2@127.0.0.1/db")
	if strings.Contains(s.String(), "hunter2") {
		t.Fatal("Secret printed its value")
	}
}

// TestREADMEListsEverySetting keeps the README's configuration table complete.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if s.env != "" && !strings.Contains(string(b), "`"+s.env+"`") {
			t.Errorf("README.md does not document %s", s.env)
		}
	}
}

func TestDatabasePasswordFile(t *testing.T) {
	pw := t.TempDir() + "/pw"
	if err := os.WriteFile(pw, []byte("s3cr:t/@x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Parse("migrate", nil, env(map[string]string{
		"WARDOPS_DATABASE_URL": "postgres://wardops@db:5432/wardops", "WARDOPS_DATABASE_PASSWORD_FILE": pw,
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The password is escaped into the URL, its trailing newline dropped, and it never prints.
	if got := string(c.DatabaseURL); got != "postgres://wardops:s3cr%3At%2F%40x@db:5432/wardops" {
		t.Fatalf("database URL %q", got)
	}
	if s := c.DatabaseURL.String(); strings.Contains(s, "s3cr") {
		t.Fatalf("secret prints as %q", s)
	}
	for _, bad := range []map[string]string{
		{"WARDOPS_DATABASE_URL": "postgres://wardops:inline@db/wardops", "WARDOPS_DATABASE_PASSWORD_FILE": pw},
		{"WARDOPS_DATABASE_URL": "postgres://db/wardops", "WARDOPS_DATABASE_PASSWORD_FILE": pw},
		{"WARDOPS_DATABASE_URL": "postgres://wardops@db/wardops", "WARDOPS_DATABASE_PASSWORD_FILE": pw + ".missing"},
		{"WARDOPS_DATABASE_PASSWORD_FILE": pw},
	} {
		if _, _, err := Parse("migrate", nil, env(bad), io.Discard); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "WARDOPS_DATABASE") {
			t.Errorf("%v: want a usage error naming the setting, got %v", bad, err)
		}
	}
}

func TestRetentionSchedule(t *testing.T) {
	c, _, err := Parse("collector", nil, env(map[string]string{"WARDOPS_RETENTION_SCHEDULE": "04:30", "WARDOPS_RETENTION_ZONE": "Asia/Tbilisi"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RetentionAt != (TimeOfDay{4, 30}) || c.RetentionOff || c.RetentionZone.String() != "Asia/Tbilisi" || c.AlertRetentionDays != 365 {
		t.Fatalf("schedule %v off %v zone %v alert days %d", c.RetentionAt, c.RetentionOff, c.RetentionZone, c.AlertRetentionDays)
	}
	if c, _, err := Parse("run", nil, env(map[string]string{"WARDOPS_RETENTION_SCHEDULE": "off"}), io.Discard); err != nil || !c.RetentionOff {
		t.Fatalf("off: %v %v", c, err)
	}
	for k, v := range map[string]string{"WARDOPS_RETENTION_SCHEDULE": "3am", "WARDOPS_RETENTION_ZONE": "Mars/Olympus"} {
		if _, _, err := Parse("collector", nil, env(map[string]string{k: v}), io.Discard); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: got %v", k, v, err)
		}
	}
}

// TestSecureDefaults: listeners bind loopback, profiling is off, loopback clients are rate-limited,
// and the link-local range (cloud metadata at 169.254.169.254) is never probed, unless configured.
func TestSecureDefaults(t *testing.T) {
	c := Defaults()
	if c.Listen != "127.0.0.1:5001" || c.CollectorListen != "127.0.0.1:5002" {
		t.Fatalf("listeners must default to loopback: %q %q", c.Listen, c.CollectorListen)
	}
	if c.PprofListen != "" {
		t.Fatalf("pprof must be off by default: %q", c.PprofListen)
	}
	if !c.RateLimitLocal {
		t.Fatal("loopback clients must be rate-limited by default")
	}
	deny := map[string]bool{}
	for _, p := range c.ProbeDeny {
		deny[p.String()] = true
	}
	if !deny["169.254.0.0/16"] || !deny["fe80::/10"] {
		t.Fatalf("link-local must be denied by default: %v", c.ProbeDeny)
	}
	if _, _, err := Parse("collector", nil, env(map[string]string{"WARDOPS_PPROF_LISTEN": "127.0.0.1:5002"}), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "WARDOPS_PPROF_LISTEN") {
		t.Fatalf("pprof on the metrics listener must be refused: %v", err)
	}
	if _, _, err := Parse("query", nil, env(map[string]string{"WARDOPS_TLS_CERT_FILE": "x.pem"}), io.Discard); err == nil {
		t.Fatal("a certificate without a key must be refused")
	}
	if _, _, err := Parse("collector", nil, env(map[string]string{"WARDOPS_PROBE_DENY": "10.0.0.0/33"}), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "WARDOPS_PROBE_DENY") {
		t.Fatalf("a bad network must be refused naming its setting: %v", err)
	}
}

// TestVMURLs: the write and read URLs an operator may give for a single node and for a
// cluster's vminsert and vmselect, what wardops makes of them, and the mistakes it refuses with
// the setting named.
func TestVMURLs(t *testing.T) {
	ok := func(cmd, write, read, wantWrite, wantRead, wantTenant string) {
		t.Helper()
		c, _, err := Parse(cmd, nil, env(map[string]string{"WARDOPS_VM_URL": write, "WARDOPS_VM_QUERY_URL": read}), io.Discard)
		if err != nil {
			t.Fatalf("%s with %q, %q: %v", cmd, write, read, err)
		}
		if c.VMURL != wantWrite || c.VMQueryURL != wantRead || c.VMTenant != wantTenant {
			t.Fatalf("%s with %q, %q: write %q read %q tenant %q; want %q %q %q", cmd, write, read,
				c.VMURL, c.VMQueryURL, c.VMTenant, wantWrite, wantRead, wantTenant)
		}
	}
	// A single node serves both; the read URL defaults to the write URL.
	ok("run", "http://127.0.0.1:8428", "", "http://127.0.0.1:8428", "http://127.0.0.1:8428", "")
	ok("run", "http://127.0.0.1:8428/", "", "http://127.0.0.1:8428", "http://127.0.0.1:8428", "")
	ok("run", "https://vm.example.org/victoria/", "", "https://vm.example.org/victoria", "https://vm.example.org/victoria", "")
	ok("run", "http://127.0.0.1:8428", "http://127.0.0.1:8429", "http://127.0.0.1:8428", "http://127.0.0.1:8429", "")
	// A cluster: vminsert and vmselect, tenant accountID or accountID:projectID.
	ok("run", "http://vminsert:8480/insert/0/prometheus", "http://vmselect:8481/select/0/prometheus",
		"http://vminsert:8480/insert/0/prometheus", "http://vmselect:8481/select/0/prometheus", "0")
	ok("run", "http://vminsert:8480/insert/42:7/prometheus/", "http://vmselect:8481/select/42:7/prometheus/",
		"http://vminsert:8480/insert/42:7/prometheus", "http://vmselect:8481/select/42:7/prometheus", "42:7")
	ok("run", "http://vmauth:8427/insert/4294967295/prometheus", "http://vmauth:8427/select/4294967295/prometheus",
		"http://vmauth:8427/insert/4294967295/prometheus", "http://vmauth:8427/select/4294967295/prometheus", "4294967295")
	// A collector alone never reads: it needs no vmselect.
	ok("collector", "http://vminsert:8480/insert/1/prometheus", "", "http://vminsert:8480/insert/1/prometheus", "", "1")

	bad := func(cmd, write, read, want string) {
		t.Helper()
		_, _, err := Parse(cmd, nil, env(map[string]string{"WARDOPS_VM_URL": write, "WARDOPS_VM_QUERY_URL": read}), io.Discard)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s with %q, %q: want a usage error containing %q, got %v", cmd, write, read, want, err)
		}
	}
	bad("run", "127.0.0.1:8428", "", "WARDOPS_VM_URL")
	bad("run", "ftp://127.0.0.1:8428", "", "WARDOPS_VM_URL")
	bad("run", "http://127.0.0.1:8428/api/v1/import/prometheus", "", "without /api/v1/import/prometheus")
	bad("run", "http://127.0.0.1:8428?extra_label=a=b", "", "no query string")
	bad("run", "http://vminsert:8480/insert/0/prometheus", "", "WARDOPS_VM_QUERY_URL is required")
	bad("alerter", "", "http://vmselect:8481/select/0/prometheus/api/v1/query", "WARDOPS_VM_QUERY_URL")
	bad("run", "http://vminsert:8480/insert/0", "http://vmselect:8481/select/0/prometheus", "ends in /insert/<tenant>/prometheus")
	bad("run", "http://vminsert:8480/insert/0/prometheus/x", "http://vmselect:8481/select/0/prometheus", "ends in /insert/<tenant>/prometheus")
	bad("run", "http://vminsert:8480/insert/acme/prometheus", "http://vmselect:8481/select/0/prometheus", `tenant "acme"`)
	bad("run", "http://vminsert:8480/insert/1:/prometheus", "http://vmselect:8481/select/1/prometheus", `tenant "1:"`)
	bad("run", "http://vminsert:8480/insert/4294967296/prometheus", "http://vmselect:8481/select/0/prometheus", "32-bit")
	bad("run", "http://vminsert:8480/insert/-1/prometheus", "http://vmselect:8481/select/0/prometheus", "tenant")
	bad("run", "http://vmselect:8481/select/0/prometheus", "", "WARDOPS_VM_URL")
	bad("run", "http://vminsert:8480/insert/0/prometheus", "http://vminsert:8480/insert/0/prometheus", "WARDOPS_VM_QUERY_URL")
	bad("run", "http://vminsert:8480/insert/1/prometheus", "http://vmselect:8481/select/2/prometheus", "reads tenant 2 and WARDOPS_VM_URL writes tenant 1")
	bad("run", "http://127.0.0.1:8428", "http://vmselect:8481/select/2/prometheus", "writes a single node")
	bad("collector", "http://vminsert:8480/insert/x/prometheus", "", "WARDOPS_VM_URL")
}

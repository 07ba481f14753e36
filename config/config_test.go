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
	c, rest, err := Parse("collector", []string{"--ping-interval=10s", "extra"}, env(map[string]string{
		"WARDOPS_PING_INTERVAL": "45s", "WARDOPS_VM_URL": "http://127.0.0.1:8480/insert/3/prometheus",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PingInterval != 10*time.Second || c.SNMPInterval != 60*time.Second || c.Listen != ":5001" ||
		c.CollectorListen != ":5002" || c.DataDir != "./var/data" || len(rest) != 1 {
		t.Fatalf("flag should beat env, defaults apply: %+v %v", c, rest)
	}
	if c.VMQueryURL != "http://127.0.0.1:8480/select/3/prometheus" {
		t.Fatalf("query URL derived from a vminsert URL: %q", c.VMQueryURL)
	}
}

func TestParseRejectsBadValuesNamingTheSetting(t *testing.T) {
	f := func(envs map[string]string, args []string, want string) {
		t.Helper()
		_, _, err := Parse("collector", args, env(envs), io.Discard)
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

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/query"
	"github.com/wardops/wardops/store"
)

func TestTokenCreate(t *testing.T) {
	dbURL := testenv.Database(t)
	cfg, _, err := config.Parse("token", []string{"--database-url", dbURL}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	var out bytes.Buffer
	if err := tokenCommand(ctx, cfg, []string{"create", "--name", "ci", "--scope", "write"}, log, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	secret := lines[len(lines)-1]
	st, err := store.Open(ctx, store.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.UseToken(ctx, query.HashToken(secret))
	if err != nil || tok.Name != "ci" || tok.Scope != "write" {
		t.Fatalf("stored token: %+v %v", tok, err)
	}
	for _, args := range [][]string{
		{"create", "--name", "ci", "--scope", "write"}, // duplicate name
	} {
		if err := tokenCommand(ctx, cfg, args, log, io.Discard); !errors.Is(err, model.ErrConflict) {
			t.Errorf("%v: %v, want a conflict", args, err)
		}
	}
	out.Reset()
	if err := tokenCommand(ctx, cfg, []string{"list"}, log, &out); err != nil || !strings.Contains(out.String(), "ci ") ||
		!strings.Contains(out.String(), "write") || strings.Contains(out.String(), secret) {
		t.Fatalf("token list: %v\n%s", err, out.String())
	}
	if err := tokenCommand(ctx, cfg, []string{"revoke", "--name", "ci"}, log, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UseToken(ctx, query.HashToken(secret)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("revoked token still usable: %v", err)
	}
	out.Reset()
	if err := tokenCommand(ctx, cfg, []string{"list"}, log, &out); err != nil || strings.Contains(out.String(), "ci ") {
		t.Fatalf("revoked token listed: %v\n%s", err, out.String())
	}
	if err := tokenCommand(ctx, cfg, []string{"revoke", "--name", "ci"}, log, io.Discard); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("second revoke: %v, want not found", err)
	}
	for _, args := range [][]string{{}, {"frob"}, {"list", "x"}, {"revoke"}, {"create"}, {"create", "--name", "x", "--scope", "root"}, {"create", "--name", "x", "extra"}} {
		if err := tokenCommand(ctx, cfg, args, log, io.Discard); !errors.Is(err, config.ErrUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestDevSecretKeyFile: `wardops dev` gets a key with zero setup, private to its owner, and the
// same one on every later start.
func TestDevSecretKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := devSecretKeyFile(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(p)
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	if _, err := seal.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := devSecretKeyFile(dir, log); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p); string(again) != string(first) {
		t.Fatal("the key changed on a second start: the demo's secrets would no longer open")
	}
}

// TestRotateKeyCommand: `wardops maintenance rotate-key` re-seals everything under the key file's
// new first key, after which the old key can go.
func TestRotateKeyCommand(t *testing.T) {
	dbURL := testenv.Database(t)
	old, _ := seal.NewEntry("old")
	next, _ := seal.NewEntry("new")
	t.Setenv("WARDOPS_DATABASE_URL", dbURL)
	t.Setenv("WARDOPS_SECRET_KEY", old)
	fleet := filepath.Join(t.TempDir(), "fleet.yaml")
	_ = os.WriteFile(fleet, []byte("devices:\n  - {branch: b, name: r1, ip: 127.20.90.1, snmp_version: 2c, snmp_community: rotate-me}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"import", fleet}, &out, &errb); code != 0 {
		t.Fatalf("import: %d %s", code, errb.String())
	}
	t.Setenv("WARDOPS_SECRET_KEY", next+","+old)
	out.Reset()
	if code := run([]string{"maintenance", "rotate-key"}, &out, &errb); code != 0 {
		t.Fatalf("rotate-key: %d %s", code, errb.String())
	}
	keys, _ := seal.Parse(next)
	st, err := store.Open(context.Background(), store.Options{URL: dbURL, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, err := st.LoadFleet(context.Background())
	if err != nil || len(f.Devices) != 1 || f.Devices[0].SNMP.Community.Reveal() != "rotate-me" {
		t.Fatalf("after rotation, with the new key only: %v", err)
	}
}

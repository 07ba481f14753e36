package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/wardops/wardops/config"
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

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// TestAuditVerify: `wardops audit verify` passes on a chain written through the store, including
// appends made concurrently, and fails naming the row once an attacker with database access drops
// the append-only trigger and alters, re-hashes or deletes a row.
func TestAuditVerify(t *testing.T) {
	const rehash = "rehash"
	tamper := []struct {
		name    string
		sql     string
		seq     int64
		because string
		good    int64 // rows before the break
	}{
		{"detail altered", `UPDATE audit_log SET detail = replace(detail, 'ISP', 'XXX') WHERE seq = 3`, 3, "content", 2},
		{"actor altered", `UPDATE audit_log SET actor = 'nobody' WHERE seq = 5`, 5, "content", 4},
		// The attacker recomputes the altered row's own hash correctly (the scheme is no secret); the
		// next row's prev_hash still names the original.
		{"altered and re-hashed", rehash, 3, "prev_hash", 2},
		{"row deleted", `DELETE FROM audit_log WHERE seq = 4`, 5, "missing", 3},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := testenv.Database(t)
			cfg, _, err := config.Parse("audit", []string{"--database-url", dbURL}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			ctx := context.Background()
			st, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			// Eight rule changes at once: the advisory lock on the chain head keeps them one chain.
			errc := make(chan error, 8)
			for i := range 8 {
				go func() {
					_, err := st.CreateRuleAudited(ctx, model.Rule{Name: fmt.Sprintf("ISP rule %d", i), Kind: model.RuleHighRTT,
						Comparison: ">", Severity: "warning", ScopeKind: model.ScopeAll, Enabled: true}, fmt.Sprintf("user%d", i))
					errc <- err
				}()
			}
			for range 8 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			if err := auditCommand(ctx, cfg, []string{"verify"}, log, &out); err != nil || !strings.Contains(out.String(), "audit chain ok: 8 rows") {
				t.Fatalf("verify on an intact chain: %v\n%s", err, out.String())
			}

			c, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			sql := tc.sql
			if sql == rehash {
				es, err := st.AuditLog(ctx, 1, 1)
				if err != nil {
					t.Fatal(err)
				}
				e := es[0]
				e.Actor = "nobody"
				sql = fmt.Sprintf(`UPDATE audit_log SET actor = 'nobody', hash = '\x%x' WHERE seq = 2`, store.AuditHash(e.PrevHash, e))
			}
			if _, err := c.Exec(ctx, sql); err == nil {
				t.Fatalf("%s: the append-only trigger let it through", sql)
			}
			if _, err := c.Exec(ctx, `DROP TRIGGER audit_log_append_only ON audit_log`); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			err = auditCommand(ctx, cfg, []string{"verify"}, log, &out)
			var ce *model.ChainError
			if !errors.As(err, &ce) || ce.Seq != tc.seq || !strings.Contains(ce.Reason, tc.because) {
				t.Fatalf("verify after tampering: %v, want a chain error at seq %d about %q\n%s", err, tc.seq, tc.because, out.String())
			}
			if !strings.Contains(out.String(), fmt.Sprintf("BROKEN after %d good rows: seq %d", tc.good, tc.seq)) {
				t.Errorf("output %q", out.String())
			}
		})
	}
	if err := auditCommand(context.Background(), &config.Config{}, []string{"list"}, nil, io.Discard); !errors.Is(err, config.ErrUsage) {
		t.Errorf("audit list: %v, want a usage error", err)
	}
}

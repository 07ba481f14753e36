package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// amConfig routes every alert to our webhook at once (group_wait 1s) with a write token.
func amConfig(webhook, token string) string {
	return fmt.Sprintf(`route:
  receiver: wardops
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: wardops
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            credentials: %q
`, webhook, token)
}

type amAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

type amSilence struct {
	ID        string                 `json:"id"`
	Status    struct{ State string } `json:"status"`
	Matchers  []silenceMatcher       `json:"matchers"`
	CreatedBy string                 `json:"createdBy"`
}

func postAM(t *testing.T, am *testenv.AM, alerts any) {
	t.Helper()
	b, _ := json.Marshal(alerts)
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s %s", resp.Status, body)
	}
}

// TestAlertmanagerEndToEnd: a real Alertmanager with a webhook receiver pointing at us gets an
// alert POSTed into its /api/v2/alerts; our alert_history records it under Alertmanager's own
// fingerprint and startsAt, tied to the device its device_id label names. Acknowledging it makes
// a silence in that Alertmanager matching exactly that alert, which Alertmanager then reports as
// silenced; un-acknowledging expires the silence; resolving it in Alertmanager resolves it here.
func TestAlertmanagerEndToEnd(t *testing.T) {
	amPort := testenv.FreePort(t)
	amURL := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	e := newEnv(t, func(o *Options) { o.AlertmanagerURLs = []string{amURL} })
	devs := e.seedInventory(1, 1, nil)
	hook := e.token("alertmanager", scopeWrite)
	alice := e.token("alice", scopeWrite)
	am := testenv.AlertmanagerWithConfig(t, amPort, amConfig(e.ts.URL+"/api/v1/webhooks/alertmanager", hook))

	starts := time.Now().UTC().Add(-10 * time.Second).Truncate(time.Second)
	labels := map[string]string{"alertname": "VmalertHighLoad", "instance": "127.0.0.1:9100", "severity": "critical",
		"device_id": fmt.Sprint(devs[0].ID)}
	postAM(t, am, []map[string]any{{"labels": labels, "annotations": map[string]string{"summary": "load 12"}, "startsAt": starts}})

	var got alertList
	eventually(t, "the alert to arrive through the webhook", func() bool {
		got = e.alerts("?source=alertmanager")
		return got.Total == 1
	})
	var amAlerts []amAlert
	if err := json.Unmarshal(am.Get(t, "/api/v2/alerts"), &amAlerts); err != nil || len(amAlerts) != 1 {
		t.Fatalf("alertmanager alerts: %v %d", err, len(amAlerts))
	}
	a := got.Items[0]
	if a.Fingerprint != amAlerts[0].Fingerprint || !a.FiredAt.Equal(starts) || a.State != model.StateFiring ||
		a.DeviceID != devs[0].ID || a.Summary != "load 12" || a.Labels["instance"] != "127.0.0.1:9100" {
		t.Fatalf("recorded %+v; alertmanager has %s at %s", a, amAlerts[0].Fingerprint, amAlerts[0].StartsAt)
	}

	// Ack → a silence of exactly this alert.
	var ack struct {
		Alert         alertEntryView `json:"alert"`
		SilenceErrors []string       `json:"silence_errors"`
	}
	if st := e.do("POST", fmt.Sprintf("/api/v1/alerts/%d/ack", a.ID), alice, map[string]any{"note": "looking"}, &ack); st != http.StatusOK {
		t.Fatalf("ack: %d", st)
	}
	if len(ack.SilenceErrors) > 0 || ack.Alert.Ack == nil || len(ack.Alert.Ack.Silences) != 1 {
		t.Fatalf("ack answer %+v", ack)
	}
	var sils []amSilence
	if err := json.Unmarshal(am.Get(t, "/api/v2/silences"), &sils); err != nil || len(sils) != 1 {
		t.Fatalf("silences: %v %+v", err, sils)
	}
	if s := sils[0]; s.Status.State != "active" || len(s.Matchers) != len(labels) || s.CreatedBy != "alice" ||
		ack.Alert.Ack.Silences[0] != amURL+" "+s.ID {
		t.Errorf("silence %+v, ack silences %v", s, ack.Alert.Ack.Silences)
	}
	for _, m := range sils[0].Matchers {
		if !m.IsEqual || m.IsRegex || labels[m.Name] != m.Value {
			t.Errorf("matcher %+v does not pin label %s=%s", m, m.Name, labels[m.Name])
		}
	}
	eventually(t, "alertmanager to report the alert silenced", func() bool {
		_ = json.Unmarshal(am.Get(t, "/api/v2/alerts"), &amAlerts)
		return len(amAlerts) == 1 && amAlerts[0].Status.State == "suppressed" && len(amAlerts[0].Status.SilencedBy) == 1
	})

	// Un-ack → the silence is expired.
	if st := e.do("DELETE", fmt.Sprintf("/api/v1/alerts/%d/ack", a.ID), alice, nil, nil); st != http.StatusOK {
		t.Fatalf("un-ack: %d", st)
	}
	_ = json.Unmarshal(am.Get(t, "/api/v2/silences"), &sils)
	if len(sils) != 1 || sils[0].Status.State != "expired" {
		t.Errorf("after un-ack: %+v", sils)
	}

	// Resolved in Alertmanager → resolved here.
	ends := time.Now().UTC().Truncate(time.Second)
	postAM(t, am, []map[string]any{{"labels": labels, "startsAt": starts, "endsAt": ends}})
	eventually(t, "the resolved notification", func() bool {
		got = e.alerts("?source=alertmanager")
		return got.Total == 1 && got.Items[0].State == model.StateResolved
	})
	if r := got.Items[0].ResolvedAt; r == nil || !r.Equal(ends) {
		t.Errorf("resolved at %v, want %v", r, ends)
	}
}

// TestWebhookDatabaseDown: with PostgreSQL stopped (a private server of this test, really
// stopped) the webhook answers 503 with Retry-After, so Alertmanager retries; once PostgreSQL is
// back the same delivery is recorded once.
func TestWebhookDatabaseDown(t *testing.T) {
	pg := testenv.PrivatePostgres(t)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{URL: pg.URL, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{PingInterval: 30 * time.Second, CacheTTL: 100 * time.Millisecond, CacheBuildShare: 0.1, Store: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	e := &env{t: t, st: st, srv: srv, ts: ts, db: pg.URL}
	tok := e.token("alertmanager", scopeWrite)
	body := whPayload("firing", 0, whAlert("firing", "eeee000000000001", time.Now().UTC(), time.Time{}, map[string]string{"alertname": "X"}))

	// Warm the token cache so the request reaches the webhook handler rather than failing at
	// authentication: the store call under test is RecordWebhook.
	if st := e.do("GET", "/api/v1/alerts", tok, nil, nil); st != http.StatusOK {
		t.Fatal(st)
	}
	if st := e.do("POST", "/api/v1/webhooks/alertmanager", tok, `{"version":"4"}`, nil); st != http.StatusBadRequest {
		t.Fatalf("bad payload with PostgreSQL up: %d", st)
	}
	pg.Stop()
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/webhooks/alertmanager", bytes.NewReader(mustJSON(body)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with PostgreSQL down: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	pg.Start()
	var res map[string]int
	eventually(t, "the retried delivery to be accepted", func() bool {
		return e.do("POST", "/api/v1/webhooks/alertmanager", tok, body, &res) == http.StatusOK
	})
	if n := e.externalCount(); n != 1 || res["inserted"] != 1 {
		t.Errorf("after the retry: %d alerts, answer %v", n, res)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

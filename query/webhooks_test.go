package query

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestParseWebhook reads a version 4 payload as Alertmanager writes it.
func TestParseWebhook(t *testing.T) {
	b, err := os.ReadFile("testdata/alertmanager_webhook_v4.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseWebhook(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.TruncatedAlerts != 2 || m.Status != "firing" || len(m.Alerts) != 2 || m.Receiver != "wardops" {
		t.Fatalf("%+v", m)
	}
	a := m.Alerts[1]
	if a.Status != "resolved" || a.Fingerprint != "9a8b7c6d5e4f3021" || !a.EndsAt.Equal(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("second alert %+v", a)
	}
}

// FuzzParseWebhook: any body either parses into alerts that each have a status, fingerprint,
// startsAt and alertname, or is refused with a 400 naming a parameter; it never panics.
func FuzzParseWebhook(f *testing.F) {
	if b, err := os.ReadFile("testdata/alertmanager_webhook_v4.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":"4","status":"resolved","alerts":[]}`))
	f.Add([]byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"x","startsAt":"2026-01-01T00:00:00Z","labels":{"alertname":"a"}}]}`))
	f.Add([]byte(`{"version":4}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseWebhook(b)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Param == "" {
				t.Fatalf("error %v is not a 400 naming a parameter", err)
			}
			return
		}
		for _, a := range m.Alerts {
			if (a.Status != "firing" && a.Status != "resolved") || a.Fingerprint == "" || a.StartsAt.IsZero() || a.Labels["alertname"] == "" {
				t.Fatalf("accepted a bad alert %+v", a)
			}
		}
	})
}

package query

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

// whAlert builds one alert of a webhook payload.
func whAlert(status, fp string, starts, ends time.Time, labels map[string]string) map[string]any {
	a := map[string]any{"status": status, "fingerprint": fp, "startsAt": starts.Format(time.RFC3339Nano),
		"endsAt": "0001-01-01T00:00:00Z", "labels": labels, "annotations": map[string]string{"summary": labels["alertname"] + " on " + labels["instance"]},
		"generatorURL": "http://127.0.0.1:8880/vmalert/rule"}
	if !ends.IsZero() {
		a["endsAt"] = ends.Format(time.RFC3339Nano)
	}
	return a
}

// whPayload builds a version 4 webhook body.
func whPayload(status string, truncated int, alerts ...map[string]any) map[string]any {
	return map[string]any{"version": "4", "groupKey": `{}:{alertname="HighLoad"}`, "truncatedAlerts": truncated,
		"status": status, "receiver": "wardops", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://127.0.0.1:9093", "alerts": alerts}
}

// sql runs one query on the test database and scans its single row.
func (e *env) sql(q string, dst ...any) {
	e.t.Helper()
	ctx := context.Background()
	c := e.conn()
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, q).Scan(dst...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

func (e *env) externalCount() int {
	e.t.Helper()
	var n int
	e.sql(`SELECT count(*) FROM alert_history WHERE source = 'alertmanager'`, &n)
	return n
}

type alertList struct {
	Items []alertEntryView `json:"items"`
	Total int              `json:"total"`
}

func (e *env) alerts(query string) alertList {
	e.t.Helper()
	var out alertList
	if st := e.get("/api/v1/alerts"+query, &out); st != http.StatusOK {
		e.t.Fatalf("GET /api/v1/alerts%s: %d", query, st)
	}
	return out
}

// TestWebhookIdempotent: the same notification delivered three times records its alerts once;
// an alert naming a known device is tied to it, one naming none has no device; truncatedAlerts
// is kept per group.
func TestWebhookIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 2, nil)
	tok := e.token("alertmanager", scopeWrite)
	starts := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	body := whPayload("firing", 3,
		whAlert("firing", "aaaa000000000001", starts, time.Time{}, map[string]string{"alertname": "HighLoad", "device_id": fmt.Sprint(devs[1].ID), "severity": "critical", "instance": "r1"}),
		whAlert("firing", "aaaa000000000002", starts, time.Time{}, map[string]string{"alertname": "HighLoad", "instance": "elsewhere:9100", "severity": "page"}))
	var res map[string]int
	for i, want := range []map[string]int{{"inserted": 2}, {"unchanged": 2}, {"unchanged": 2}} {
		res = nil
		if st := e.do("POST", "/api/v1/webhooks/alertmanager", tok, body, &res); st != http.StatusOK {
			t.Fatalf("delivery %d: %d", i+1, st)
		}
		for k, v := range want {
			if res[k] != v {
				t.Errorf("delivery %d: %s = %d, want %d (%v)", i+1, k, res[k], v, res)
			}
		}
	}
	if n := e.externalCount(); n != 2 {
		t.Fatalf("%d external alerts recorded, want 2", n)
	}
	l := e.alerts("?source=alertmanager&state=firing")
	if l.Total != 2 {
		t.Fatalf("GET /alerts: total %d, want 2", l.Total)
	}
	byFP := map[string]alertEntryView{}
	for _, a := range l.Items {
		byFP[a.Fingerprint] = a
	}
	if a := byFP["aaaa000000000001"]; a.DeviceID != devs[1].ID || a.Device != devs[1].Name || a.Branch != devs[1].Branch || a.Severity != "critical" {
		t.Errorf("known-device alert: %+v", a)
	}
	if a := byFP["aaaa000000000002"]; a.DeviceID != 0 || a.Severity != "critical" || a.Name != "HighLoad" || a.Labels["severity"] != "page" {
		t.Errorf("no-device alert: %+v", a)
	}
	var detail struct {
		AlertHistory []alertEntryView `json:"alert_history"`
	}
	if st := e.get(fmt.Sprintf("/api/v1/devices/%d", devs[1].ID), &detail); st != http.StatusOK || len(detail.AlertHistory) != 1 ||
		detail.AlertHistory[0].Fingerprint != "aaaa000000000001" {
		t.Errorf("device detail: %d, history %+v", st, detail.AlertHistory)
	}
	var truncated int
	e.sql(`SELECT truncated_alerts FROM webhook_groups WHERE group_key = '{}:{alertname="HighLoad"}'`, &truncated)
	if truncated != 3 {
		t.Errorf("truncated_alerts %d, want 3", truncated)
	}
	// The dashboard shows the received alerts beside wardops' own.
	var dash struct {
		Alerts struct {
			Total int         `json:"total"`
			Items []alertView `json:"items"`
		} `json:"alerts"`
	}
	eventually(t, "the dashboard to show the received alerts", func() bool {
		e.get("/api/v1/dashboard", &dash)
		return dash.Alerts.Total == 2
	})
	if got := dash.Alerts.Items[0]; got.Source != model.SourceAlertmanager || got.State != model.StateFiring || got.Rule != "HighLoad" {
		t.Errorf("dashboard alert: %+v", got)
	}
}

// TestWebhookBadPayload: each bad body is a 400 naming its fault and writes nothing, even when
// only the last alert of several is bad; an oversized body is a 413.
func TestWebhookBadPayload(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("alertmanager", scopeWrite)
	now := time.Now().UTC()
	good := whAlert("firing", "bbbb000000000001", now, time.Time{}, map[string]string{"alertname": "X"})
	with := func(f func(p map[string]any)) map[string]any {
		p := whPayload("firing", 0, good)
		f(p)
		return p
	}
	for _, tc := range []struct {
		name      string
		body      any
		param, in string
	}{
		{"malformed JSON", `{"version":"4","alerts":[`, "body", "malformed JSON"},
		{"not an object", `[1,2]`, "body", "must be"},
		{"version 3", with(func(p map[string]any) { p["version"] = "3" }), "version", `"3" is not supported`},
		{"no version", with(func(p map[string]any) { delete(p, "version") }), "version", "not supported"},
		{"bad status", with(func(p map[string]any) { p["status"] = "pending" }), "status", "firing or resolved"},
		{"alerts not an array", with(func(p map[string]any) { p["alerts"] = "x" }), "alerts", "an array"},
		{"second alert without fingerprint", with(func(p map[string]any) {
			p["alerts"] = []any{good, whAlert("firing", "", now, time.Time{}, map[string]string{"alertname": "Y"})}
		}), "alerts[1].fingerprint", "required"},
		{"alert without startsAt", with(func(p map[string]any) {
			a := whAlert("firing", "bbbb000000000002", now, time.Time{}, map[string]string{"alertname": "Y"})
			delete(a, "startsAt")
			p["alerts"] = []any{good, a}
		}), "alerts[1].startsAt", "required"},
		{"alert without alertname", with(func(p map[string]any) {
			p["alerts"] = []any{good, whAlert("firing", "bbbb000000000003", now, time.Time{}, map[string]string{})}
		}), "alerts[1].labels", "alertname"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ae apiError
			if st := e.do("POST", "/api/v1/webhooks/alertmanager", tok, tc.body, &ae); st != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (%+v)", st, ae)
			}
			if ae.Param != tc.param || !strings.Contains(ae.Message, tc.in) {
				t.Errorf("error %+v, want param %q and a message containing %q", ae, tc.param, tc.in)
			}
			if n := e.externalCount(); n != 0 {
				t.Errorf("%d alerts written by a refused payload", n)
			}
		})
	}
	t.Run("oversized", func(t *testing.T) {
		big := whPayload("firing", 0, good)
		big["commonAnnotations"] = map[string]string{"pad": strings.Repeat("x", maxBody)}
		if st := e.do("POST", "/api/v1/webhooks/alertmanager", tok, big, nil); st != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", st)
		}
		if n := e.externalCount(); n != 0 {
			t.Errorf("%d alerts written by an oversized payload", n)
		}
	})
}

// TestWebhookOwnEcho: an alert wardops itself raised and pushed, routed back to the webhook by
// Alertmanager, is recognised by its fingerprint and not recorded a second time.
func TestWebhookOwnEcho(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 1, nil)
	tok := e.token("alertmanager", scopeWrite)
	id, err := e.st.FireAlert(context.Background(), devs[0].ID, "DeviceDown", "critical", "down", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	e.sql(fmt.Sprintf(`WITH u AS (UPDATE alert_history SET fingerprint = 'ffff000000000001' WHERE id = %d RETURNING 1) SELECT count(*) FROM u`, id), &n)
	body := whPayload("firing", 0,
		whAlert("firing", "ffff000000000001", time.Now().UTC(), time.Time{}, map[string]string{"alertname": "DeviceDown"}),
		whAlert("firing", "ffff000000000002", time.Now().UTC(), time.Time{}, map[string]string{"alertname": "Other"}))
	var res map[string]int
	if st := e.do("POST", "/api/v1/webhooks/alertmanager", tok, body, &res); st != http.StatusOK || res["own"] != 1 || res["inserted"] != 1 {
		t.Fatalf("%d %v, want own 1 inserted 1", st, res)
	}
	if l := e.alerts(""); l.Total != 2 {
		t.Errorf("%d alerts, want wardops' one and the foreign one", l.Total)
	}
}

// TestWebhookOrdering: a resolved notification that overtakes its firing one ends resolved; a
// fingerprint that fires again later is a second incident, and the first is closed by it even
// when its resolved notification never came.
func TestWebhookOrdering(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("alertmanager", scopeWrite)
	post := func(body any) {
		t.Helper()
		if st := e.do("POST", "/api/v1/webhooks/alertmanager", tok, body, nil); st != http.StatusOK {
			t.Fatalf("POST: %d", st)
		}
	}
	l := map[string]string{"alertname": "DiskFull", "instance": "db1"}
	s1 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	e1 := s1.Add(3 * time.Minute)
	post(whPayload("resolved", 0, whAlert("resolved", "cccc000000000001", s1, e1, l)))
	post(whPayload("firing", 0, whAlert("firing", "cccc000000000001", s1, time.Time{}, l)))
	got := e.alerts("?source=alertmanager")
	if got.Total != 1 || got.Items[0].State != model.StateResolved || got.Items[0].ResolvedAt == nil || !got.Items[0].ResolvedAt.Equal(e1) {
		t.Fatalf("after resolved-then-firing: %+v", got)
	}

	s2 := s1.Add(5 * time.Minute)
	post(whPayload("firing", 0, whAlert("firing", "cccc000000000001", s2, time.Time{}, l)))
	s3 := s2.Add(2 * time.Minute)
	post(whPayload("firing", 0, whAlert("firing", "cccc000000000001", s3, time.Time{}, l))) // s2's resolve was lost
	got = e.alerts("?source=alertmanager")
	if got.Total != 3 {
		t.Fatalf("%d incidents, want 3: %+v", got.Total, got.Items)
	}
	states := []string{got.Items[0].State, got.Items[1].State, got.Items[2].State}
	if states[0] != model.StateFiring || states[1] != model.StateResolved || states[2] != model.StateResolved {
		t.Errorf("states newest first %v, want firing, resolved, resolved", states)
	}
	if r := got.Items[1].ResolvedAt; r == nil || !r.Equal(s3) {
		t.Errorf("the incident overtaken by a new one resolved at %v, want %v", r, s3)
	}
}

// TestAck: an acknowledgement records who (the token's name), when and the note, shows on the
// list and the dashboard, ends when the alert worsens, and every ack and un-ack is in the audit
// log with a verifying chain.
func TestAck(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("alice", scopeWrite)
	hook := e.token("alertmanager", scopeWrite)
	starts := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	alert := func(sev string) map[string]any {
		return whPayload("firing", 0, whAlert("firing", "dddd000000000001", starts, time.Time{},
			map[string]string{"alertname": "LinkDown", "instance": "sw1", "severity": sev}))
	}
	if st := e.do("POST", "/api/v1/webhooks/alertmanager", hook, alert("warning"), nil); st != http.StatusOK {
		t.Fatal(st)
	}
	id := e.alerts("").Items[0].ID
	path := fmt.Sprintf("/api/v1/alerts/%d/ack", id)

	before := time.Now()
	var ackResp struct {
		Alert alertEntryView `json:"alert"`
	}
	if st := e.do("POST", path, tok, map[string]any{"note": "ISP ticket 4711"}, &ackResp); st != http.StatusOK {
		t.Fatalf("ack: %d", st)
	}
	a := ackResp.Alert
	if a.State != model.StateAcknowledged || a.Ack == nil || a.Ack.By != "alice" || a.Ack.Note != "ISP ticket 4711" ||
		!a.Ack.Active || a.Ack.At.Before(before.Add(-time.Second)) || a.Ack.At.After(time.Now().Add(time.Second)) {
		t.Fatalf("acknowledged alert: %+v ack %+v", a, a.Ack)
	}
	if l := e.alerts("?state=acknowledged"); l.Total != 1 {
		t.Errorf("state=acknowledged lists %d", l.Total)
	}
	if l := e.alerts("?state=firing"); l.Total != 0 {
		t.Errorf("state=firing lists %d while acknowledged", l.Total)
	}
	var dash struct {
		Alerts struct {
			Items []alertView `json:"items"`
		} `json:"alerts"`
	}
	eventually(t, "the dashboard to show the acknowledgement", func() bool {
		e.get("/api/v1/dashboard", &dash)
		return len(dash.Alerts.Items) == 1 && dash.Alerts.Items[0].AckActive && dash.Alerts.Items[0].AcknowledgedBy == "alice"
	})

	// Refusals: empty note, past expiry, unknown alert.
	for _, tc := range []struct {
		name string
		path string
		body any
		want int
	}{
		{"no note", path, map[string]any{"note": ""}, http.StatusBadRequest},
		{"expiry in the past", path, map[string]any{"note": "x", "expires_at": time.Now().Add(-time.Hour)}, http.StatusBadRequest},
		{"unknown field", path, map[string]any{"note": "x", "who": "mallory"}, http.StatusBadRequest},
		{"unknown alert", "/api/v1/alerts/999999/ack", map[string]any{"note": "x"}, http.StatusNotFound},
	} {
		if st := e.do("POST", tc.path, tok, tc.body, nil); st != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, st, tc.want)
		}
	}

	// Worsening (warning → critical) ends the acknowledgement.
	if st := e.do("POST", "/api/v1/webhooks/alertmanager", hook, alert("critical"), nil); st != http.StatusOK {
		t.Fatal(st)
	}
	var got alertEntryView
	e.get(fmt.Sprintf("/api/v1/alerts/%d", id), &got)
	if got.State != model.StateFiring || got.Ack == nil || got.Ack.Active {
		t.Errorf("after worsening: state %s ack %+v, want firing with an inactive ack", got.State, got.Ack)
	}

	// Re-ack, then un-ack.
	if st := e.do("POST", path, tok, map[string]any{"note": "still on it", "expires_at": time.Now().Add(time.Hour)}, nil); st != http.StatusOK {
		t.Fatalf("re-ack: %d", st)
	}
	e.get(fmt.Sprintf("/api/v1/alerts/%d", id), &got)
	if got.State != model.StateAcknowledged || got.Ack == nil || got.Ack.ExpiresAt == nil || got.Ack.Severity != "critical" {
		t.Errorf("re-acknowledged: %s %+v", got.State, got.Ack)
	}
	// Its expiry passing ends it too.
	var n int
	e.sql(fmt.Sprintf(`WITH u AS (UPDATE alert_history SET ack_expires_at = now() - interval '1 second' WHERE id = %d RETURNING 1)
		SELECT count(*) FROM u`, id), &n)
	e.get(fmt.Sprintf("/api/v1/alerts/%d", id), &got)
	if got.State != model.StateFiring || got.Ack == nil || got.Ack.Active {
		t.Errorf("after expiry: state %s ack %+v, want firing with an inactive ack", got.State, got.Ack)
	}
	if st := e.do("DELETE", path+"?note=handover", tok, nil, nil); st != http.StatusOK {
		t.Fatalf("un-ack: %d", st)
	}
	if st := e.do("DELETE", path, tok, nil, nil); st != http.StatusConflict {
		t.Errorf("second un-ack: %d, want 409", st)
	}
	e.get(fmt.Sprintf("/api/v1/alerts/%d", id), &got)
	if got.State != model.StateFiring || got.Ack != nil {
		t.Errorf("after un-ack: %+v", got)
	}

	var actions, actors string
	e.sql(`SELECT count(*), string_agg(action, ',' ORDER BY seq), string_agg(DISTINCT actor, ',') FROM audit_log`, &n, &actions, &actors)
	if actions != "alert.ack,alert.ack,alert.unack" || actors != "alice" {
		t.Errorf("audit log: %d rows %q by %q", n, actions, actors)
	}
	var detail string
	e.sql(`SELECT detail FROM audit_log WHERE seq = 1`, &detail)
	var d map[string]any
	if err := json.Unmarshal([]byte(detail), &d); err != nil || d["note"] != "ISP ticket 4711" || d["severity"] != "warning" {
		t.Errorf("first audit detail %s", detail)
	}
	if rows, _, err := e.st.VerifyAudit(context.Background()); err != nil || rows != 3 {
		t.Errorf("verify: %d rows, %v", rows, err)
	}
	// The database refuses to change the log, whoever asks.
	ctx := context.Background()
	c := e.conn()
	defer c.Close(ctx)
	for _, q := range []string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := c.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", q, err)
		}
	}
}

// TestAlertRoutesScopes: reads need no token (RequireReadToken off), every write needs write
// scope: none is 401, read is 403.
func TestAlertRoutesScopes(t *testing.T) {
	e := newEnv(t, nil)
	read := e.token("viewer", scopeRead)
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v1/webhooks/alertmanager"},
		{"POST", "/api/v1/alerts/1/ack"},
		{"DELETE", "/api/v1/alerts/1/ack"},
		{"POST", "/api/v1/alert-rules"},
		{"PUT", "/api/v1/alert-rules/1"},
		{"DELETE", "/api/v1/alert-rules/1"},
		{"POST", "/api/v1/maintenance"},
		{"PUT", "/api/v1/maintenance/1"},
		{"DELETE", "/api/v1/maintenance/1"},
	} {
		if st := e.do(r.method, r.path, "", "{}", nil); st != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d, want 401", r.method, r.path, st)
		}
		if st := e.do(r.method, r.path, read, "{}", nil); st != http.StatusForbidden {
			t.Errorf("%s %s with a read token: %d, want 403", r.method, r.path, st)
		}
	}
	for _, p := range []string{"/api/v1/alerts", "/api/v1/alert-rules", "/api/v1/maintenance"} {
		if st := e.get(p, nil); st != http.StatusOK {
			t.Errorf("GET %s: %d", p, st)
		}
	}
	if st := e.get("/api/v1/alerts?state=bogus", nil); st != http.StatusBadRequest {
		t.Errorf("state=bogus: %d", st)
	}
}

// TestRulesAndMaintenanceAudited: rule and maintenance CRUD through the API, each change in the
// audit log under the token's name with before and after.
func TestRulesAndMaintenanceAudited(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("bob", scopeWrite)
	var r ruleView
	rule := map[string]any{"name": "CoreRTT", "kind": "high_rtt", "threshold": 80, "recovery_threshold": 60,
		"window_seconds": 300, "for_seconds": 120, "severity": "critical", "scope_kind": "region", "scope_value": "north"}
	if st := e.do("POST", "/api/v1/alert-rules", tok, rule, &r); st != http.StatusCreated {
		t.Fatalf("create rule: %d", st)
	}
	if r.Name != "CoreRTT" || r.Threshold == nil || *r.Threshold != 80 || r.ForSeconds != 120 || !r.Enabled {
		t.Errorf("created rule %+v", r)
	}
	if st := e.do("POST", "/api/v1/alert-rules", tok, rule, nil); st != http.StatusConflict {
		t.Errorf("duplicate name: %d, want 409", st)
	}
	for _, bad := range []map[string]any{
		{"name": "x", "kind": "nonsense"},
		{"name": "x", "kind": "expr"},
		{"name": "x", "kind": "high_rtt", "scope_kind": "branch"},
		{"name": "x", "kind": "high_rtt", "severity": "fatal"},
	} {
		if st := e.do("POST", "/api/v1/alert-rules", tok, bad, nil); st != http.StatusBadRequest {
			t.Errorf("bad rule %v: %d, want 400", bad, st)
		}
	}
	rule["threshold"], rule["enabled"] = 100, false
	if st := e.do("PUT", fmt.Sprintf("/api/v1/alert-rules/%d", r.ID), tok, rule, &r); st != http.StatusOK || r.Enabled || *r.Threshold != 100 {
		t.Errorf("update rule: %d %+v", st, r)
	}
	if st := e.do("DELETE", fmt.Sprintf("/api/v1/alert-rules/%d", r.ID), tok, nil, nil); st != http.StatusNoContent {
		t.Errorf("delete rule: %d", st)
	}
	if st := e.do("DELETE", fmt.Sprintf("/api/v1/alert-rules/%d", r.ID), tok, nil, nil); st != http.StatusNotFound {
		t.Errorf("delete rule again: %d", st)
	}

	var w maintenanceView
	win := map[string]any{"scope_kind": "branch", "scope_value": "branch-00", "weekdays": []int{0, 6}, "start_time": "02:00",
		"duration_seconds": 7200, "time_zone": "Europe/Berlin", "reason": "ISP works"}
	if st := e.do("POST", "/api/v1/maintenance", tok, win, &w); st != http.StatusCreated {
		t.Fatalf("create window: %d", st)
	}
	if w.CreatedBy != "bob" || w.TimeZone != "Europe/Berlin" || len(w.Weekdays) != 2 || w.StartTime != "02:00" {
		t.Errorf("created window %+v", w)
	}
	for _, bad := range []map[string]any{
		{"scope_kind": "branch", "scope_value": "b", "reason": "r"},
		{"scope_kind": "branch", "scope_value": "b", "reason": "r", "weekdays": []int{1}, "start_time": "02:00", "duration_seconds": 60, "time_zone": "Mars/Olympus"},
		{"scope_kind": "device", "scope_value": "router-1", "reason": "r", "starts_at": time.Now(), "ends_at": time.Now().Add(time.Hour)},
		{"scope_kind": "branch", "scope_value": "b", "starts_at": time.Now(), "ends_at": time.Now().Add(time.Hour)},
	} {
		if st := e.do("POST", "/api/v1/maintenance", tok, bad, nil); st != http.StatusBadRequest {
			t.Errorf("bad window %v: %d, want 400", bad, st)
		}
	}
	oneOff := map[string]any{"scope_kind": "region", "scope_value": "north", "starts_at": time.Now().Add(-time.Minute),
		"ends_at": time.Now().Add(time.Hour), "reason": "core upgrade"}
	if st := e.do("PUT", fmt.Sprintf("/api/v1/maintenance/%d", w.ID), tok, oneOff, &w); st != http.StatusOK || !w.ActiveNow || w.CreatedBy != "bob" {
		t.Errorf("update window: %d %+v", st, w)
	}
	if st := e.do("DELETE", fmt.Sprintf("/api/v1/maintenance/%d", w.ID), tok, nil, nil); st != http.StatusNoContent {
		t.Errorf("delete window: %d", st)
	}
	var actions string
	var n int
	e.sql(`SELECT count(*), string_agg(action || ':' || actor, ',' ORDER BY seq) FROM audit_log`, &n, &actions)
	want := "rule.create:bob,rule.update:bob,rule.delete:bob,maintenance.create:bob,maintenance.update:bob,maintenance.delete:bob"
	if actions != want {
		t.Errorf("audit log %q, want %q", actions, want)
	}
	var detail string
	e.sql(`SELECT detail FROM audit_log WHERE action = 'rule.update'`, &detail)
	if !strings.Contains(detail, `"before":{`) || !strings.Contains(detail, `"threshold":100`) || !strings.Contains(detail, `"threshold":80`) {
		t.Errorf("rule.update detail %s", detail)
	}
	if rows, _, err := e.st.VerifyAudit(context.Background()); err != nil || rows != 6 {
		t.Errorf("verify: %d rows, %v", rows, err)
	}
}

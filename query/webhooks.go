package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// webhookHandler receives Alertmanager's webhook notifications (webhook_config, payload
// version 4) and records their alerts in alert_history.
type webhookHandler struct {
	responder
	st    WebhookStore
	snaps *snapshots
}

// webhookPayload is Alertmanager's webhook body, version 4
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). Unknown fields are
// accepted: a newer Alertmanager may add some, and refusing them would lose alerts.
type webhookPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// parseWebhook decodes and validates one notification; every error is a 400 naming the reason.
func parseWebhook(b []byte) (model.WebhookMessage, error) {
	var p webhookPayload
	if err := json.Unmarshal(b, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return model.WebhookMessage{}, badParam(orBody(te.Field), "must be %s", jsonKind(te.Type.Kind().String()))
		}
		return model.WebhookMessage{}, badParam("body", "malformed JSON: %v", err)
	}
	if p.Version != "4" {
		return model.WebhookMessage{}, badParam("version", "webhook payload version %q is not supported; want \"4\"", p.Version)
	}
	if p.Status != "firing" && p.Status != "resolved" {
		return model.WebhookMessage{}, badParam("status", "must be firing or resolved, not %q", p.Status)
	}
	if p.TruncatedAlerts < 0 {
		return model.WebhookMessage{}, badParam("truncatedAlerts", "must not be negative")
	}
	m := model.WebhookMessage{Receiver: p.Receiver, Status: p.Status, GroupKey: p.GroupKey, ExternalURL: p.ExternalURL,
		TruncatedAlerts: p.TruncatedAlerts, Alerts: make([]model.WebhookAlert, 0, len(p.Alerts))}
	seen := map[string]int{}
	for i, a := range p.Alerts {
		field := func(f string) string { return fmt.Sprintf("alerts[%d].%s", i, f) }
		switch {
		case a.Status != "firing" && a.Status != "resolved":
			return model.WebhookMessage{}, badParam(field("status"), "must be firing or resolved, not %q", a.Status)
		case a.Fingerprint == "" || len(a.Fingerprint) > 64:
			return model.WebhookMessage{}, badParam(field("fingerprint"), "required, at most 64 bytes")
		case a.StartsAt.IsZero():
			return model.WebhookMessage{}, badParam(field("startsAt"), "required")
		case a.Labels["alertname"] == "":
			return model.WebhookMessage{}, badParam(field("labels"), "alertname is required")
		}
		key := a.Fingerprint + " " + a.StartsAt.UTC().String()
		if j, dup := seen[key]; dup {
			return model.WebhookMessage{}, badParam(field("fingerprint"), "alerts[%d] has the same fingerprint and startsAt", j)
		}
		seen[key] = i
		m.Alerts = append(m.Alerts, model.WebhookAlert{Status: a.Status, Fingerprint: a.Fingerprint, StartsAt: a.StartsAt,
			EndsAt: a.EndsAt, Labels: a.Labels, Annotations: a.Annotations, GeneratorURL: a.GeneratorURL})
	}
	return m, nil
}

func orBody(f string) string {
	if f == "" {
		return "body"
	}
	return f
}

// receive records one notification, all of it or nothing. A database failure is a 503, which
// Alertmanager retries; a payload it will never accept is a 400, which it does not.
func (h *webhookHandler) receive(c *gin.Context) {
	b, err := io.ReadAll(c.Request.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		h.fail(c, &apiError{Status: http.StatusRequestEntityTooLarge, Param: "body", Message: fmt.Sprintf("body larger than %d bytes", mbe.Limit)})
		return
	}
	if err != nil {
		h.fail(c, badParam("body", "cannot read: %v", err))
		return
	}
	m, err := parseWebhook(b)
	if err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.st.RecordWebhook(c.Request.Context(), m)
	if err != nil {
		c.Header("Retry-After", "10")
		h.fail(c, err)
		return
	}
	if res.Inserted+res.Resolved+res.Updated > 0 {
		h.snaps.invalidate()
	}
	c.JSON(http.StatusOK, gin.H{"inserted": res.Inserted, "resolved": res.Resolved, "updated": res.Updated,
		"unchanged": res.Unchanged, "own": res.Own, "truncated_alerts": m.TruncatedAlerts})
}

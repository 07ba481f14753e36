package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// alertHandlers list alerts and acknowledge them.
type alertHandlers struct {
	responder
	st    AlertStore
	snaps *snapshots
	am    *silencer
}

type ackView struct {
	By        string     `json:"by"`
	At        time.Time  `json:"at"`
	Note      string     `json:"note"`
	ExpiresAt *time.Time `json:"expires_at"`
	Severity  string     `json:"severity"`
	Active    bool       `json:"active"`
	Silences  []string   `json:"silences"`
}

type alertEntryView struct {
	ID           int64             `json:"id"`
	Source       string            `json:"source"`
	State        string            `json:"state"`
	RuleID       int64             `json:"rule_id,omitempty"`
	Name         string            `json:"name"`
	Severity     string            `json:"severity"`
	DeviceID     int64             `json:"device_id,omitempty"`
	Device       string            `json:"device,omitempty"`
	Branch       string            `json:"branch,omitempty"`
	Region       string            `json:"region,omitempty"`
	FiredAt      time.Time         `json:"fired_at"`
	ResolvedAt   *time.Time        `json:"resolved_at"`
	Summary      string            `json:"summary"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	SuppressedBy int64             `json:"suppressed_by,omitempty"`
	HoldReason   string            `json:"hold_reason,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	Ack          *ackView          `json:"ack"`
}

func toAlertEntryView(e model.AlertEntry) alertEntryView {
	v := alertEntryView{ID: e.ID, Source: e.Source, State: e.State, RuleID: e.RuleID, Name: e.Name, Severity: e.Severity,
		DeviceID: e.DeviceID, Device: e.Device, Branch: e.Branch, Region: e.Region, FiredAt: e.FiredAt,
		ResolvedAt: e.ResolvedAt, Summary: e.Summary, Fingerprint: e.Fingerprint, Labels: e.Labels,
		Annotations: e.Annotations, SuppressedBy: e.SuppressedBy, HoldReason: e.HoldReason, GeneratorURL: e.GeneratorURL}
	if a := e.Ack; a != nil {
		v.Ack = &ackView{By: a.By, At: a.At, Note: a.Note, ExpiresAt: a.ExpiresAt, Severity: a.Severity, Active: a.Active,
			Silences: append([]string{}, a.Silences...)}
	}
	return v
}

// list returns alerts newest first: ?state=firing|resolved|suppressed|acknowledged, severity,
// branch, region, device (id), source, limit (1–1000, default 100), offset.
func (h *alertHandlers) list(c *gin.Context) {
	p, err := queryParams(c, "state", "severity", "branch", "region", "device", "source", "limit", "offset")
	if err != nil {
		h.fail(c, err)
		return
	}
	f := model.AlertFilter{
		State:    p.oneOf("state", model.StateFiring, model.StateResolved, model.StateSuppressed, model.StateAcknowledged),
		Severity: p.oneOf("severity", "info", "warning", "critical"),
		Branch:   p.str("branch", 200),
		Region:   p.str("region", 200),
		DeviceID: int64(p.integer("device", 0, 1, 1<<53)),
		Source:   p.oneOf("source", model.SourceWardops, model.SourceAlertmanager),
		Limit:    p.integer("limit", 100, 1, 1000),
		Offset:   p.integer("offset", 0, 0, 1<<31-1),
	}
	if p.err != nil {
		h.fail(c, p.err)
		return
	}
	es, total, err := h.st.ListAlerts(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]alertEntryView, len(es))
	for i, e := range es {
		out[i] = toAlertEntryView(e)
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "total": total, "limit": f.Limit, "offset": f.Offset})
}

func (h *alertHandlers) get(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	e, err := h.st.GetAlert(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		h.fail(c, notFound("alert", id))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAlertEntryView(e))
}

// deviceHistoryLimit is how many of its alerts a device's detail carries.
const deviceHistoryLimit = 20

func deviceAlertHistory(ctx context.Context, st interface {
	ListAlerts(context.Context, model.AlertFilter) ([]model.AlertEntry, int, error)
}, id int64) ([]alertEntryView, error) {
	es, _, err := st.ListAlerts(ctx, model.AlertFilter{DeviceID: id, Limit: deviceHistoryLimit})
	if err != nil {
		return nil, err
	}
	out := make([]alertEntryView, len(es))
	for i, e := range es {
		out[i] = toAlertEntryView(e)
	}
	return out, nil
}

type ackBody struct {
	Note      string     `json:"note"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// ack acknowledges an alert as the token's name, with a note and an optional expiry, and mirrors
// it to Alertmanager as a silence of that one alert when Alertmanager URLs are configured. The
// acknowledgement is the record; a silence that fails is reported beside it, not instead of it.
func (h *alertHandlers) ack(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	var b ackBody
	if err := decodeBody(c, &b); err != nil {
		h.fail(c, err)
		return
	}
	if err := checkText("note", b.Note, 1000, true); err != nil {
		h.fail(c, err)
		return
	}
	if b.ExpiresAt != nil && !b.ExpiresAt.After(time.Now()) {
		h.fail(c, badParam("expires_at", "must be in the future"))
		return
	}
	who := tokenName(c)
	ctx := c.Request.Context()
	err = h.st.AckAlert(ctx, model.AckRequest{AlertID: id, By: who, Note: b.Note, ExpiresAt: b.ExpiresAt})
	switch {
	case errors.Is(err, model.ErrNotFound):
		h.fail(c, notFound("alert", id))
		return
	case errors.Is(err, model.ErrAlertResolved):
		h.fail(c, &apiError{Status: http.StatusConflict, Param: "id", Message: fmt.Sprintf("alert %d is resolved", id)})
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	h.snaps.invalidate()
	e, err := h.st.GetAlert(ctx, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	var silenceErrs []string
	if len(h.am.urls) > 0 {
		until := time.Now().Add(silenceTTL)
		if b.ExpiresAt != nil {
			until = *b.ExpiresAt
		}
		made, errs := h.am.silence(ctx, e.Labels, until, who, fmt.Sprintf("wardops alert %d acknowledged: %s", id, b.Note))
		for _, err := range errs {
			silenceErrs = append(silenceErrs, err.Error())
		}
		if len(made) > 0 {
			if err := h.st.SetAckSilences(ctx, id, made); err != nil {
				silenceErrs = append(silenceErrs, err.Error())
			} else if e.Ack != nil {
				e.Ack.Silences = made
			}
		}
		if len(e.Labels) == 0 {
			silenceErrs = append(silenceErrs, "the alert has no labels to scope a silence to")
		}
	}
	c.JSON(http.StatusOK, gin.H{"alert": toAlertEntryView(e), "silence_errors": silenceErrs})
}

// unack removes an acknowledgement (?note= says why, for the audit log) and expires its
// Alertmanager silences.
func (h *alertHandlers) unack(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, err := queryParams(c, "note")
	if err != nil {
		h.fail(c, err)
		return
	}
	note := p.str("note", 1000)
	if err := checkText("note", note, 1000, false); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	silences, err := h.st.UnackAlert(ctx, id, tokenName(c), note)
	switch {
	case errors.Is(err, model.ErrNotFound):
		h.fail(c, notFound("alert", id))
		return
	case errors.Is(err, model.ErrNotAcknowledged):
		h.fail(c, &apiError{Status: http.StatusConflict, Param: "id", Message: "alert " + strconv.FormatInt(id, 10) + " is not acknowledged"})
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	h.snaps.invalidate()
	var silenceErrs []string
	for _, err := range h.am.expire(ctx, silences) {
		silenceErrs = append(silenceErrs, err.Error())
	}
	c.JSON(http.StatusOK, gin.H{"id": id, "acknowledged": false, "silence_errors": silenceErrs})
}

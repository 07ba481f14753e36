package query

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// maintenanceHandlers manage maintenance windows; created_by and every audit row are the
// token's name.
type maintenanceHandlers struct {
	responder
	st MaintenanceStore
}

type maintenanceView struct {
	ID              int64      `json:"id"`
	ScopeKind       string     `json:"scope_kind"`
	ScopeValue      string     `json:"scope_value"`
	StartsAt        *time.Time `json:"starts_at"`
	EndsAt          *time.Time `json:"ends_at"`
	Weekdays        []int      `json:"weekdays"`
	StartTime       string     `json:"start_time,omitempty"`
	DurationSeconds int        `json:"duration_seconds,omitempty"`
	TimeZone        string     `json:"time_zone"`
	Reason          string     `json:"reason"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	ActiveNow       bool       `json:"active_now"`
}

func toMaintenanceView(w model.MaintenanceWindow, now time.Time) maintenanceView {
	active, _ := w.ActiveAt(now)
	days := w.Weekdays
	if days == nil {
		days = []int{}
	}
	return maintenanceView{ID: w.ID, ScopeKind: w.ScopeKind, ScopeValue: w.ScopeValue, StartsAt: w.StartsAt, EndsAt: w.EndsAt,
		Weekdays: days, StartTime: w.StartTime, DurationSeconds: int(w.Duration.Seconds()), TimeZone: w.TimeZone,
		Reason: w.Reason, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, ActiveNow: active}
}

// maintenanceBody is a whole window: one-off (starts_at, ends_at) or weekly (weekdays, start_time
// "HH:MM", duration_seconds) in time_zone (an IANA name, default UTC).
type maintenanceBody struct {
	ScopeKind       string     `json:"scope_kind"`
	ScopeValue      string     `json:"scope_value"`
	StartsAt        *time.Time `json:"starts_at"`
	EndsAt          *time.Time `json:"ends_at"`
	Weekdays        []int      `json:"weekdays"`
	StartTime       string     `json:"start_time"`
	DurationSeconds int        `json:"duration_seconds"`
	TimeZone        string     `json:"time_zone"`
	Reason          string     `json:"reason"`
}

func (b *maintenanceBody) window(by string) (model.MaintenanceWindow, error) {
	w := model.MaintenanceWindow{ScopeKind: b.ScopeKind, ScopeValue: b.ScopeValue, StartsAt: b.StartsAt, EndsAt: b.EndsAt,
		Weekdays: b.Weekdays, StartTime: b.StartTime, Duration: time.Duration(b.DurationSeconds) * time.Second,
		TimeZone: b.TimeZone, Reason: b.Reason, CreatedBy: by}
	if w.TimeZone == "" {
		w.TimeZone = "UTC"
	}
	if err := checkText("reason", w.Reason, 1000, true); err != nil {
		return w, err
	}
	if err := checkText("scope_value", w.ScopeValue, 200, true); err != nil {
		return w, err
	}
	if w.ScopeKind == model.MaintenanceDevice {
		if id, err := strconv.ParseInt(w.ScopeValue, 10, 64); err != nil || id <= 0 {
			return w, badParam("scope_value", "a device scope is the device id")
		}
	}
	if err := w.Validate(); err != nil {
		return w, badParam("body", "%v", err)
	}
	return w, nil
}

// list returns the windows not yet over (?all=true: ended one-off windows too).
func (h *maintenanceHandlers) list(c *gin.Context) {
	p, err := queryParams(c, "all")
	if err != nil {
		h.fail(c, err)
		return
	}
	all := p.boolean("all")
	if p.err != nil {
		h.fail(c, p.err)
		return
	}
	now := time.Now()
	after := now
	if all != nil && *all {
		after = time.Time{}
	}
	ws, err := h.st.MaintenanceWindows(c.Request.Context(), after)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]maintenanceView, len(ws))
	for i, w := range ws {
		out[i] = toMaintenanceView(w, now)
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "total": len(out)})
}

func (h *maintenanceHandlers) get(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answer(c, http.StatusOK, id)
}

func (h *maintenanceHandlers) answer(c *gin.Context, status int, id int64) {
	w, err := h.st.MaintenanceWindow(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		h.fail(c, notFound("maintenance window", id))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(status, toMaintenanceView(w, time.Now()))
}

// readWindow decodes and checks a maintenance window from the request body; who is the token.
func readWindow(c *gin.Context) (model.MaintenanceWindow, error) {
	var b maintenanceBody
	if err := decodeBody(c, &b); err != nil {
		return model.MaintenanceWindow{}, err
	}
	return b.window(tokenName(c))
}

func (h *maintenanceHandlers) create(c *gin.Context) {
	w, err := readWindow(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	id, err := h.st.CreateMaintenanceAudited(c.Request.Context(), w, tokenName(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answer(c, http.StatusCreated, id)
}

func (h *maintenanceHandlers) update(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	w, err := readWindow(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	w.ID = id
	if err := h.st.UpdateMaintenanceAudited(c.Request.Context(), w, tokenName(c)); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			err = notFound("maintenance window", id)
		}
		h.fail(c, err)
		return
	}
	h.answer(c, http.StatusOK, id)
}

func (h *maintenanceHandlers) delete(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	if err := h.st.DeleteMaintenanceAudited(c.Request.Context(), id, tokenName(c)); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			err = notFound("maintenance window", id)
		}
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

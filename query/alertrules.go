package query

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// ruleHandlers manage alert_rules; every write is audited as the token's name.
type ruleHandlers struct {
	responder
	st RuleStore
}

var (
	ruleKinds = []string{model.RuleManual, model.RuleDeviceDown, model.RuleFlapping, model.RuleBlind, model.RuleHighRTT,
		model.RulePacketLoss, model.RuleIfOperDown, model.RuleIfErrors, model.RuleRebooted, model.RuleSNMPUnreachable, model.RuleExpr}
	ruleScopes = []string{model.ScopeAll, model.ScopeRegion, model.ScopeBranch, model.ScopeVendor, model.ScopeDeviceType, model.ScopeDevice}
)

// ruleFields are what a client sets on a rule, the same in what it sends and what it reads back.
type ruleFields struct {
	Name              string            `json:"name"`
	Kind              string            `json:"kind"`
	Expr              string            `json:"expr"`
	Comparison        string            `json:"comparison"`
	Threshold         *float64          `json:"threshold"`
	RecoveryThreshold *float64          `json:"recovery_threshold"`
	WindowSeconds     int               `json:"window_seconds"`
	ForSeconds        int               `json:"for_seconds"`
	Severity          string            `json:"severity"`
	ScopeKind         string            `json:"scope_kind"`
	ScopeValue        string            `json:"scope_value"`
	Labels            map[string]string `json:"labels"`
	Description       string            `json:"description"`
}

type ruleView struct {
	ID int64 `json:"id"`
	ruleFields
	Enabled       bool       `json:"enabled"`
	LastEvalAt    *time.Time `json:"last_eval_at"`
	LastEvalState string     `json:"last_eval_state"`
	LastEvalError string     `json:"last_eval_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

func toRuleView(r model.Rule) ruleView {
	return ruleView{ID: r.ID, ruleFields: ruleFields{Name: r.Name, Kind: r.Kind, Expr: r.Expr, Comparison: r.Comparison,
		Threshold: r.Threshold, RecoveryThreshold: r.Recovery, WindowSeconds: int(r.Window.Seconds()),
		ForSeconds: int(r.For.Seconds()), Severity: r.Severity, ScopeKind: r.ScopeKind, ScopeValue: r.ScopeValue,
		Labels: r.Labels, Description: r.Description}, Enabled: r.Enabled, LastEvalAt: r.LastEvalAt, LastEvalState: r.LastEvalState, LastEvalError: r.LastError,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ruleBody is a whole rule: PUT replaces every field, as POST sets them.
type ruleBody struct {
	ruleFields
	Enabled *bool `json:"enabled"`
}

func (b *ruleBody) rule() (model.Rule, error) {
	r := model.Rule{Name: b.Name, Kind: b.Kind, Expr: b.Expr, Comparison: b.Comparison, Threshold: b.Threshold,
		Recovery: b.RecoveryThreshold, Window: time.Duration(b.WindowSeconds) * time.Second,
		For: time.Duration(b.ForSeconds) * time.Second, Severity: b.Severity, ScopeKind: b.ScopeKind,
		ScopeValue: b.ScopeValue, Labels: b.Labels, Description: b.Description, Enabled: b.Enabled == nil || *b.Enabled}
	if r.Comparison == "" {
		r.Comparison = ">"
	}
	if r.Severity == "" {
		r.Severity = "warning"
	}
	if r.ScopeKind == "" {
		r.ScopeKind = model.ScopeAll
	}
	if err := checkText("name", r.Name, 200, true); err != nil {
		return r, err
	}
	if err := checkText("description", r.Description, 2000, false); err != nil {
		return r, err
	}
	switch {
	case !slices.Contains(ruleKinds, r.Kind):
		return r, badParam("kind", "must be one of %v", ruleKinds)
	case r.Comparison != ">" && r.Comparison != "<":
		return r, badParam("comparison", "must be > or <")
	case model.SeverityRank(r.Severity) == 0:
		return r, badParam("severity", "must be info, warning or critical")
	case !slices.Contains(ruleScopes, r.ScopeKind):
		return r, badParam("scope_kind", "must be one of %v", ruleScopes)
	case (r.ScopeKind == model.ScopeAll) != (r.ScopeValue == ""):
		return r, badParam("scope_value", "required for scope_kind %s, and only then", r.ScopeKind)
	case b.WindowSeconds < 0 || b.WindowSeconds > 7*86400:
		return r, badParam("window_seconds", "must be from 0 to a week")
	case b.ForSeconds < 0 || b.ForSeconds > 7*86400:
		return r, badParam("for_seconds", "must be from 0 to a week")
	case r.Kind == model.RuleExpr && (r.Expr == "" || r.Threshold == nil):
		return r, badParam("expr", "an expr rule needs expr and threshold")
	case len(r.Expr) > 4000:
		return r, badParam("expr", "longer than 4000 bytes")
	}
	if r.ScopeKind == model.ScopeDevice {
		if id, err := strconv.ParseInt(r.ScopeValue, 10, 64); err != nil || id <= 0 {
			return r, badParam("scope_value", "a device scope is the device id")
		}
	}
	for k, v := range r.Labels {
		if err := checkText("labels", k+v, 400, true); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (h *ruleHandlers) list(c *gin.Context) {
	if _, err := queryParams(c); err != nil {
		h.fail(c, err)
		return
	}
	rs, err := h.st.AlertRules(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]ruleView, len(rs))
	for i, r := range rs {
		out[i] = toRuleView(r)
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "total": len(out)})
}

func (h *ruleHandlers) get(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answer(c, http.StatusOK, id)
}

func (h *ruleHandlers) answer(c *gin.Context, status int, id int64) {
	r, err := h.st.AlertRule(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		h.fail(c, notFound("alert rule", id))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(status, toRuleView(r))
}

func (h *ruleHandlers) create(c *gin.Context) {
	r, err := readRule(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	id, err := h.st.CreateRuleAudited(c.Request.Context(), r, tokenName(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.answer(c, http.StatusCreated, id)
}

// readRule decodes and checks a whole rule from the request body.
func readRule(c *gin.Context) (model.Rule, error) {
	var b ruleBody
	if err := decodeBody(c, &b); err != nil {
		return model.Rule{}, err
	}
	return b.rule()
}

func (h *ruleHandlers) update(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	r, err := readRule(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	r.ID = id
	if err := h.st.UpdateRuleAudited(c.Request.Context(), r, tokenName(c)); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			err = notFound("alert rule", id)
		}
		h.fail(c, err)
		return
	}
	h.answer(c, http.StatusOK, id)
}

func (h *ruleHandlers) delete(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	if err := h.st.DeleteRuleAudited(c.Request.Context(), id, tokenName(c)); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			err = notFound("alert rule", id)
		}
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

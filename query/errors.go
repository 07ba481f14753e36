package query

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// apiError is the one JSON error shape of the API. Param names the query, path or body
// parameter at fault, so a client can tell which of its inputs to fix.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Param   string `json:"param,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func badParam(param, format string, a ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Param: param, Message: param + ": " + fmt.Sprintf(format, a...)}
}

func notFound(what string, id int64) *apiError {
	return &apiError{Status: http.StatusNotFound, Param: "id", Message: fmt.Sprintf("%s %d not found", what, id)}
}

// responder writes a failed request's answer. Every handler group embeds one, so that each
// error is classified and logged in one place.
type responder struct{ log *slog.Logger }

// fail writes err as JSON. Validation errors keep their status; store errors map onto 400/404/409
// by their type; anything else is a 503 (a backend failed), logged once here and never echoed in
// detail.
func (r responder) fail(c *gin.Context, err error) {
	c.AbortWithStatusJSON(r.classify(c, err))
}

func (r responder) classify(c *gin.Context, err error) (int, *apiError) {
	var ae *apiError
	var re *model.RefError
	var ce *model.ConflictError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &re):
		ae = &apiError{Status: http.StatusBadRequest, Param: re.Field, Message: re.Error()}
	case errors.Is(err, model.ErrNoSecretKey):
		r.log.Error("SNMP secret refused: no secret key configured", "route", c.FullPath())
		ae = &apiError{Status: http.StatusServiceUnavailable, Param: "snmp",
			Message: "this server has no secret key configured, so it stores no SNMP secret"}
	case errors.Is(err, model.ErrNotFound):
		ae = &apiError{Status: http.StatusNotFound, Message: "not found"}
	case errors.As(err, &ce):
		// The constraint detail PostgreSQL gives ("Key (name)=(x) already exists") names the column
		// but never a secret: no secret column carries a unique constraint.
		detail := ce.Detail
		if detail == "" {
			detail = "a unique or foreign-key constraint refused the change"
		}
		ae = &apiError{Status: http.StatusConflict, Message: "conflict: " + detail}
	default:
		r.log.Warn("request failed", "route", c.FullPath(), "err", err)
		ae = &apiError{Status: http.StatusServiceUnavailable, Message: "backend unavailable"}
	}
	return ae.Status, ae
}

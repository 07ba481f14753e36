package query

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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

// fail writes err as JSON. Validation errors keep their status; store errors map onto 404/409;
// anything else is a 503 (a backend failed), logged once here and never echoed in detail.
func (s *Server) fail(c *gin.Context, err error) {
	var ae *apiError
	var re *model.RefError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &re):
		ae = &apiError{Status: http.StatusBadRequest, Param: re.Field, Message: re.Error()}
	case errors.Is(err, model.ErrNotFound):
		ae = &apiError{Status: http.StatusNotFound, Message: "not found"}
	case errors.Is(err, model.ErrConflict):
		ae = &apiError{Status: http.StatusConflict, Message: "conflict: " + conflictDetail(err)}
	default:
		s.log.Warn("request failed", "route", c.FullPath(), "err", err)
		ae = &apiError{Status: http.StatusServiceUnavailable, Message: "backend unavailable"}
	}
	c.AbortWithStatusJSON(ae.Status, ae)
}

// conflictDetail keeps the constraint detail PostgreSQL gives ("Key (name)=(x) already exists"),
// which names the column but never a secret: no secret column carries a unique constraint.
func conflictDetail(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, model.ErrConflict.Error()+": "); i >= 0 {
		return msg[i+len(model.ErrConflict.Error())+2:]
	}
	return "a unique or foreign-key constraint refused the change"
}

// params validates a request's query string: every parameter must be known, given once.
type params struct {
	v   url.Values
	err *apiError
}

func queryParams(c *gin.Context, known ...string) (*params, error) {
	v := c.Request.URL.Query()
	ok := make(map[string]bool, len(known))
	for _, k := range known {
		ok[k] = true
	}
	for k, vs := range v {
		if !ok[k] {
			return nil, badParam(k, "unknown parameter")
		}
		if len(vs) > 1 {
			return nil, badParam(k, "given more than once")
		}
	}
	return &params{v: v}, nil
}

func (p *params) has(k string) bool { _, ok := p.v[k]; return ok }

func (p *params) str(k string, maxLen int) string {
	s := p.v.Get(k)
	if p.err == nil && len(s) > maxLen {
		p.err = badParam(k, "longer than %d bytes", maxLen)
	}
	return s
}

func (p *params) integer(k string, def, min, max int) int {
	if !p.has(k) {
		return def
	}
	n, err := strconv.Atoi(p.v.Get(k))
	if p.err == nil && (err != nil || n < min || n > max) {
		p.err = badParam(k, "must be an integer from %d to %d", min, max)
	}
	return n
}

func (p *params) boolean(k string) *bool {
	if !p.has(k) {
		return nil
	}
	b, err := strconv.ParseBool(p.v.Get(k))
	if err != nil && p.err == nil {
		p.err = badParam(k, "must be true or false")
	}
	return &b
}

func (p *params) oneOf(k string, allowed ...string) string {
	if !p.has(k) {
		return ""
	}
	s := p.v.Get(k)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	if p.err == nil {
		p.err = badParam(k, "must be one of %s", strings.Join(allowed, ", "))
	}
	return ""
}

// timeParam accepts RFC 3339 or Unix seconds (with an optional fraction), as Prometheus does.
func (p *params) time(k string, def time.Time) time.Time {
	if !p.has(k) {
		return def
	}
	t, err := parseTime(p.v.Get(k))
	if err != nil && p.err == nil {
		p.err = badParam(k, "must be RFC 3339 or Unix seconds")
	}
	return t
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		// !(f >= 0) also refuses NaN, which every comparison lets through.
		if ferr != nil || !(f >= 0) || f > float64(maxTime.Unix()) {
			return time.Time{}, errors.New("bad time")
		}
		t = time.UnixMilli(int64(f * 1000))
	}
	if t.Before(time.Unix(0, 0)) || t.After(maxTime) {
		return time.Time{}, errors.New("time out of range")
	}
	return t.UTC(), nil
}

// maxTime bounds accepted times: nothing wardops stores lies past it.
var maxTime = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)

// duration accepts a Go duration (30s, 5m) or plain seconds.
func (p *params) duration(k string, def, min, max time.Duration) time.Duration {
	if !p.has(k) {
		return def
	}
	s := p.v.Get(k)
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		err = ferr
		d = time.Duration(f * float64(time.Second))
	}
	if p.err == nil && (err != nil || d < min || d > max) {
		p.err = badParam(k, "must be a duration from %s to %s", min, max)
	}
	return d
}

// pathID parses the :id path parameter: a positive 64-bit integer.
func pathID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam("id", "must be a positive integer")
	}
	return id, nil
}

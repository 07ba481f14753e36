package query

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// params validates a request's query string: every parameter must be known, given once.
type params struct {
	v   url.Values
	err *apiError
}

func queryParams(c *gin.Context, known ...string) (*params, error) {
	if c.Request.URL.RawQuery == "" {
		return &params{}, nil // the common case of a polling screen: nothing to parse
	}
	// ParseQuery, not URL.Query: a ";" or a bad escape is an error to report, not a part to drop.
	v, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return nil, badParam("query", "malformed query string (use & between parameters and valid %%-escapes)")
	}
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

// timeRange reads from and to (default: the last hour up to now) and checks that from comes first
// and the range is at most maxRange.
func (p *params) timeRange(maxRange time.Duration) (from, to time.Time) {
	to = p.time("to", time.Now().UTC())
	from = p.time("from", to.Add(-time.Hour))
	if p.err == nil && !from.Before(to) {
		p.err = badParam("from", "must be before to")
	}
	if p.err == nil && to.Sub(from) > maxRange {
		p.err = badParam("from", "range longer than %s", maxRange)
	}
	return from, to
}

const (
	maxListLimit = 5000
	maxFilterLen = 200
)

// listQuery is a validated device-list request: its filters, order and page.
type listQuery struct {
	branch, region, vendor, deviceType string
	q                                  string // lower-case, matched against "name ip"
	branchID                           int64
	status                             string
	enabled                            *bool
	sort                               string // a sortKeys key, "-" prefixed for descending; "" is id
	limit, offset                      int
}

var sortKeys = []string{"id", "name", "ip", "branch", "region", "vendor", "status", "rtt", "loss", "last_probe"}

// sortParams are the values sort accepts: every key, ascending or descending.
var sortParams = func() []string {
	out := make([]string, 0, 2*len(sortKeys))
	for _, k := range sortKeys {
		out = append(out, k, "-"+k)
	}
	return out
}()

func parseListQuery(c *gin.Context) (listQuery, error) {
	p, err := queryParams(c, "branch", "branch_id", "region", "vendor", "device_type", "status", "enabled", "q", "sort", "limit", "offset")
	if err != nil {
		return listQuery{}, err
	}
	q := listQuery{
		branch: p.str("branch", maxFilterLen), region: p.str("region", maxFilterLen),
		vendor: p.str("vendor", maxFilterLen), deviceType: p.str("device_type", maxFilterLen),
		q:        strings.ToLower(p.str("q", maxFilterLen)),
		branchID: int64(p.integer("branch_id", 0, 1, 1<<62)),
		status:   p.oneOf("status", statusUp, statusDown, statusUnknown, statusDisabled),
		enabled:  p.boolean("enabled"),
		sort:     p.oneOf("sort", sortParams...),
		limit:    p.integer("limit", 100, 1, maxListLimit),
		offset:   p.integer("offset", 0, 0, 1<<30),
	}
	if p.err != nil {
		return listQuery{}, p.err
	}
	return q, nil
}

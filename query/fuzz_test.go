package query

// The Alertmanager webhook decoder gets its fuzz target with the webhook itself, from the
// engineer adding it; every other parser of outside input in this package has one here.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wardops/wardops/model"
)

// fuzzContext is a gin context for a request to target, for the parameter parsers alone.
func fuzzContext(method, target, body string) (*gin.Context, bool) {
	gin.SetMode(gin.ReleaseMode)
	req, err := http.NewRequest(method, "http://127.0.0.1"+target, strings.NewReader(body))
	if err != nil {
		return nil, false
	}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = req
	return c, true
}

// wantBadRequest fails unless err is nil or a 4xx *apiError naming its parameter.
func wantBadRequest(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Message == "" {
		t.Fatalf("not a client error: %T %v", err, err)
	}
}

// FuzzQueryString runs every query-string parser of the API on one raw query: the device list's
// filters, the time range and step of the history endpoints, and the malformed-query check.
func FuzzQueryString(f *testing.F) {
	for _, s := range []string{"", "limit=5&offset=10&sort=-rtt", "status=down&enabled=true&q=core", "a;b", "q=%zz",
		"from=1700000000&to=1700003600&step=30s", "from=2026-01-02T03:04:05Z", "limit=1e9", "step=-1", "limit=5&limit=6",
		"branch_id=9223372036854775807", "from=NaN", "step=1e300"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, ok := fuzzContext("GET", "/api/v1/devices", "")
		if !ok {
			return
		}
		c.Request.URL.RawQuery = raw
		q, err := parseListQuery(c)
		wantBadRequest(t, err)
		if err == nil && (q.limit < 1 || q.limit > maxListLimit || q.offset < 0 || len(q.q) > 4*maxFilterLen) {
			t.Fatalf("list query out of bounds accepted: %+v", q)
		}
		p, err := queryParams(c, "from", "to", "step", "limit")
		wantBadRequest(t, err)
		if err == nil {
			from, to := p.timeRange(7 * 24 * time.Hour)
			step := p.duration("step", time.Minute, time.Second, time.Hour)
			if p.err == nil && (!from.Before(to) || to.Sub(from) > 7*24*time.Hour || step < time.Second || step > time.Hour) {
				t.Fatalf("range %s..%s step %s accepted", from, to, step)
			}
			if p.err != nil {
				wantBadRequest(t, p.err)
			}
		}
		if _, err := url.ParseQuery(raw); validQuery(raw) != (err == nil) {
			t.Fatalf("validQuery(%q) = %v, url.ParseQuery: %v", raw, validQuery(raw), err)
		}
		checkQuery(c)
		if c.IsAborted() && c.Writer.Status() != http.StatusBadRequest {
			t.Fatalf("checkQuery answered %d", c.Writer.Status())
		}
	})
}

// FuzzPathID: the :id parser takes positive 64-bit integers only.
func FuzzPathID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "9223372036854775808", "1e3", "0x10", " 1", "01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Params = gin.Params{{Key: "id", Value: s}}
		id, err := pathID(c)
		wantBadRequest(t, err)
		if err == nil && id <= 0 {
			t.Fatalf("id %d from %q", id, s)
		}
	})
}

// FuzzDeviceBody decodes and validates a device write as the API does; a body either becomes a
// valid change or a 4xx naming its field, and a refused body leaves the change as it was.
func FuzzDeviceBody(f *testing.F) {
	for _, s := range []string{`{"name":"n","ip":"127.20.0.1","branch_id":1}`, `{"ip":"169.254.169.254"}`,
		`{"snmp":{"version":"3","credential":"c"}}`, `{"snmp":{"community":"` + strings.Repeat("x", 300) + `"}}`,
		`{"name":"a\u0000b"}`, `{"ping_interval_seconds":1e99}`, `{"snmp_profiles":["system","../x"]}`, `[`, `{"name":"a"} x`,
		`{"parent_id":-1,"clear_parent":true}`} {
		f.Add(s)
	}
	h := &deviceWrites{expand: testExpander, targets: model.TargetPolicy{}}
	f.Fuzz(func(t *testing.T, body string) {
		for _, create := range []bool{true, false} {
			c, ok := fuzzContext("POST", "/api/v1/devices", body)
			if !ok {
				return
			}
			var b deviceBody
			err := decodeBody(c, &b)
			wantBadRequest(t, err)
			if err != nil {
				continue
			}
			var in model.DeviceChange
			err = h.apply(&b, &in, create)
			wantBadRequest(t, err)
			if err != nil {
				continue
			}
			if create && (in.Name == "" || !in.IP.IsValid() || in.BranchID <= 0) {
				t.Fatalf("create accepted without its required fields: %+v", in)
			}
			if in.SNMPVersion == "3" && in.Credential == "" {
				t.Fatal("v3 accepted without a credential")
			}
			if err := checkText("name", in.Name, 200, false); err != nil {
				t.Fatalf("name accepted that checkText refuses: %q", in.Name)
			}
		}
	})
}

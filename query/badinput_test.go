package query

import (
	"strings"
	"testing"
)

// TestBadInput sends malformed parameters to every endpoint: each gives the status wanted and,
// for a 400, a JSON error naming the parameter. None gives a 500.
func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 2, nil)
	id := func(i int) string { return itoa(devs[i].ID) }
	w := e.token("writer", "write")
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		method, path string
		body         any
		code         int
		param        string
	}{
		{"GET", "/api/v1/dashboard?x=1", nil, 400, "x"},
		{"GET", "/api/v1/devices?limit=0", nil, 400, "limit"},
		{"GET", "/api/v1/devices?limit=abc", nil, 400, "limit"},
		{"GET", "/api/v1/devices?limit=5001", nil, 400, "limit"},
		{"GET", "/api/v1/devices?offset=-1", nil, 400, "offset"},
		{"GET", "/api/v1/devices?status=sideways", nil, 400, "status"},
		{"GET", "/api/v1/devices?enabled=maybe", nil, 400, "enabled"},
		{"GET", "/api/v1/devices?sort=colour", nil, 400, "sort"},
		{"GET", "/api/v1/devices?branch_id=-3", nil, 400, "branch_id"},
		{"GET", "/api/v1/devices?q=" + strings.Repeat("a", 300), nil, 400, "q"},
		{"GET", "/api/v1/devices?branch=" + strings.Repeat("b", 300), nil, 400, "branch"},
		{"GET", "/api/v1/devices?limit=1&limit=2", nil, 400, "limit"},
		{"GET", "/api/v1/devices?bogus=1", nil, 400, "bogus"},
		{"GET", "/api/v1/devices?q=%27%3B%20DROP%20TABLE%20standalone_devices%3B--", nil, 200, ""},
		{"GET", "/api/v1/devices/abc", nil, 400, "id"},
		{"GET", "/api/v1/devices/0", nil, 400, "id"},
		{"GET", "/api/v1/devices/-5", nil, 400, "id"},
		{"GET", "/api/v1/devices/99999999999999999999", nil, 400, "id"},
		{"GET", "/api/v1/devices/999999", nil, 404, "id"},
		{"GET", "/api/v1/devices/" + id(0) + "?x=1", nil, 400, "x"},
		{"GET", "/api/v1/devices/abc/ping-history", nil, 400, "id"},
		{"GET", "/api/v1/devices/999999/ping-history", nil, 404, "id"},
		{"GET", "/api/v1/devices/" + id(0) + "/ping-history?from=yesterday", nil, 400, "from"},
		{"GET", "/api/v1/devices/" + id(0) + "/ping-history?to=2026-13-01T00:00:00Z", nil, 400, "to"},
		{"GET", "/api/v1/devices/" + id(0) + "/ping-history?from=2000&to=1000", nil, 400, "from"},
		{"GET", "/api/v1/devices/" + id(0) + "/ping-history?from=0&to=1000000000", nil, 400, "from"},
		{"GET", "/api/v1/devices/" + id(0) + "/ping-history?limit=100000", nil, 400, "limit"},
		{"GET", "/api/v1/devices/" + id(0) + "/ping-history?from=1700000000&to=1700003600", nil, 200, ""},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics", nil, 400, "item"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=up%7D%20or%20vector(1)", nil, 400, "item"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=ifHCInOctets", nil, 404, "item"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=ping_rtt_seconds&step=0", nil, 400, "step"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=ping_rtt_seconds&step=fast", nil, 400, "step"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=ping_rtt_seconds&from=1700000000&to=1700086400&step=1s", nil, 400, "step"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=ping_rtt_seconds&from=x", nil, 400, "from"},
		{"GET", "/api/v1/devices/" + id(0) + "/metrics?item=ping_rtt_seconds", nil, 200, ""},
		{"GET", "/api/v1/devices/999999/metrics?item=ping_rtt_seconds", nil, 404, "id"},
		{"GET", "/api/v1/branches?limit=1", nil, 400, "limit"},
		{"GET", "/api/v1/branches/x", nil, 400, "id"},
		{"GET", "/api/v1/branches/999999", nil, 404, "id"},
		{"POST", "/api/v1/branches", `{"name":`, 400, "body"},
		{"POST", "/api/v1/branches", `{"name":"a"} {"name":"b"}`, 400, "body"},
		{"POST", "/api/v1/branches", `{"region":"x"}`, 400, "name"},
		{"POST", "/api/v1/branches", `{"name":"  "}`, 400, "name"},
		{"POST", "/api/v1/branches", `{"name":"a\u0007b"}`, 400, "name"},
		{"POST", "/api/v1/branches", `{"name":42}`, 400, "name"},
		{"POST", "/api/v1/branches", `{"name":"x","colour":"red"}`, 400, "colour"},
		{"POST", "/api/v1/branches", `[]`, 400, "body"},
		{"POST", "/api/v1/branches", big, 413, ""},
		{"POST", "/api/v1/branches", `{"name":"branch-00"}`, 409, ""},
		{"PATCH", "/api/v1/branches/x", `{}`, 400, "id"},
		{"PATCH", "/api/v1/branches/999999", `{"name":"q"}`, 404, "id"},
		{"PATCH", "/api/v1/branches/1", `{"region":7}`, 400, "region"},
		{"DELETE", "/api/v1/branches/x", nil, 400, "id"},
		{"DELETE", "/api/v1/branches/999999", nil, 404, "id"},
		{"DELETE", "/api/v1/branches/1", nil, 409, "id"},
		{"POST", "/api/v1/devices", `{"ip":"127.20.9.1","branch_id":1}`, 400, "name"},
		{"POST", "/api/v1/devices", `{"name":"n","branch_id":1}`, 400, "ip"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1"}`, 400, "branch_id"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"not-an-ip","branch_id":1}`, 400, "ip"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"fe80::1%eth0","branch_id":1}`, 400, "ip"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":"one"}`, 400, "branch_id"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":0}`, 400, "branch_id"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":999}`, 400, "branch_id"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"parent_id":999}`, 400, "parent_id"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"version":"4"}}`, 400, "snmp.version"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"version":"2c","port":70000}}`, 400, "snmp.port"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"version":"3"}}`, 400, "snmp.credential"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"version":"3","credential":"nope"}}`, 403, "snmp.credential"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"169.254.169.254","branch_id":1}`, 400, "ip"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"fe80::1","branch_id":1}`, 400, "ip"},
		{"PATCH", "/api/v1/devices/" + id(0), `{"ip":"169.254.169.254"}`, 400, "ip"},
		{"GET", "/api/v1/devices?limit=5;offset=1", nil, 400, "query"},
		{"GET", "/api/v1/devices?q=%zz", nil, 400, "query"},
		{"GET", "/api/v1/dashboard?a;b", nil, 400, "query"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp_profiles":["system"]}`, 400, "snmp_profiles"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"version":"2c"},"snmp_profiles":["nope"]}`, 400, "snmp_profiles"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"version":"2c"},"snmp_profiles":["a b"]}`, 400, "snmp_profiles"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"ping_interval_seconds":0}`, 400, "ping_interval_seconds"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"enabled":"yes"}`, 400, "enabled"},
		{"POST", "/api/v1/devices", `{"name":"n","ip":"127.20.9.1","branch_id":1,"snmp":{"port":"x"}}`, 400, "snmp.port"},
		{"POST", "/api/v1/devices", `{"name":"dev-00-00","ip":"127.20.9.1","branch_id":1}`, 409, ""},
		{"POST", "/api/v1/devices", `{"name":"other","ip":"127.20.0.1","branch_id":1}`, 409, ""},
		{"POST", "/api/v1/devices", big, 413, ""},
		{"PATCH", "/api/v1/devices/abc", `{}`, 400, "id"},
		{"PATCH", "/api/v1/devices/999999", `{"vendor":"x"}`, 404, "id"},
		{"PATCH", "/api/v1/devices/" + id(0), `{"ip":"300.1.1.1"}`, 400, "ip"},
		{"PATCH", "/api/v1/devices/" + id(0), `{"parent_id":` + id(0) + `}`, 400, "parent_id"},
		{"PATCH", "/api/v1/devices/" + id(0), `{"name":"dev-00-01"}`, 409, ""},
		{"DELETE", "/api/v1/devices/abc", nil, 400, "id"},
		{"DELETE", "/api/v1/devices/999999", nil, 404, "id"},
		{"GET", "/api/v1/nothing", nil, 404, ""},
		{"PUT", "/api/v1/devices", nil, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+trunc(tc.path)+" "+trunc(toString(tc.body)), func(t *testing.T) {
			var ae apiError
			code := e.do(tc.method, tc.path, w, tc.body, &ae)
			if code != tc.code {
				t.Fatalf("status %d (%+v), want %d", code, ae, tc.code)
			}
			if tc.code >= 400 && ae.Message == "" {
				t.Errorf("no JSON error message")
			}
			if ae.Param != tc.param {
				t.Errorf("param %q (%s), want %q", ae.Param, ae.Message, tc.param)
			}
		})
	}
}

func itoa(n int64) string { return strconvFormat(n) }

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

package query

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wardops/wardops/internal/httpsec"
	"github.com/wardops/wardops/internal/testenv"
)

// counterValue is the value of the counter name with exactly these labels in reg, 0 when absent.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, lp := range m.GetLabel() {
		if labels[lp.GetName()] != lp.GetValue() {
			return false
		}
	}
	return true
}

// TestFastPathAnswersAsGin: what the fast path serves is what gin serves for the same request,
// status, body and headers (all but Date, and Age to the second), and it is counted in the same
// series.
func TestFastPathAnswersAsGin(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheTTL = time.Hour })
	e.seedInventory(4, 30, nil)
	slow := httptest.NewServer(httpsec.Wrap(e.srv.engine, httpsec.NewHosts(nil)))
	t.Cleanup(slow.Close)
	reg := e.opts.Registry
	for _, path := range []string{"/api/v1/dashboard", "/api/v1/devices", "/api/v1/devices?limit=10&offset=5", "/api/v1/devices?status=up&sort=-name"} {
		route, _, _ := strings.Cut(path, "?")
		ok200 := map[string]string{"route": route, "method": "GET", "code": "200"}
		if code := e.get(path, nil); code != 200 { // gin renders the page and caches it
			t.Fatalf("%s: %d", path, code)
		}
		for _, enc := range []string{"gzip", "identity", "br;q=1, gzip;q=0.5"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Accept-Encoding", enc)
			if _, _, body, _ := e.srv.fast.admit(req); body == nil {
				t.Fatalf("%s (%s): not admitted to the fast path", path, enc)
			}
			before := counterValue(t, reg, "wardops_query_http_requests_total", ok200)
			hits := counterValue(t, reg, "wardops_query_cache_requests_total", map[string]string{"result": "hit"})
			fresp, fbody := testenv.GetEncoded(t, e.ts.URL+path, enc)
			if n := counterValue(t, reg, "wardops_query_http_requests_total", ok200); n != before+1 {
				t.Errorf("%s (%s): requests counter %g, want %g", path, enc, n, before+1)
			}
			if n := counterValue(t, reg, "wardops_query_cache_requests_total", map[string]string{"result": "hit"}); n != hits+1 {
				t.Errorf("%s (%s): cache hits %g, want %g", path, enc, n, hits+1)
			}
			sresp, sbody := testenv.GetEncoded(t, slow.URL+path, enc)
			if fresp.StatusCode != sresp.StatusCode || !bytes.Equal(fbody, sbody) {
				t.Fatalf("%s (%s): fast %d, %d bytes; gin %d, %d bytes", path, enc, fresp.StatusCode, len(fbody), sresp.StatusCode, len(sbody))
			}
			for _, k := range headerKeys(fresp.Header, sresp.Header) {
				f, s := fresp.Header.Values(k), sresp.Header.Values(k)
				switch k {
				case "Date":
				case "Age":
					fa, ferr := strconv.Atoi(fresp.Header.Get(k))
					sa, serr := strconv.Atoi(sresp.Header.Get(k))
					if ferr != nil || serr != nil || fa > sa || sa > fa+1 {
						t.Errorf("%s (%s): Age %q from the fast path, %q from gin", path, enc, f, s)
					}
				default:
					if strings.Join(f, "\n") != strings.Join(s, "\n") {
						t.Errorf("%s (%s): %s %q from the fast path, %q from gin", path, enc, k, f, s)
					}
				}
			}
		}
	}
}

func headerKeys(hs ...http.Header) []string {
	seen := map[string]bool{}
	var keys []string
	for _, h := range hs {
		for k := range h {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// TestFastPathLeavesToGin: every request the fast path cannot answer with a plain 200 from the
// current snapshot is left to gin, which gives the answer it always gave.
func TestFastPathLeavesToGin(t *testing.T) {
	type step struct {
		name   string
		method string
		path   string
		token  string // "reader": the read token
		body   string
		admit  bool // the fast path answers it
		code   int  // the answer, from whichever path
	}
	f := func(t *testing.T, tweak func(*Options), steps []step) {
		t.Helper()
		e := newEnv(t, func(o *Options) {
			o.CacheTTL = time.Hour
			if tweak != nil {
				tweak(o)
			}
		})
		e.seedInventory(2, 5, nil)
		reader := e.token("reader", scopeRead)
		if _, err := e.srv.snaps.get(context.Background()); err != nil { // the snapshot the steps are served from
			t.Fatal(err)
		}
		for _, s := range steps {
			var body func() *strings.Reader
			if s.body != "" {
				body = func() *strings.Reader { return strings.NewReader(s.body) }
			}
			newReq := func(url string) *http.Request {
				var req *http.Request
				if body != nil {
					req = httptest.NewRequest(s.method, url, body())
				} else {
					req = httptest.NewRequest(s.method, url, nil)
				}
				if s.token != "" {
					req.Header.Set("Authorization", "Bearer "+reader)
				}
				return req
			}
			// admit has no effect when it declines; when it admits, it takes a rate-limit token,
			// so it is only asked where no rate limit is set.
			if e.srv.limiter == nil {
				if _, _, b, _ := e.srv.fast.admit(newReq(s.path)); (b != nil) != s.admit {
					t.Errorf("%s: admitted %t, want %t", s.name, b != nil, s.admit)
				}
			}
			req := newReq(e.ts.URL + s.path)
			req.RequestURI = ""
			code, _, text := e.raw(req)
			if code != s.code {
				t.Errorf("%s: %d %s, want %d", s.name, code, text, s.code)
			}
		}
	}
	t.Run("requests", func(t *testing.T) {
		f(t, nil, []step{
			{name: "dashboard", method: "GET", path: "/api/v1/dashboard", admit: true, code: 200},
			{name: "dashboard with a parameter", method: "GET", path: "/api/v1/dashboard?x=1", code: 400},
			{name: "dashboard with a ; separator", method: "GET", path: "/api/v1/dashboard?a=1;b=2", code: 400},
			{name: "dashboard with a bad escape", method: "GET", path: "/api/v1/dashboard?a=%zz", code: 400},
			{name: "dashboard with a body", method: "GET", path: "/api/v1/dashboard", body: "{}", code: 200},
			{name: "dashboard with a trailing slash", method: "GET", path: "/api/v1/dashboard/", code: 200}, // gin's redirect, followed
			{name: "HEAD", method: "HEAD", path: "/api/v1/dashboard", code: 405},
			{name: "POST", method: "POST", path: "/api/v1/dashboard", code: 405},
			{name: "page not rendered yet", method: "GET", path: "/api/v1/devices?limit=3", code: 200},
			{name: "page rendered", method: "GET", path: "/api/v1/devices?limit=3", admit: true, code: 200},
			{name: "same page, other query string", method: "GET", path: "/api/v1/devices?offset=0&limit=3", code: 200},
			{name: "invalid page", method: "GET", path: "/api/v1/devices?limit=0", code: 400},
			{name: "invalid page again (not cached)", method: "GET", path: "/api/v1/devices?limit=0", code: 400},
			{name: "unknown parameter", method: "GET", path: "/api/v1/devices?nope=1", code: 400},
			{name: "another route", method: "GET", path: "/api/v1/branches", code: 200},
		})
	})
	t.Run("read token required", func(t *testing.T) {
		f(t, func(o *Options) { o.RequireReadToken = true }, []step{
			{name: "no token", method: "GET", path: "/api/v1/dashboard", code: 401},
			{name: "token not in the cache yet", method: "GET", path: "/api/v1/dashboard", token: "reader", code: 200},
			{name: "token cached", method: "GET", path: "/api/v1/dashboard", token: "reader", admit: true, code: 200},
			{name: "page with a cached token", method: "GET", path: "/api/v1/devices", token: "reader", code: 200},
			{name: "page rendered, token cached", method: "GET", path: "/api/v1/devices", token: "reader", admit: true, code: 200},
			{name: "page rendered, no token", method: "GET", path: "/api/v1/devices", code: 401},
		})
	})
	t.Run("after a write", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.CacheTTL = time.Hour })
		e.seedInventory(1, 2, nil)
		e.get("/api/v1/dashboard", nil)
		e.srv.snaps.invalidate()
		req := httptest.NewRequest("GET", "/api/v1/dashboard", nil)
		if _, _, b, _ := e.srv.fast.admit(req); b != nil {
			t.Fatal("a snapshot from before a write admitted")
		}
		e.get("/api/v1/dashboard", nil)
		if _, _, b, _ := e.srv.fast.admit(req); b == nil {
			t.Fatal("the snapshot built after the write not admitted")
		}
	})
}

// TestFastPathRateLimit: the fast path keeps the per-client limit, and a request it declines is
// answered 429 by gin and counted once.
func TestFastPathRateLimit(t *testing.T) {
	f := func(proxies []string) {
		t.Helper()
		e := newEnv(t, func(o *Options) {
			o.CacheTTL, o.RateLimit, o.RateLimitLoopback, o.TrustedProxies = time.Hour, 0.5, true, proxies
		})
		e.seedInventory(1, 2, nil)
		// Burst 1 at one token per 2 s. The first request builds the snapshot through gin and
		// takes the token; the second, which the fast path could otherwise answer, is refused.
		if code := e.get("/api/v1/dashboard", nil); code != 200 {
			t.Fatalf("proxies %v: first request %d", proxies, code)
		}
		if code := e.get("/api/v1/dashboard", nil); code != 429 {
			t.Fatalf("proxies %v: second request %d, want 429", proxies, code)
		}
		if n := counterValue(t, e.opts.Registry, "wardops_query_rate_limited_total", nil); n != 1 {
			t.Fatalf("proxies %v: rate_limited_total %g, want 1", proxies, n)
		}
		// With a fresh bucket the fast path answers and takes the token itself, unless the
		// client's address is gin's to find; the request after it gets what is left.
		e.srv.limiter.mu.Lock()
		clear(e.srv.limiter.clients)
		e.srv.limiter.mu.Unlock()
		req := httptest.NewRequest("GET", "/api/v1/dashboard", nil)
		req.RemoteAddr = "127.0.0.1:1234" // the test client's address
		_, _, b, _ := e.srv.fast.admit(req)
		want := 429
		if admitted := b != nil; admitted != (proxies == nil) {
			t.Fatalf("proxies %v: admitted %t", proxies, admitted)
		} else if !admitted {
			want = 200
		}
		if code := e.get("/api/v1/dashboard", nil); code != want {
			t.Fatalf("proxies %v: request after the fast path's %d, want %d", proxies, code, want)
		}
	}
	f(nil)
	f([]string{"10.0.0.0/8"})
}

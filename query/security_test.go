package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// fleetCommunity is a device's community as the collector would load it (the API never returns it).
func fleetCommunity(t *testing.T, e *env, id int64) string {
	t.Helper()
	f, err := e.st.LoadFleet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Devices {
		if d.ID == id {
			return d.SNMP.Community.Reveal()
		}
	}
	return "<not in fleet>"
}

func (e *env) raw(req *http.Request) (int, http.Header, string) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRouteScopeTable walks every route gin has and fails for one missing from routeScopes, then
// checks each route of the table, route by route, against tokens of every scope.
func TestRouteScopeTable(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RequireReadToken = true })
	devs := e.seedInventory(1, 2, nil)
	for _, r := range e.srv.engine.Routes() {
		if _, ok := routeScopes[r.Method+" "+r.Path]; !ok {
			t.Errorf("route %s %s has no scope in routeScopes", r.Method, r.Path)
		}
	}
	for k := range routeScopes {
		found := false
		for _, r := range e.srv.engine.Routes() {
			found = found || r.Method+" "+r.Path == k
		}
		if !found {
			t.Errorf("routeScopes names %s, which is no route", k)
		}
	}
	tokens := map[string]string{"": "", scopeRead: e.token("r", scopeRead), scopeWrite: e.token("w", scopeWrite), scopeAdmin: e.token("a", scopeAdmin)}
	order := []string{"", scopeRead, scopeWrite, scopeAdmin}
	for key, need := range routeScopes {
		method, pattern, _ := strings.Cut(key, " ")
		path := strings.ReplaceAll(pattern, ":id", fmt.Sprint(devs[1].ID))
		path = strings.ReplaceAll(path, "*file", "app.js")
		t.Run(key, func(t *testing.T) {
			for _, have := range order {
				req, _ := http.NewRequest(method, e.ts.URL+path, nil)
				if tokens[have] != "" {
					req.Header.Set("Authorization", "Bearer "+tokens[have])
				}
				code, _, body := e.raw(req)
				allowed := need == scopePublic || (have != "" && scopeRank[have] >= scopeRank[need])
				switch {
				case allowed && (code == 401 || code == 403):
					t.Errorf("token %q: %d %s, want access", have, code, body)
				case !allowed && have == "" && code != 401:
					t.Errorf("no token: %d, want 401", code)
				case !allowed && have != "" && code != 403:
					t.Errorf("token %q: %d, want 403", have, code)
				}
			}
		})
	}
}

// TestEveryResponseHasSecurityHeaders: CSP with frame-ancestors and nosniff on the page, JSON,
// errors, static files and /metrics alike; X-Frame-Options and Referrer-Policy on the two pages.
func TestEveryResponseHasSecurityHeaders(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/", "/wall", "/static/app.js", "/api/v1/devices", "/api/v1/nothing", "/metrics", "/api/v1/devices/x"} {
		req, _ := http.NewRequest("GET", e.ts.URL+p, nil)
		_, h, _ := e.raw(req)
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: CSP %q nosniff %q", p, h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"))
		}
		// The HTML documents (the NOC page, the wall) may load the service's own scripts and also
		// carry the headers only a document needs; nothing else may load anything.
		doc := p == "/" || p == "/wall"
		if doc != (h.Get("X-Frame-Options") == "DENY") || doc != (h.Get("Referrer-Policy") == "no-referrer") {
			t.Errorf("%s: X-Frame-Options %q Referrer-Policy %q", p, h.Get("X-Frame-Options"), h.Get("Referrer-Policy"))
		}
		if loadsNothing := strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'"); doc == loadsNothing {
			t.Errorf("%s: CSP %q", p, h.Get("Content-Security-Policy"))
		}
	}
}

// TestAllowedHosts: a name not configured is refused (DNS rebinding), IP literals and localhost
// and configured names are answered.
func TestAllowedHosts(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedHosts = []string{"noc.bank.example"} })
	for host, want := range map[string]int{"rebind.attacker.example": 421, "127.0.0.1:5001": 200, "localhost": 200,
		"noc.bank.example:443": 200, "NOC.bank.example": 200, "[::1]:5001": 200} {
		req, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/devices", nil)
		req.Host = host
		if code, _, _ := e.raw(req); code != want {
			t.Errorf("Host %q: %d, want %d", host, code, want)
		}
	}
}

// TestMethodLabelBounded: made-up methods all count as "other", so they cannot grow /metrics.
func TestMethodLabelBounded(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 200 {
		req, _ := http.NewRequest(fmt.Sprintf("M%05d", i), e.ts.URL+"/api/v1/devices", nil)
		e.raw(req)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/metrics", nil)
	_, _, body := e.raw(req)
	if strings.Contains(body, `method="M0`) || !strings.Contains(body, `method="other"`) {
		t.Fatalf("made-up methods became labels")
	}
	if n := strings.Count(body, "wardops_query_http_requests_total{"); n > 10 {
		t.Fatalf("%d request series after 200 made-up methods", n)
	}
}

// TestForbiddenDoesNotNameToken and the metrics endpoint behind the read token.
func TestForbiddenAndMetricsToken(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RequireReadToken = true })
	r := e.token("alice-laptop-token", scopeRead)
	var ae apiError
	if code := e.do("POST", "/api/v1/branches", r, map[string]any{"name": "x"}, &ae); code != 403 || strings.Contains(ae.Message, "alice") {
		t.Fatalf("403 names the token: %d %q", code, ae.Message)
	}
	if code := e.do("GET", "/metrics", "", nil, nil); code != 401 {
		t.Fatalf("/metrics without a token while reads need one: %d", code)
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r)
	if code, _, _ := e.raw(req); code != 200 {
		t.Fatalf("/metrics with a read token: %d", code)
	}
}

// TestRevokedTokenStopsWithinBound: a revoked token is refused within the documented bound, one
// second (the README states it; tokenTTL must not exceed it).
func TestRevokedTokenStopsWithinBound(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token("soon-revoked", scopeWrite)
	if code := e.do("POST", "/api/v1/branches", w, map[string]any{"name": "a"}, nil); code != 201 {
		t.Fatalf("before revoke: %d", code)
	}
	if err := e.st.RevokeToken(context.Background(), "soon-revoked"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second + 100*time.Millisecond)
	if code := e.do("POST", "/api/v1/branches", w, map[string]any{"name": "b"}, nil); code != 401 {
		t.Fatalf("revoked token 1.1 s later: %d, want 401", code)
	}
}

// TestWritesNeedJSON: a form or text body (what another origin can send without a preflight) is
// refused before any handler runs.
func TestWritesNeedJSON(t *testing.T) {
	e := newEnv(t, nil)
	w := e.token("w", scopeWrite)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/branches", strings.NewReader(`{"name":"x"}`))
		req.Header.Set("Authorization", "Bearer "+w)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if code, _, _ := e.raw(req); code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d, want 415", ct, code)
		}
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/branches", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+w)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if code, _, _ := e.raw(req); code != 201 {
		t.Errorf("JSON with charset: %d", code)
	}
}

// TestProblemsAreGeneric: with ping_results unreadable and VictoriaMetrics unreachable the
// dashboard says so without the backends' addresses or error texts.
func TestProblemsAreGeneric(t *testing.T) {
	port := testenv.FreePort(t)
	e := newEnv(t, func(o *Options) { o.VMQueryURL = fmt.Sprintf("http://127.0.0.1:%d", port) })
	e.seedInventory(1, 1, nil)
	e.hidePings()
	var d struct {
		Problems []string `json:"problems"`
	}
	e.get("/api/v1/dashboard", &d)
	if len(d.Problems) == 0 {
		t.Fatal("no problem reported")
	}
	for _, p := range d.Problems {
		if strings.Contains(p, fmt.Sprint(port)) || strings.Contains(p, "127.0.0.1") || strings.Contains(p, "connection refused") ||
			strings.Contains(p, "ping_results") && strings.Contains(p, "does not exist") {
			t.Fatalf("problem text carries backend details: %q", p)
		}
	}
}

// TestTrustedProxy: X-Forwarded-For counts only from a configured proxy.
func TestTrustedProxy(t *testing.T) {
	f := func(proxies []string, wantLimited bool) {
		t.Helper()
		e := newEnv(t, func(o *Options) { o.RateLimit, o.RateLimitLoopback, o.TrustedProxies = 1, true, proxies })
		limited := false
		for i := range 5 {
			req, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/health", nil)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1)) // never contacted: a header value only
			code, _, _ := e.raw(req)
			limited = limited || code == 429
		}
		if limited != wantLimited {
			t.Fatalf("proxies %v: limited %t, want %t", proxies, limited, wantLimited)
		}
	}
	f(nil, true)                       // the header is ignored: one client, over its rate
	f([]string{"127.0.0.1/32"}, false) // five clients behind the proxy, one request each
}

// TestDeviceSecretsNeedAdminOrTheSecret: a write token cannot move a device's community to a new
// address, change how it is polled, or attach a stored credential.
func TestDeviceSecretsNeedAdminOrTheSecret(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 2, nil) // community "sekret-community"
	w, a := e.token("w", scopeWrite), e.token("a", scopeAdmin)
	if _, err := e.st.ImportInventory(context.Background(), []model.ImportCredential{{Name: "core-v3", Version: "3", Username: "noc",
		AuthProtocol: "SHA", AuthKey: "v3-auth-passphrase", PrivProtocol: "AES", PrivKey: "v3-priv-passphrase"}}, nil, false); err != nil {
		t.Fatal(err)
	}
	id := itoa(devs[0].ID)
	f := func(token string, body map[string]any, want int) {
		t.Helper()
		var ae apiError
		if code := e.do("PATCH", "/api/v1/devices/"+id, token, body, &ae); code != want {
			t.Fatalf("PATCH %v: %d %q, want %d", body, code, ae.Message, want)
		}
	}
	f(w, map[string]any{"ip": "127.20.0.77"}, 400)
	f(a, map[string]any{"ip": "127.20.0.77"}, 400) // never silently, admin or not
	if got := fleetCommunity(t, e, devs[0].ID); got != "sekret-community" {
		t.Fatalf("refused move changed the community: %q", got)
	}
	f(w, map[string]any{"snmp": map[string]any{"port": 1161}}, 403)
	f(w, map[string]any{"snmp": map[string]any{"version": "3", "credential": "core-v3"}}, 403)
	f(w, map[string]any{"vendor": "juniper"}, 200) // a plain edit keeps the community
	if got := fleetCommunity(t, e, devs[0].ID); got != "sekret-community" {
		t.Fatalf("community after a plain edit: %q", got)
	}
	f(a, map[string]any{"snmp": map[string]any{"port": 1161}}, 200)
	f(w, map[string]any{"ip": "127.20.0.77", "snmp": map[string]any{"community": "new-community"}}, 200)
	if got := fleetCommunity(t, e, devs[0].ID); got != "new-community" {
		t.Fatalf("community after a move with the secret given: %q", got)
	}
	f(w, map[string]any{"ip": "127.20.0.78", "snmp": map[string]any{"version": ""}}, 200) // no SNMP: nothing to carry
	if got := fleetCommunity(t, e, devs[0].ID); got != "" {
		t.Fatalf("a device without SNMP kept a community: %q", got)
	}
	body := map[string]any{"name": "v3-dev", "ip": "127.20.0.90", "branch_id": 1, "snmp": map[string]any{"version": "3", "credential": "core-v3"}}
	if code := e.do("POST", "/api/v1/devices", w, body, nil); code != 403 {
		t.Fatalf("write token attaching a credential: %d", code)
	}
	if code := e.do("POST", "/api/v1/devices", a, body, nil); code != 201 {
		t.Fatalf("admin attaching a credential: %d", code)
	}
}

// TestNOCPagePrototypeBranchNames: branches named like Object.prototype members render.
func TestNOCPagePrototypeBranchNames(t *testing.T) {
	e := newEnv(t, nil)
	var specs []model.ImportDevice
	for i, b := range []string{"constructor", "__proto__", "toString", "hasOwnProperty"} {
		specs = append(specs, model.ImportDevice{Line: i + 2, Branch: b, Name: fmt.Sprintf("proto-%d", i), IP: fmt.Sprintf("127.20.60.%d", i+1),
			Enabled: true, SNMPPort: 161})
	}
	if _, err := e.st.ImportInventory(context.Background(), nil, specs, false); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/?refresh=1"), chromedp.WaitVisible(chromedp.CSS("#branches .tile"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tiles, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".tile").length`))
		var groups int
		if err == nil {
			groups, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".branch").length`))
		}
		if err == nil && tiles == 4 && groups == 4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page shows %d tiles in %d branches, want 4 in 4 (%v)", tiles, groups, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPanicPathRedactsSecrets: a handler panicking with a device (secrets and all) in hand is
// answered 500 and logged at debug level without the secrets.
func TestPanicPathRedactsSecrets(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &Server{log: log, m: newMetrics(prometheus.NewRegistry())}
	gin.SetMode(gin.ReleaseMode)
	eng := gin.New()
	eng.Use(s.recoverer)
	dev := model.Device{SNMP: model.SNMP{Version: "3", Community: "panic-community-1", AuthKey: "panic-auth-2", PrivKey: "panic-priv-3"}}
	eng.GET("/boom", func(*gin.Context) { panic(dev) })
	eng.GET("/boom-err", func(*gin.Context) { panic(fmt.Errorf("poll %v with %+v: %w", dev.SNMP, dev, errors.New("x"))) })
	for _, p := range []string{"/boom", "/boom-err"} {
		rec := httptest.NewRecorder()
		eng.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 500 {
			t.Fatalf("%s: %d", p, rec.Code)
		}
		out := logs.String() + rec.Body.String()
		for _, sec := range []string{"panic-community-1", "panic-auth-2", "panic-priv-3"} {
			if strings.Contains(out, sec) {
				t.Fatalf("%s: the panic path shows %q:\n%s", p, sec, out)
			}
		}
	}
	if !strings.Contains(logs.String(), "handler panic") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// TestSlowBodyCutOff: a client that sends its headers and then trickles the body loses the
// connection once the body timeout passes, whether the route refuses it early (an unknown path,
// a missing token) or reads the body, instead of holding a connection open (a slow-body attack).
func TestSlowBodyCutOff(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.BodyTimeout = 300 * time.Millisecond })
	for _, path := range []string{"/api/v1/devices", "/api/v1/nothing"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", path)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(conn); err != nil {
				t.Fatalf("connection still open after %s: %v", time.Since(start).Round(time.Millisecond), err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("connection closed after %s, want about the 300ms body timeout", took)
			}
		})
	}
}

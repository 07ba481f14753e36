package query

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// fastPath answers the common request of the snapshot routes (a polling screen's GET of the
// dashboard or of a device-list page already rendered for the current snapshot) in front of gin.
// At a wall's request rates gin's context, eight middleware hops and their lookups cost as much
// as the rest of such an answer, which is a copy of bytes.
//
// It answers only what the chain in routes() would answer 200, after the same checks: a valid
// query and no body (checkQuery, limitBody, checkContentType), the route's scope from
// routeScopes with the token found in the token cache (enforceScopes), the rate limit; and it
// counts the answer in the route's series as observe would. Anything else (a check that fails or
// needs a backend, no servable snapshot, a page not rendered yet) goes to gin untouched, having
// changed no state, so every refusal and every error still comes from one place. The Host check
// and the security headers stay in front of both (httpsec.Wrap).
type fastPath struct {
	next    http.Handler
	routes  []snapshotRoute
	snaps   *snapshots
	auth    *authenticator
	limiter *clientLimiter // nil: no rate limit
	// viaProxy: trusted proxies are configured, so a client's address for the rate limit needs
	// gin's ClientIP (X-Forwarded-For from a trusted proxy); rate-limited requests go to gin then.
	viaProxy bool
	m        *metrics
	log      *slog.Logger
}

// snapshotRoute is one GET route whose common answer is a body rendered from the current snapshot.
type snapshotRoute struct {
	path  string        // the gin route pattern, which the request path must equal
	scope string        // the route's entry in routeScopes
	ok    *routeMetrics // its GET 200 series, resolved once
	// body is the rendered answer to the query string, or nil when only the handler can give it
	// (a parameter to validate, a page not rendered yet).
	body func(snap *snapshot, rawQuery string) *rendered
}

func (s *Server) newFastPath(next http.Handler, trustedProxies []string, h routeSet) *fastPath {
	f := &fastPath{next: next, snaps: s.snaps, auth: h.auth, limiter: s.limiter, viaProxy: len(trustedProxies) > 0, m: s.m, log: s.log}
	for _, rt := range []snapshotRoute{
		{path: "/api/v1/dashboard", body: func(snap *snapshot, q string) *rendered {
			if q != "" {
				return nil // the dashboard has no parameters: the handler refuses any
			}
			return snap.dashboard
		}},
		// Only pages of valid queries are cached, under their exact query string.
		{path: "/api/v1/devices", body: func(snap *snapshot, q string) *rendered { return snap.pages.get(q) }},
	} {
		scope, ok := routeScopes[http.MethodGet+" "+rt.path]
		if !ok {
			continue // gin refuses a route missing from the table: so does leaving it to gin
		}
		rt.scope, rt.ok = scope, s.m.series(rt.path, http.MethodGet, http.StatusOK)
		f.routes = append(f.routes, rt)
	}
	return f
}

func (f *fastPath) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, snap, body, start := f.admit(r)
	if body == nil {
		f.next.ServeHTTP(w, r)
		return
	}
	defer f.recoverer(w, rt, start)
	f.snaps.served(snap, start)
	writeSnapshot(w, r, snap, body, start)
	rt.ok.observe(time.Since(start))
}

// admit returns the route, snapshot and body that answer r, when the fast path may; body is nil
// when gin must answer, and then admit has changed nothing.
func (f *fastPath) admit(r *http.Request) (rt *snapshotRoute, snap *snapshot, body *rendered, start time.Time) {
	if r.Method != http.MethodGet {
		return nil, nil, nil, start
	}
	for i := range f.routes {
		if f.routes[i].path == r.URL.Path {
			rt = &f.routes[i]
			break
		}
	}
	// A GET with a body is answered by gin (limitBody), and so is a query string net/url would
	// not parse (checkQuery).
	if rt == nil || r.ContentLength != 0 || r.Body != nil && r.Body != http.NoBody || !validQuery(r.URL.RawQuery) {
		return nil, nil, nil, start
	}
	start = time.Now()
	if !f.auth.allowsCached(r, rt.scope, start) {
		return nil, nil, nil, start
	}
	if snap = f.snaps.ready(start); snap == nil {
		return nil, nil, nil, start
	}
	if body = rt.body(snap, r.URL.RawQuery); body == nil {
		return nil, nil, nil, start
	}
	// The rate limit comes last, as the one check with an effect: an allowed request takes a
	// token. A refused one takes none, so gin, refusing it again, does not count it twice.
	if f.limiter != nil {
		ip, ok := connAddr(r)
		if f.viaProxy || !ok || !f.limiter.allow(ip, start) {
			return nil, nil, nil, start
		}
	}
	return rt, snap, body, start
}

// recoverer answers a panic while serving as the gin chain's recoverer and observe do: logged,
// a 500, counted.
func (f *fastPath) recoverer(w http.ResponseWriter, rt *snapshotRoute, start time.Time) {
	p := recover()
	if p == nil {
		return
	}
	f.log.Error("handler panic", "route", rt.path, "panic", fmt.Sprint(p))
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(`{"error":"internal error"}`))
	f.m.request(rt.path, http.MethodGet, http.StatusInternalServerError, time.Since(start))
}

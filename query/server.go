// Package query is wardops' read side and inventory API: a Gin server joining the PostgreSQL
// inventory and alerts with every device's newest probe (followed in ping_results, or read from
// VictoriaMetrics when that fails) and with VictoriaMetrics' series for the charts, the NOC page
// at / and the service's own /metrics.
package query

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardops/wardops/internal/httpsec"
	"github.com/wardops/wardops/model"
)

// Expander expands SNMP profile names into monitoring items, as the importer does.
type Expander func(profiles []string) ([]model.ItemTemplate, error)

// Options are the service's settings (cmd/wardops builds them from the configuration) and its
// dependencies.
type Options struct {
	Listen            string             // host:port of the API
	VMQueryURL        string             // VictoriaMetrics read URL; empty: no charts, and no fallback for the live state
	PingInterval      time.Duration      // a device's probe interval when it has none of its own
	CacheTTL          time.Duration      // how long a built snapshot is served; see snapshots
	BodyTimeout       time.Duration      // how long a client has to send a request body; 0: 30 s
	CacheBuildShare   float64            // the most of the wall time spent building snapshots, (0, 1]
	RequireReadToken  bool               // reads need a token too
	RateLimit         float64            // requests per second per client; 0 disables
	RateLimitLoopback bool               // apply the rate limit to loopback clients too
	TrustedProxies    []string           // CIDRs whose X-Forwarded-For names the client; none by default
	AllowedHosts      []string           // Host names answered besides IP literals and localhost; "*": any
	TLS               *tls.Config        // nil: plain HTTP
	Targets           model.TargetPolicy // addresses a device may be given

	Store    Store
	Logger   *slog.Logger
	Registry *prometheus.Registry // the service's own metrics, served at /metrics
	Profiles Expander             // nil: devices cannot be given snmp_profiles through the API
	// AlertmanagerURLs get a silence mirroring each acknowledgement; none: acks stay in wardops.
	AlertmanagerURLs []string
	Version          string
}

// Server is the query service. Build it with New, serve it with Run or mount Handler.
type Server struct {
	listen  string
	tls     *tls.Config
	handler http.Handler // engine behind the snapshot routes' fast path, the security headers and Host check
	log     *slog.Logger
	m       *metrics
	limiter *clientLimiter
	snaps   *snapshots
	fleet   *fleetBuilder // behind snaps
	engine  *gin.Engine
	fast    *fastPath // in front of engine
}

// maxBody is the largest request body accepted; a larger one gets 413.
const maxBody = 1 << 20

// New builds the server, its handler groups and routes; it starts nothing.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Logger == nil || o.Registry == nil {
		return nil, errors.New("query: Store, Logger and Registry are required")
	}
	if o.CacheTTL <= 0 || o.PingInterval <= 0 {
		return nil, fmt.Errorf("query: CacheTTL (%s) and PingInterval (%s) must be positive", o.CacheTTL, o.PingInterval)
	}
	if !(o.CacheBuildShare > 0 && o.CacheBuildShare <= 1) {
		return nil, fmt.Errorf("query: CacheBuildShare (%g) must be above 0 and at most 1", o.CacheBuildShare)
	}
	m := newMetrics(o.Registry)
	var vm metricsReader
	if o.VMQueryURL != "" {
		r, err := newVMReader(o.VMQueryURL, m)
		if err != nil {
			return nil, err
		}
		vm = r
	}
	b := &fleetBuilder{tail: &probeTail{}, st: o.Store, vm: vm, m: m, pingInterval: o.PingInterval, log: o.Logger}
	s := &Server{listen: o.Listen, tls: o.TLS, log: o.Logger, m: m,
		snaps: newSnapshots(b.build, o.CacheTTL, o.CacheBuildShare, defaultBuildDeadline, m), fleet: b}
	if o.RateLimit > 0 {
		s.limiter = newClientLimiter(o.RateLimit, o.RateLimitLoopback)
	}
	rsp := responder{log: o.Logger}
	h := routeSet{
		auth:    newAuthenticator(rsp, o.Store, o.RequireReadToken),
		dash:    &dashboardHandlers{responder: rsp, snaps: s.snaps},
		reads:   &deviceReads{responder: rsp, st: o.Store, snaps: s.snaps, vm: vm},
		writes:  &deviceWrites{responder: rsp, st: o.Store, snaps: s.snaps, expand: o.Profiles, targets: o.Targets},
		branch:  &branchHandlers{responder: rsp, st: o.Store, snaps: s.snaps},
		coll:    &collectorHandlers{responder: rsp, st: o.Store, snaps: s.snaps},
		health:  &healthHandler{st: o.Store, vm: vm, snaps: s.snaps, version: o.Version},
		web:     webHandlers{responder: rsp},
		alerts:  newAlertGroups(rsp, o.Store, s.snaps, o.AlertmanagerURLs, o.Logger),
		reports: &reportHandlers{responder: rsp, st: o.Store, vm: vm, pingInterval: o.PingInterval},
		metrics: promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}),
	}
	s.engine = s.routes(o.TrustedProxies, h)
	if s.engine == nil {
		return nil, fmt.Errorf("query: WARDOPS_TRUSTED_PROXIES %v: not a list of networks", o.TrustedProxies)
	}
	s.fast = s.newFastPath(s.engine, o.TrustedProxies, h)
	s.handler = httpsec.Wrap(withBodyDeadline(s.fast, cmp.Or(o.BodyTimeout, defaultBodyTimeout)), httpsec.NewHosts(o.AllowedHosts))
	return s, nil
}

// routeSet is every handler group the routes are made of.
type routeSet struct {
	auth    *authenticator
	dash    *dashboardHandlers
	reads   *deviceReads
	writes  *deviceWrites
	branch  *branchHandlers
	coll    *collectorHandlers
	health  *healthHandler
	web     webHandlers
	alerts  alertGroups
	reports *reportHandlers
	metrics http.Handler
}

func (s *Server) routes(trustedProxies []string, h routeSet) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Client IPs come from the connection unless it is from a configured proxy: a client must not
	// dodge its rate limit by inventing an X-Forwarded-For.
	if err := e.SetTrustedProxies(trustedProxies); err != nil {
		return nil
	}
	e.HandleMethodNotAllowed = true
	e.Use(s.recoverer, s.observe, s.rateLimit, checkQuery, s.limitBody, h.auth.enforceScopes, checkContentType)
	e.NoRoute(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, &apiError{Message: "no such endpoint"})
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, &apiError{Message: "method not allowed"})
	})

	e.GET("/", h.web.page)
	e.GET("/wall", h.web.wall)
	e.GET("/static/*file", h.web.static)
	e.GET("/metrics", gin.WrapH(h.metrics))
	e.GET("/api/v1/health", h.health.health)

	// Each route's scope is in routeScopes (scopes.go), which enforceScopes applies to all.
	r := e.Group("/api/v1")
	r.GET("/dashboard", h.dash.dashboard)
	r.GET("/devices", h.reads.list)
	r.GET("/devices/:id", h.reads.get)
	r.GET("/devices/:id/ping-history", h.reads.pingHistory)
	r.GET("/devices/:id/metrics", h.reads.metrics)
	r.GET("/branches", h.branch.list)
	r.GET("/branches/:id", h.branch.get)
	r.GET("/collectors", h.coll.list)
	r.GET("/reports/availability", h.reports.availability)
	h.alerts.readRoutes(r)

	w := e.Group("/api/v1")
	w.POST("/devices", h.writes.create)
	w.PATCH("/devices/:id", h.writes.update)
	w.DELETE("/devices/:id", h.writes.delete)
	w.POST("/branches", h.branch.create)
	w.PATCH("/branches/:id", h.branch.update)
	w.DELETE("/branches/:id", h.branch.delete)
	h.alerts.writeRoutes(w)
	return e
}

// Handler is the whole HTTP API behind its security headers and Host check, for tests and for
// mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops snapshot builds and waits for them.
func (s *Server) Close() { s.snaps.close() }

// Run serves on Options.Listen until ctx ends, then shuts down: in-flight requests get up to ten
// seconds, then background builds are stopped and waited for.
func (s *Server) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.listen, err)
	}
	return s.Serve(ctx, l)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	defer s.Close()
	hs := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 5 * time.Second,
		// No ReadTimeout: withBodyDeadline gives only requests with a body a second deadline.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("query service listening", "addr", l.Addr().String(), "tls", s.tls != nil)
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			errc <- hs.ServeTLS(l, "", "") // the certificate comes from TLSConfig.GetCertificate
			return
		}
		errc <- hs.Serve(l)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("query service on %s stopped: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // Serve has returned ErrServerClosed
	if err != nil {
		return fmt.Errorf("cannot shut down query service cleanly: %w", err)
	}
	return nil
}

// recoverer turns a handler panic into a logged 500 instead of a dropped connection.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "route", c.FullPath(), "panic", fmt.Sprint(p))
			c.AbortWithStatusJSON(http.StatusInternalServerError, &apiError{Message: "internal error"})
		}
	}()
	c.Next()
}

// observe counts and times every request by its route pattern (never the raw path, which
// would make one series per device id).
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.m.request(route, methodLabel(c.Request.Method), c.Writer.Status(), time.Since(start))
}

// methodLabel bounds the method label: any client can send any token as its method, and each
// would otherwise become a series of its own.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// checkQuery refuses a query string that does not parse (a ";" separator, a bad %-escape)
// instead of letting net/url drop the bad part silently and answer as if it were not there.
func checkQuery(c *gin.Context) {
	if q := c.Request.URL.RawQuery; q != "" {
		if !validQuery(q) {
			c.AbortWithStatusJSON(http.StatusBadRequest, &apiError{Param: "query",
				Message: "query: malformed query string (use & between parameters and valid %-escapes)"})
			return
		}
	}
	c.Next()
}

// validQuery says whether url.ParseQuery would take q without an error: no ";" and every "%"
// followed by two hex digits. It allocates nothing, so the check costs no garbage per request.
func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkContentType asks writes that carry a body for JSON: a form post from another origin (which
// a browser sends without a CORS preflight) is refused before any handler reads it.
func checkContentType(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		c.Next()
		return
	}
	if c.Request.ContentLength == 0 && c.GetHeader("Content-Type") == "" {
		c.Next() // no body (a DELETE): nothing to interpret
		return
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		c.AbortWithStatusJSON(http.StatusUnsupportedMediaType, &apiError{Param: "Content-Type",
			Message: "Content-Type: must be application/json"})
		return
	}
	c.Next()
}

// limitBody refuses bodies over maxBody: announced ones at once, chunked ones when read.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > maxBody {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, &apiError{Message: fmt.Sprintf("body larger than %d bytes", maxBody)})
		return
	}
	// A request without a body (every GET) needs no reader wrapped around it.
	if c.Request.Body != nil && c.Request.Body != http.NoBody {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	}
	c.Next()
}

const defaultBodyTimeout = 30 * time.Second

// withBodyDeadline gives a request with a body d to send it, so a client trickling a body cannot
// hold a connection open (a slow-body attack), whichever handler answers it or refuses it first.
// It stands in for the server's ReadTimeout, which would cost every GET of a polling screen a
// second deadline update on top of the header's.
func withBodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// Every net/http connection supports read deadlines; a writer that does not keeps the
			// header timeout only.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

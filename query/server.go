// Package query is wardops' read side and inventory API: a Gin server joining the PostgreSQL
// inventory with the live state in VictoriaMetrics for the whole fleet, the NOC page at / and
// the service's own /metrics.
package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/model"
)

// Store is what the query service needs from PostgreSQL; *store.Store implements it.
type Store interface {
	Ping(ctx context.Context) error
	InventoryVersion(ctx context.Context) (model.InventoryVersion, error)
	ListDeviceSummaries(ctx context.Context) ([]model.DeviceSummary, error)
	OpenAlerts(ctx context.Context, deviceID int64, limit int) ([]model.Alert, int, error)
	DownSince(ctx context.Context, ids []int64, since time.Time) (map[int64]time.Time, error)
	LatestPings(ctx context.Context, since time.Time) (map[int64]model.LatestPing, error)
	GetDevice(ctx context.Context, id int64) (model.Device, error)
	DeviceItems(ctx context.Context, deviceID int64) ([]model.Item, error)
	PingHistory(ctx context.Context, ip netip.Addr, from, to time.Time, limit int) ([]model.PingResult, error)
	CreateDevice(ctx context.Context, in model.DeviceChange) (int64, error)
	UpdateDevice(ctx context.Context, id int64, in model.DeviceChange) error
	DeleteDevice(ctx context.Context, id int64) error
	ListBranches(ctx context.Context) ([]model.Branch, error)
	GetBranch(ctx context.Context, id int64) (model.Branch, error)
	CreateBranch(ctx context.Context, name, region string) (model.Branch, error)
	UpdateBranch(ctx context.Context, id int64, name, region string) (model.Branch, error)
	DeleteBranch(ctx context.Context, id int64) error
	UseToken(ctx context.Context, hash []byte) (model.Token, error)
}

// Expander expands SNMP profile names into monitoring items, as the importer does.
type Expander func(profiles []string) ([]model.ItemTemplate, error)

// Options are the Server's dependencies.
type Options struct {
	Config   *config.Config
	Store    Store
	Logger   *slog.Logger
	Registry *prometheus.Registry // the service's own metrics, served at /metrics
	Profiles Expander             // nil: devices cannot be given snmp_profiles through the API
	Version  string
}

// Server is the query service. Build it with New, serve it with Run or mount Handler.
type Server struct {
	cfg          *config.Config
	st           Store
	vm           metricsReader
	log          *slog.Logger
	m            *metrics
	reg          *prometheus.Registry
	expand       Expander
	version      string
	engine       *gin.Engine
	cache        fleetCache
	inv          inventoryCache
	tokens       tokenCache
	limiter      *clientLimiter
	buildTimeout time.Duration
	baseCtx      context.Context
	stop         context.CancelFunc
	builds       sync.WaitGroup
}

// maxBody is the largest request body accepted; a larger one gets 413.
const maxBody = 1 << 20

// New builds the server and its routes; it starts nothing.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Store == nil || o.Logger == nil || o.Registry == nil {
		return nil, errors.New("query: Config, Store, Logger and Registry are required")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: o.Config, st: o.Store, log: o.Logger, reg: o.Registry, expand: o.Profiles, version: o.Version,
		m: newMetrics(o.Registry), buildTimeout: 30 * time.Second, baseCtx: ctx, stop: cancel,
	}
	s.cache.ttl = o.Config.CacheTTL
	if s.cache.ttl <= 0 {
		s.cache.ttl = time.Second
	}
	if o.Config.VMQueryURL != "" {
		r, err := newVMReader(o.Config.VMQueryURL, s.m)
		if err != nil {
			cancel()
			return nil, err
		}
		s.vm = r
	}
	if o.Config.RateLimit > 0 {
		s.limiter = newClientLimiter(o.Config.RateLimit, o.Config.RateLimitLocal)
	}
	s.tokens.entries = map[string]tokenEntry{}
	s.engine = s.routes()
	return s, nil
}

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Client IPs come from the connection only: no proxy is trusted to set X-Forwarded-For, so a
	// client cannot dodge its rate limit by inventing one.
	_ = e.SetTrustedProxies(nil)
	e.HandleMethodNotAllowed = true
	e.Use(s.recoverer, s.observe, s.rateLimit, s.limitBody)
	e.NoRoute(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, &apiError{Message: "no such endpoint"})
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, &apiError{Message: "method not allowed"})
	})

	e.GET("/", s.page)
	e.GET("/static/*file", s.static)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})))
	e.GET("/api/v1/health", s.health)

	r := e.Group("/api/v1", s.auth(scopeRead))
	r.GET("/dashboard", s.dashboard)
	r.GET("/devices", s.listDevices)
	r.GET("/devices/:id", s.getDevice)
	r.GET("/devices/:id/ping-history", s.pingHistory)
	r.GET("/devices/:id/metrics", s.deviceMetrics)
	r.GET("/branches", s.listBranches)
	r.GET("/branches/:id", s.getBranch)

	w := e.Group("/api/v1", s.auth(scopeWrite))
	w.POST("/devices", s.createDevice)
	w.PATCH("/devices/:id", s.updateDevice)
	w.DELETE("/devices/:id", s.deleteDevice)
	w.POST("/branches", s.createBranch)
	w.PATCH("/branches/:id", s.updateBranch)
	w.DELETE("/branches/:id", s.deleteBranch)
	return e
}

// Handler is the whole HTTP API, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.engine }

// Close stops background snapshot builds and waits for them.
func (s *Server) Close() {
	s.stop()
	s.builds.Wait()
}

// Run serves on cfg.Listen until ctx ends, then shuts down: in-flight requests get up to ten
// seconds, then background builds are stopped and waited for.
func (s *Server) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, l)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	defer s.Close()
	hs := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("query service listening", "addr", l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
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
	s.m.request(route, c.Request.Method, c.Writer.Status(), time.Since(start))
}

// limitBody refuses bodies over maxBody: announced ones at once, chunked ones when read.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > maxBody {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, &apiError{Message: fmt.Sprintf("body larger than %d bytes", maxBody)})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	c.Next()
}

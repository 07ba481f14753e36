package query

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// clientLimiter is a token bucket per client IP. Idle clients are swept lazily when the map
// grows, so it needs no goroutine of its own.
type clientLimiter struct {
	mu        sync.Mutex
	limit     rate.Limit
	burst     int
	loopback  bool
	clients   map[netip.Addr]*clientBucket
	lastSweep time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	limiterSweepAt = 4096
	limiterIdle    = 5 * time.Minute
)

func newClientLimiter(perSecond float64, loopback bool) *clientLimiter {
	return &clientLimiter{limit: rate.Limit(perSecond), burst: max(1, int(math.Ceil(perSecond))), loopback: loopback,
		clients: map[netip.Addr]*clientBucket{}}
}

func (l *clientLimiter) allow(ip netip.Addr, now time.Time) bool {
	if ip.IsLoopback() && !l.loopback {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[ip]
	if !ok {
		if len(l.clients) >= limiterSweepAt && now.Sub(l.lastSweep) > time.Second {
			for k, v := range l.clients {
				if now.Sub(v.seen) > limiterIdle {
					delete(l.clients, k)
				}
			}
			l.lastSweep = now
		}
		b = &clientBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[ip] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// rateLimit answers 429 with Retry-After when a client exceeds its rate.
func (s *Server) rateLimit(c *gin.Context) {
	if s.limiter == nil {
		c.Next()
		return
	}
	ip, err := netip.ParseAddr(c.ClientIP()) // the connection's address unless it is a trusted proxy
	if err == nil && !s.limiter.allow(ip.Unmap(), time.Now()) {
		s.m.rateLimited.Inc()
		c.Header("Retry-After", "1")
		c.AbortWithStatusJSON(http.StatusTooManyRequests, &apiError{Message: "rate limit exceeded"})
		return
	}
	c.Next()
}

// connAddr is the address of r's connection, which is the client's for the rate limit when no
// trusted proxy is configured: what gin's ClientIP gives then, and false where that gives none
// (an address it cannot parse, or one with a zone).
func connAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(r.RemoteAddr))
	if err != nil || ap.Addr().Zone() != "" {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

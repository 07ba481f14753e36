package query

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// healthBody extends Foundation's health answer with the newest sample's age, so a stalled
// collector shows even while both backends answer.
type healthBody struct {
	Status          string     `json:"status"`
	Database        string     `json:"database"`
	VictoriaMetrics string     `json:"victoriametrics"`
	Version         string     `json:"version"`
	Source          string     `json:"source,omitempty"`
	NewestSample    *time.Time `json:"newest_sample"`
	NewestSampleAge *float64   `json:"newest_sample_age_seconds"`
}

// health checks both backends in parallel (2 s each) and answers 503 naming the one that failed.
func (s *Server) health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	b := healthBody{Status: "healthy", Database: "connected", VictoriaMetrics: "connected", Version: s.version}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.st.Ping(ctx); err != nil {
			b.Database = "unreachable"
		}
	})
	wg.Go(func() {
		if s.vm == nil {
			b.VictoriaMetrics = "not configured"
			return
		}
		if err := s.vm.Ping(ctx); err != nil {
			b.VictoriaMetrics = "unreachable"
		}
	})
	wg.Wait()
	if snap, err := s.snapshot(ctx); err == nil {
		b.Source = snap.Source
		if !snap.NewestSample.IsZero() {
			t := snap.NewestSample
			age := time.Since(t).Seconds()
			b.NewestSample, b.NewestSampleAge = &t, &age
		}
	}
	code := http.StatusOK
	if b.Database != "connected" || b.VictoriaMetrics == "unreachable" {
		b.Status, code = "degraded", http.StatusServiceUnavailable
	}
	c.JSON(code, b)
}

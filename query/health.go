package query

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// healthHandler checks both backends and reports the newest sample's age.
type healthHandler struct {
	st      Pinger
	vm      metricsReader // nil: not configured
	snaps   *snapshots
	version string
}

// healthBody carries the newest sample's age beside the backends' state, so a stalled collector
// shows even while both backends answer.
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
func (h *healthHandler) health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	b := healthBody{Status: "healthy", Database: "connected", VictoriaMetrics: "connected", Version: h.version}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := h.st.Ping(ctx); err != nil {
			b.Database = "unreachable"
		}
	})
	wg.Go(func() {
		if h.vm == nil {
			b.VictoriaMetrics = "not configured"
			return
		}
		if err := h.vm.Ping(ctx); err != nil {
			b.VictoriaMetrics = "unreachable"
		}
	})
	wg.Wait()
	if snap, err := h.snaps.get(ctx); err == nil {
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

package query

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wardops/wardops/model"
)

// CollectorStore lists the collectors sharing the fleet.
type CollectorStore interface {
	Collectors(ctx context.Context) ([]model.Collector, error)
}

// collectorHandlers shows the collector group: who is live, until when, and how many enabled
// devices each owns by the same assignment the collectors compute (model.Owner).
type collectorHandlers struct {
	responder
	st    CollectorStore
	snaps *snapshots
}

type collectorView struct {
	ID          string    `json:"id"`
	Zone        string    `json:"zone,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Devices     int       `json:"devices"` // enabled devices assigned to it
}

func (h *collectorHandlers) list(c *gin.Context) {
	if _, err := queryParams(c); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cs, err := h.st.Collectors(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	owned := map[string]int{}
	unassigned := 0
	if snap, err := h.snaps.get(ctx); err == nil {
		setAge(c, snap)
		for i := range snap.Devices {
			d := &snap.Devices[i]
			if !d.Enabled {
				continue
			}
			if o := model.Owner(cs, d.ID, d.Region); o != "" {
				owned[o]++
			} else {
				unassigned++
			}
		}
	}
	out := make([]collectorView, len(cs))
	for i, m := range cs {
		out[i] = collectorView{ID: m.ID, Zone: m.Zone, StartedAt: m.StartedAt.UTC(), HeartbeatAt: m.HeartbeatAt.UTC(),
			ExpiresAt: m.ExpiresAt.UTC(), Devices: owned[m.ID]}
	}
	c.JSON(http.StatusOK, gin.H{"collectors": out, "unassigned_devices": unassigned})
}

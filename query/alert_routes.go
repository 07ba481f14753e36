package query

import (
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// tokenKey is where the authenticator leaves the request's token, so writes can name who made
// them.
const tokenKey = "wardops.token"

// tokenName is the name of the token that authenticated the request; "" when none did.
func tokenName(c *gin.Context) string {
	if v, ok := c.Get(tokenKey); ok {
		if t, ok := v.(model.Token); ok {
			return t.Name
		}
	}
	return ""
}

// alertGroups are the alerting endpoints: the alerts list and acknowledgements, the Alertmanager
// webhook receiver, alert rules and maintenance windows.
type alertGroups struct {
	alerts *alertHandlers
	hooks  *webhookHandler
	rules  *ruleHandlers
	maint  *maintenanceHandlers
}

func newAlertGroups(rsp responder, st Store, snaps *snapshots, amURLs []string, log *slog.Logger) alertGroups {
	return alertGroups{
		alerts: &alertHandlers{responder: rsp, st: st, snaps: snaps, am: newSilencer(amURLs, log)},
		hooks:  &webhookHandler{responder: rsp, st: st, snaps: snaps},
		rules:  &ruleHandlers{responder: rsp, st: st},
		maint:  &maintenanceHandlers{responder: rsp, st: st},
	}
}

// readRoutes are the routes of read scope.
func (g alertGroups) readRoutes(r gin.IRoutes) {
	r.GET("/alerts", g.alerts.list)
	r.GET("/alerts/:id", g.alerts.get)
	r.GET("/alert-rules", g.rules.list)
	r.GET("/alert-rules/:id", g.rules.get)
	r.GET("/maintenance", g.maint.list)
	r.GET("/maintenance/:id", g.maint.get)
}

// writeRoutes are the routes of write scope. The webhook is one of them: Alertmanager sends the
// token in its webhook_config http_config.authorization.
func (g alertGroups) writeRoutes(w gin.IRoutes) {
	w.POST("/webhooks/alertmanager", g.hooks.receive)
	w.POST("/alerts/:id/ack", g.alerts.ack)
	w.DELETE("/alerts/:id/ack", g.alerts.unack)
	w.POST("/alert-rules", g.rules.create)
	w.PUT("/alert-rules/:id", g.rules.update)
	w.DELETE("/alert-rules/:id", g.rules.delete)
	w.POST("/maintenance", g.maint.create)
	w.PUT("/maintenance/:id", g.maint.update)
	w.DELETE("/maintenance/:id", g.maint.delete)
}

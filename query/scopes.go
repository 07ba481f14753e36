package query

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// scopePublic routes never need a token: the NOC page's static files and the health check, which
// carry no inventory data.
const scopePublic = "public"

// routeScopes is the one table saying which token scope each route needs, keyed by method and
// gin route pattern. The authenticator reads it for every request, a route missing from it is
// refused with 500 (fail closed), and TestRouteScopeTable walks gin's routes and fails for any
// route missing here, so a new route cannot ship without a scope.
//
// read routes need a read token only with RequireReadToken; write and admin routes always need a
// token. A device write that would aim an SNMP secret at another address also needs admin, which
// deviceWrites checks against the body (see snmpChange).
var routeScopes = map[string]string{
	"GET /":              scopePublic,
	"GET /static/*file":  scopePublic,
	"GET /api/v1/health": scopePublic,
	"GET /wall":          scopePublic,
	"GET /metrics":       scopeRead,

	"GET /api/v1/dashboard":                scopeRead,
	"GET /api/v1/devices":                  scopeRead,
	"GET /api/v1/devices/:id":              scopeRead,
	"GET /api/v1/devices/:id/ping-history": scopeRead,
	"GET /api/v1/devices/:id/metrics":      scopeRead,
	"GET /api/v1/branches":                 scopeRead,
	"GET /api/v1/branches/:id":             scopeRead,
	"GET /api/v1/collectors":               scopeRead,
	"GET /api/v1/reports/availability":     scopeRead,
	"GET /api/v1/alerts":                   scopeRead,
	"GET /api/v1/alerts/:id":               scopeRead,
	"GET /api/v1/alert-rules":              scopeRead,
	"GET /api/v1/alert-rules/:id":          scopeRead,
	"GET /api/v1/maintenance":              scopeRead,
	"GET /api/v1/maintenance/:id":          scopeRead,

	"POST /api/v1/devices":        scopeWrite,
	"PATCH /api/v1/devices/:id":   scopeWrite,
	"DELETE /api/v1/devices/:id":  scopeWrite,
	"POST /api/v1/branches":       scopeWrite,
	"PATCH /api/v1/branches/:id":  scopeWrite,
	"DELETE /api/v1/branches/:id": scopeWrite,

	// Alertmanager posts with a write token of its own (README, Alerts API).
	"POST /api/v1/webhooks/alertmanager": scopeWrite,
	"POST /api/v1/alerts/:id/ack":        scopeWrite,
	"DELETE /api/v1/alerts/:id/ack":      scopeWrite,
	"POST /api/v1/alert-rules":           scopeWrite,
	"PUT /api/v1/alert-rules/:id":        scopeWrite,
	"DELETE /api/v1/alert-rules/:id":     scopeWrite,
	"POST /api/v1/maintenance":           scopeWrite,
	"PUT /api/v1/maintenance/:id":        scopeWrite,
	"DELETE /api/v1/maintenance/:id":     scopeWrite,
}

// routeScope is the scope of a matched request's route; ok is false for a route not in the table.
func routeScope(c *gin.Context) (scope string, ok bool) {
	scope, ok = routeScopes[c.Request.Method+" "+c.FullPath()]
	return scope, ok
}

// enforceScopes is the authenticator in front of every route: it looks the route up in
// routeScopes and asks for a token of that scope.
func (a *authenticator) enforceScopes(c *gin.Context) {
	if c.FullPath() == "" { // no route matched: NoRoute or NoMethod answers
		c.Next()
		return
	}
	need, ok := routeScope(c)
	if !ok {
		a.log.Error("route has no scope in routeScopes; refused", "method", c.Request.Method, "route", c.FullPath())
		c.AbortWithStatusJSON(http.StatusInternalServerError, &apiError{Message: "internal error"})
		return
	}
	if need == scopePublic {
		c.Next()
		return
	}
	a.authorize(c, need)
}

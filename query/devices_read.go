package query

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/wardops/wardops/model"
)

// deviceReads serves the device list (from the snapshot), one device's detail (PostgreSQL joined
// with the snapshot's state), its ping history (PostgreSQL) and its series (VictoriaMetrics).
type deviceReads struct {
	responder
	st    DeviceReader
	snaps *snapshots
	vm    metricsReader // nil: no VictoriaMetrics configured
}

// list filters, sorts and pages the fleet snapshot. Pages are cached per snapshot by query string.
func (h *deviceReads) list(c *gin.Context) {
	snap, err := h.snaps.get(c.Request.Context())
	if err != nil {
		if _, perr := parseListQuery(c); perr != nil {
			err = perr // a bad request stays a 400 whatever the backends do
		}
		h.fail(c, err)
		return
	}
	// Only pages of valid queries are cached, so a page cached under this exact query string is
	// the answer, without parsing it again.
	key := c.Request.URL.RawQuery
	r := snap.pages.get(key)
	if r == nil {
		q, err := parseListQuery(c)
		if err != nil {
			h.fail(c, err)
			return
		}
		page, total := selectPage(snap, &q)
		if r, err = renderPage(snap, &q, page, total); err != nil {
			h.fail(c, err)
			return
		}
		r = snap.pages.put(key, r)
	}
	serveSnapshot(c, snap, r)
}

// get returns one device with its items, open alerts and recent alert history. When PostgreSQL is down but the device
// is in the snapshot, that is returned, marked degraded.
func (h *deviceReads) get(c *gin.Context) {
	id, err := pathID(c)
	if err == nil {
		_, err = queryParams(c)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	var fd *fleetDevice
	snap, snapErr := h.snaps.get(ctx)
	if snapErr == nil {
		fd = snap.device(id)
		setAge(c, snap)
	}
	d, err := lookupDevice(ctx, h.st, id)
	var ae *apiError
	if err != nil && fd != nil && !errors.As(err, &ae) {
		c.JSON(http.StatusOK, snapshotDetail(fd))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	// The row just read wins over the snapshot's inventory, which may be a TTL older.
	out := detailOf(d)
	if fd != nil {
		out.setState(fd)
	}
	items, err := h.st.DeviceItems(ctx, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	out.Items = toItemViews(items)
	alerts, _, err := h.st.OpenAlerts(ctx, id, alertLimit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out.Alerts = toAlertViews(alerts)
	if out.AlertHistory, err = deviceAlertHistory(ctx, h.st, id); err != nil {
		h.fail(c, err)
		return
	}
	out.SNMPCoverage = h.readCoverage(ctx, id)
	c.JSON(http.StatusOK, out)
}

// lookupDevice reads one device; an unknown id is the API's 404 naming the id.
func lookupDevice(ctx context.Context, st interface {
	GetDevice(context.Context, int64) (model.Device, error)
}, id int64) (model.Device, error) {
	d, err := st.GetDevice(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return d, notFound("device", id)
	}
	return d, err
}

const (
	maxHistoryRange = 31 * 24 * time.Hour
	maxHistoryRows  = 10000
	maxPoints       = 11000
)

// pingHistory returns a device's probes from ping_results, oldest first.
func (h *deviceReads) pingHistory(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, err := queryParams(c, "from", "to", "limit")
	if err != nil {
		h.fail(c, err)
		return
	}
	from, to := p.timeRange(maxHistoryRange)
	limit := p.integer("limit", 1000, 1, maxHistoryRows)
	if p.err != nil {
		h.fail(c, p.err)
		return
	}
	ctx := c.Request.Context()
	d, err := lookupDevice(ctx, h.st, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	rs, err := h.st.PingHistory(ctx, d.IP, from, to, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"device_id": id, "from": from, "to": to, "items": toPingViews(rs)})
}

var (
	itemNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,127}$`)
	pingItems  = map[string]bool{"ping_up": true, "ping_rtt_seconds": true, "ping_rtt_min_seconds": true,
		"ping_rtt_max_seconds": true, "ping_rtt_stddev_seconds": true, "ping_loss_ratio": true}
)

// metrics reads one item of one device from VictoriaMetrics with query_range. The item is a ping
// series (ping_rtt_seconds…) or one of the device's SNMP items; the expression is built only from
// the validated item name and the numeric id.
func (h *deviceReads) metrics(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, err := queryParams(c, "item", "from", "to", "step")
	if err != nil {
		h.fail(c, err)
		return
	}
	item := p.str("item", 128)
	if p.err == nil && !itemNameRe.MatchString(item) {
		p.err = badParam("item", "must be an item name such as ping_rtt_seconds or ifHCInOctets")
	}
	from, to := p.timeRange(maxHistoryRange * 12)
	defStep := max(15*time.Second, (to.Sub(from) / 300).Truncate(time.Second))
	step := p.duration("step", defStep, time.Second, 24*time.Hour)
	if p.err == nil && to.Sub(from)/step > maxPoints {
		p.err = badParam("step", "too small: more than %d points", maxPoints)
	}
	if p.err != nil {
		h.fail(c, p.err)
		return
	}
	ctx := c.Request.Context()
	if _, err := lookupDevice(ctx, h.st, id); err != nil {
		h.fail(c, err)
		return
	}
	metric := "wardops_" + item
	if !pingItems[item] {
		items, err := h.st.DeviceItems(ctx, id)
		if err != nil {
			h.fail(c, err)
			return
		}
		known := false
		for _, it := range items {
			known = known || it.Name == item
		}
		if !known {
			h.fail(c, &apiError{Status: http.StatusNotFound, Param: "item", Message: "item: device " + strconv.FormatInt(id, 10) + " has no item " + item})
			return
		}
		metric = "wardops_snmp_" + item
	}
	if h.vm == nil {
		h.fail(c, errNoVM)
		return
	}
	expr := metric + `{device_id="` + strconv.FormatInt(id, 10) + `"}`
	mat, err := h.vm.QueryRange(ctx, expr, v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"device_id": id, "item": item, "metric": metric, "from": from, "to": to,
		"step_seconds": step.Seconds(), "series": toSeriesViews(mat)})
}

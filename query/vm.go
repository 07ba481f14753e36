package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
)

// metricsReader is the narrow seam to VictoriaMetrics: an instant query, a range query and a
// liveness check. vmReader is the real one; the base URL may be a single node or a cluster's
// vmselect (.../select/<tenant>/prometheus).
type metricsReader interface {
	Query(ctx context.Context, expr string, ts time.Time) (model.Vector, error)
	QueryRange(ctx context.Context, expr string, r v1.Range) (model.Matrix, error)
	Ping(ctx context.Context) error
}

type vmReader struct {
	api v1.API
	m   *metrics
}

// nocacheTransport adds nocache=1 to every request. Without it VictoriaMetrics hides samples
// newer than -search.latencyOffset (30 s by default) from instant queries, and a dashboard would
// show 30-60 s old state.
type nocacheTransport struct{ next http.RoundTripper }

func (t nocacheTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("nocache", "1")
	r.URL.RawQuery = q.Encode()
	return t.next.RoundTrip(r)
}

func newVMReader(baseURL string, m *metrics) (*vmReader, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: nocacheTransport{next: tr}})
	if err != nil {
		return nil, fmt.Errorf("cannot build VictoriaMetrics client for %q: %w", baseURL, err)
	}
	return &vmReader{api: v1.NewAPI(c), m: m}, nil
}

func (v *vmReader) Query(ctx context.Context, expr string, ts time.Time) (model.Vector, error) {
	defer v.m.backend("victoriametrics", "query")()
	res, _, _, err := v.api.Query(ctx, expr, ts)
	if err != nil {
		v.m.backendError("victoriametrics", "query")
		return nil, fmt.Errorf("cannot query VictoriaMetrics: %w", err)
	}
	vec, ok := res.(model.Vector)
	if !ok {
		v.m.backendError("victoriametrics", "query")
		return nil, fmt.Errorf("cannot query VictoriaMetrics: got %s, want a vector", res.Type())
	}
	return vec, nil
}

func (v *vmReader) QueryRange(ctx context.Context, expr string, r v1.Range) (model.Matrix, error) {
	defer v.m.backend("victoriametrics", "query_range")()
	res, _, _, err := v.api.QueryRange(ctx, expr, r)
	if err != nil {
		v.m.backendError("victoriametrics", "query_range")
		return nil, fmt.Errorf("cannot query_range VictoriaMetrics: %w", err)
	}
	mat, ok := res.(model.Matrix)
	if !ok {
		v.m.backendError("victoriametrics", "query_range")
		return nil, fmt.Errorf("cannot query_range VictoriaMetrics: got %s, want a matrix", res.Type())
	}
	return mat, nil
}

func (v *vmReader) Ping(ctx context.Context) error {
	_, err := v.Query(ctx, "vector(1)", time.Now())
	return err
}

// liveState is one device's newest probe, as ping_results or VictoriaMetrics has it.
type liveState struct {
	Up        bool
	At        time.Time
	RTTms     *float64
	LossRatio *float64
}

// fleetQueries are the three queries the snapshot sends for the whole fleet, side by side, when
// the ping_results read fails.
// state carries each device's newest up/down and its timestamp in a single number,
// round(t_ms)*2 + up, so that "max by device_id" picks the newest series when a device's labels
// changed inside the window (a branch renamed) instead of mixing the old series' state with the
// new one's. RTT and loss are shown only, and take the plain max. They are three queries, not one
// union: VictoriaMetrics' cost is per series read, and the union's relabelling and merging of the
// three answers cost it more again (100,000 devices on an idle 2-core machine: 7-10 s for the
// union, about 6.7 s for the three side by side).
func fleetQueries(window time.Duration) [3]string {
	w := strconv.FormatInt(int64(window/time.Second), 10) + "s"
	return [3]string{
		fleetState: `max by (device_id) (round(tlast_over_time(wardops_ping_up[` + w + `]) * 1000) * 2 + last_over_time(wardops_ping_up[` + w + `]))`,
		fleetRTT:   `max by (device_id) (last_over_time(wardops_ping_rtt_seconds[` + w + `]))`,
		fleetLoss:  `max by (device_id) (last_over_time(wardops_ping_loss_ratio[` + w + `]))`,
	}
}

// The fleet queries by position.
const (
	fleetState = iota
	fleetRTT
	fleetLoss
)

// errNoVM says no VictoriaMetrics URL is configured.
var errNoVM = errors.New("no VictoriaMetrics URL configured")

// readFleet runs the fleet queries and decodes them per device id; any of them failing fails it.
func readFleet(ctx context.Context, r metricsReader, window time.Duration, now time.Time) (map[int64]liveState, error) {
	if r == nil {
		return nil, errNoVM
	}
	var vecs [3]model.Vector
	g, gctx := errgroup.WithContext(ctx)
	for i, q := range fleetQueries(window) {
		g.Go(func() (err error) {
			vecs[i], err = r.Query(gctx, q, now)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[int64]liveState, len(vecs[0]))
	for i, vec := range vecs {
		for _, s := range vec {
			id, err := strconv.ParseInt(string(s.Metric["device_id"]), 10, 64)
			if err != nil {
				continue // not one of ours
			}
			v := float64(s.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			st := out[id]
			switch i {
			case fleetState:
				enc := int64(math.Round(v))
				st.At = time.UnixMilli(enc / 2).UTC()
				st.Up = enc%2 == 1
			case fleetRTT:
				ms := v * 1000
				st.RTTms = &ms
			case fleetLoss:
				st.LossRatio = &v
			}
			out[id] = st
		}
	}
	// A device with RTT but no state series is not one we can judge.
	for id, st := range out {
		if st.At.IsZero() {
			delete(out, id)
		}
	}
	return out, nil
}

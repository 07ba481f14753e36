package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// series is one element of an instant query's result.
type series struct {
	labels map[string]string
	value  float64
}

// vmClient runs instant queries against VictoriaMetrics (single node or vmselect).
type vmClient struct {
	base string
	hc   *http.Client
}

// errNoData is an answer with no series: never a reason to resolve anything.
var errNoData = errors.New("no data")

// query evaluates expr at t. nocache=1 asks for samples newer than -search.latencyOffset, which
// the rollup cache would otherwise hide for 30 s.
func (c *vmClient) query(ctx context.Context, expr string, t time.Time) ([]series, error) {
	q := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)}, "nocache": {"1"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/query?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("cannot query VictoriaMetrics: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot query VictoriaMetrics at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("VictoriaMetrics at %s answered %s: %s", c.base, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode VictoriaMetrics answer: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("VictoriaMetrics refused the query: %s", body.Error)
	}
	out := make([]series, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		out = append(out, series{labels: r.Metric, value: v})
	}
	return out, nil
}

func httpClient() *http.Client { return &http.Client{} }

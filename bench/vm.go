package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"
)

// victoria is the benchmark's own VictoriaMetrics: every pipeline writes to it, none pays for it
// (its CPU is reported beside the table, never counted in a pipeline's figures).
type victoria struct {
	url   string
	child *child
	log   *slog.Logger
}

func startVictoria(ctx context.Context, cs *children, bin, workDir, dataDir string, log *slog.Logger) (*victoria, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := cs.start("victoria-metrics", filepath.Join(workDir, "victoria-metrics.log"), nil, bin,
		"-httpListenAddr", addr, "-storageDataPath", dataDir, "-retentionPeriod", "100y", "-loggerLevel", "ERROR",
		// Range queries hide the last 30 s (the default) even with nocache=1, and the probe
		// counts of the exporter pipelines are read from exactly those seconds.
		"-search.latencyOffset=0s")
	if err != nil {
		return nil, err
	}
	v := &victoria{url: "http://" + addr, child: c, log: log}
	if err := waitHTTP(ctx, c, v.url+"/health", 30*time.Second); err != nil {
		return nil, err
	}
	return v, nil
}

// vmSeries is one series of an instant query result.
type vmSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query now. nocache=1 also lifts -search.latencyOffset (30 s by default),
// which would otherwise hide exactly the fresh samples the latency figure is about.
func (v *victoria) query(ctx context.Context, expr string) ([]vmSeries, error) {
	var r []vmSeries
	err := v.get(ctx, "/api/v1/query?nocache=1&query="+url.QueryEscape(expr), &r)
	return r, err
}

// queryAt runs an instant query at time at.
func (v *victoria) queryAt(ctx context.Context, expr string, at time.Time) ([]vmSeries, error) {
	var r []vmSeries
	q := fmt.Sprintf("/api/v1/query?nocache=1&time=%.3f&query=%s", float64(at.UnixMilli())/1000, url.QueryEscape(expr))
	err := v.get(ctx, q, &r)
	return r, err
}

// rangePoint is one point of a single-series range query.
type rangePoint struct {
	t time.Time
	v float64
}

// queryRange runs a range query that returns at most one series and returns its points.
func (v *victoria) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]rangePoint, error) {
	var r []struct {
		Values [][2]any `json:"values"`
	}
	q := fmt.Sprintf("/api/v1/query_range?nocache=1&start=%.3f&end=%.3f&step=%dms&query=%s",
		float64(start.UnixMilli())/1000, float64(end.UnixMilli())/1000, step.Milliseconds(), url.QueryEscape(expr))
	if err := v.get(ctx, q, &r); err != nil {
		return nil, err
	}
	if len(r) == 0 {
		return nil, nil
	}
	var out []rangePoint
	for _, p := range r[0].Values {
		ts, ok1 := p[0].(float64)
		vs, ok2 := p[1].(string)
		f, err := strconv.ParseFloat(vs, 64)
		if !ok1 || !ok2 || err != nil {
			continue
		}
		out = append(out, rangePoint{time.UnixMilli(int64(ts * 1000)), f})
	}
	return out, nil
}

// get runs one query and decodes data.result into result.
func (v *victoria) get(ctx context.Context, pathQuery string, result any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url+pathQuery, nil)
	if err != nil {
		return fmt.Errorf("cannot query victoria-metrics: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot query victoria-metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("cannot read victoria-metrics answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("victoria-metrics query %.200q: status %s: %.200s", pathQuery, resp.Status, body)
	}
	var r struct {
		Data struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("cannot decode victoria-metrics answer: %w", err)
	}
	if err := json.Unmarshal(r.Data.Result, result); err != nil {
		return fmt.Errorf("cannot decode victoria-metrics result: %w", err)
	}
	return nil
}

// value is a series' sample value as a number.
func (s vmSeries) value() (float64, bool) {
	str, ok := s.Value[1].(string)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(str, 64)
	return f, err == nil
}

// freePort asks the kernel for a free loopback TCP port. Another process may take it before we
// bind it; the children fail loudly if so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the child dies, or limit passes.
func waitHTTP(ctx context.Context, c *child, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if done, _ := c.exited(); done {
			return c.failure()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("cannot poll %s: %w", url, err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on %s within %s; log %s: %s", c.name, url, limit, c.log, tail(c.log, 3))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardops/wardops/internal/backoff"
	"github.com/wardops/wardops/model"
)

// outboxBatch is the most notifications one POST carries.
const outboxBatch = 500

// sender delivers one Alertmanager's outbox, oldest first, and re-sends what that Alertmanager
// should hold: firing alerts every resend interval (their endsAt pushed ahead so they never
// expire while wardops runs) and resolved ones for ResolvedResend. It is owned by one goroutine.
type sender struct {
	e    *engine
	url  string
	hc   *http.Client
	kick chan struct{}
	bo   *backoff.Backoff
	// firedAt maps fingerprints to when this Alertmanager accepted their firing: what holds a
	// resolution back (see deliver). It is loaded from PostgreSQL before the first delivery of a
	// leadership term, so a resolution the last leader would have held is held here too.
	firedAt  map[string]time.Time
	loaded   bool
	pruned   time.Time // when firedAt last lost its old entries
	lastSend time.Time
}

func newSender(e *engine, url string) *sender {
	return &sender{e: e, url: url, hc: &http.Client{}, kick: make(chan struct{}, 1),
		bo: &backoff.Backoff{Min: 250 * time.Millisecond, Max: 5 * time.Second}, firedAt: map[string]time.Time{}}
}

// firedAtKeep bounds firedAt: an acceptance older than this holds nothing back.
const firedAtKeep = time.Hour

// httpError is an answer other than 2xx; RetryAfter is what the server asked for.
type httpError struct {
	status     int
	retryAfter time.Duration
	body       string
}

func (e *httpError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

func (s *sender) run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		wait, err := s.deliver(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.e.m.failed.WithLabelValues(s.url).Inc()
			s.e.o.Log.Warn("cannot notify Alertmanager", "alertmanager", s.url, "err", err)
			d := s.bo.Next()
			var he *httpError
			if errors.As(err, &he) && he.retryAfter > d {
				d = he.retryAfter
			}
			wait = d
		} else {
			s.bo.Reset()
		}
		if wait <= 0 {
			continue
		}
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil
		case <-s.kick:
		case <-tm.C:
		}
		tm.Stop()
	}
}

// deliver sends one batch from the outbox, or the re-sends when the outbox is empty, and says
// how long to wait before the next call.
func (s *sender) deliver(ctx context.Context) (time.Duration, error) {
	now := time.Now()
	if !s.loaded {
		m, err := s.e.st.FiringsAccepted(ctx, s.url, now.Add(-firedAtKeep))
		s.e.m.pgQueries.Inc()
		if err != nil {
			return 0, err
		}
		s.firedAt, s.loaded = m, true
	}
	entries, err := s.e.st.Outbox(ctx, s.url, outboxBatch)
	s.e.m.pgQueries.Inc()
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		s.e.m.queued.WithLabelValues(s.url).Set(0)
		if now.Sub(s.lastSend) >= s.e.o.ResendInterval {
			if err := s.resend(ctx, now); err != nil {
				return 0, err
			}
		}
		return time.Until(s.lastSend.Add(s.e.o.ResendInterval)), nil
	}
	// A resolution must not reach Alertmanager in the same breath as its firing: Alertmanager
	// would merge the two before its group_wait and never notify the firing, so the receiver
	// behind it would miss a transition. Such a resolution, and everything after it for the
	// same alert, waits GroupWait; the rest goes on, oldest first.
	var batch []model.OutboxEntry
	blocked := map[string]bool{}
	fired := map[string]bool{}
	var earliest time.Duration
	for _, en := range entries {
		fp := fingerprint(en.Payload.Labels)
		if blocked[fp] {
			continue
		}
		if en.Resolved {
			at, ok := s.firedAt[fp]
			if fired[fp] || (ok && now.Sub(at) < s.e.o.GroupWait) {
				blocked[fp] = true
				w := s.e.o.GroupWait
				if ok && !fired[fp] {
					w -= now.Sub(at)
				}
				if earliest == 0 || w < earliest {
					earliest = w
				}
				continue
			}
		} else {
			fired[fp] = true
		}
		batch = append(batch, en)
	}
	s.e.m.queued.WithLabelValues(s.url).Set(float64(len(entries)))
	if len(batch) == 0 {
		return earliest, nil
	}
	ns := make([]model.Notification, len(batch))
	ids := make([]int64, len(batch))
	for i, en := range batch {
		ns[i] = en.Payload
		if !en.Resolved {
			ns[i].EndsAt = now.Add(s.e.endsAtAhead())
		}
		ids[i] = en.ID
	}
	if err := s.post(ctx, ns); err != nil {
		_ = s.e.st.OutboxFailed(ctx, ids, err.Error())
		return 0, err
	}
	accepted := time.Now()
	var firings []string
	for _, en := range batch {
		if !en.Resolved {
			firings = append(firings, fingerprint(en.Payload.Labels))
		}
	}
	err = s.e.st.OutboxDelivered(ctx, s.url, ids, firings, accepted)
	s.e.m.pgQueries.Inc()
	if err != nil {
		return 0, err
	}
	s.e.m.sent.WithLabelValues(s.url).Add(float64(len(batch)))
	for _, en := range batch {
		if en.Resolved {
			continue
		}
		fp := fingerprint(en.Payload.Labels)
		if _, again := s.firedAt[fp]; !again {
			s.e.m.stage.WithLabelValues(stageOpenToAccepted).Observe(accepted.Sub(en.CreatedAt).Seconds())
			s.e.m.stage.WithLabelValues(stageProbeToAccept).Observe(accepted.Sub(en.Payload.StartsAt).Seconds())
		}
		s.firedAt[fp] = accepted
	}
	if accepted.Sub(s.pruned) > time.Minute {
		for fp, at := range s.firedAt {
			if accepted.Sub(at) > firedAtKeep {
				delete(s.firedAt, fp)
			}
		}
		s.pruned = accepted
	}
	if len(batch) < len(entries) && earliest > 0 {
		return earliest, nil
	}
	return 0, nil
}

// endsAtAhead is how far ahead a firing alert's endsAt is set: four evaluation or resend
// intervals, so Alertmanager keeps it through three missed re-sends but lets it go if wardops
// stops for good.
func (e *engine) endsAtAhead() time.Duration {
	return 4 * max(e.o.EvalInterval, e.o.DownInterval, e.o.ResendInterval)
}

func (s *sender) resend(ctx context.Context, now time.Time) error {
	as, err := s.e.st.NotifiedAlerts(ctx, now.Add(-s.e.o.ResolvedResend))
	s.e.m.pgQueries.Inc()
	if err != nil {
		return err
	}
	ns := make([]model.Notification, 0, len(as))
	for i := range as {
		a := &as[i]
		n := s.e.payload(a, a.ResolvedAt != nil)
		if a.ResolvedAt == nil {
			n.EndsAt = now.Add(s.e.endsAtAhead())
		}
		ns = append(ns, n)
	}
	for len(ns) > 0 {
		k := min(len(ns), outboxBatch)
		if err := s.post(ctx, ns[:k]); err != nil {
			return err
		}
		ns = ns[k:]
	}
	s.lastSend = now
	return nil
}

func (s *sender) post(ctx context.Context, ns []model.Notification) error {
	body, err := json.Marshal(ns)
	if err != nil {
		return fmt.Errorf("cannot encode notifications: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.e.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.url, "/")+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cannot notify %s: %w", s.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot notify %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		he := &httpError{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
		if sec, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			he.retryAfter = time.Duration(sec) * time.Second
		}
		return fmt.Errorf("cannot notify %s: %w", s.url, he)
	}
	return nil
}

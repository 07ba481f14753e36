package alerting

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// TestResolutionHoldSurvivesFailover: a leader delivers a firing to Alertmanager and loses its
// leadership; the next leader resolves the alert at once. Its sender must still hold the
// resolution until group wait has passed since the firing was accepted (else Alertmanager
// merges the two and its receiver never hears of the firing), then deliver it once.
func TestResolutionHoldSurvivesFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := testenv.Store(t)
	var mu sync.Mutex
	got := map[string]int{} // webhook notifications by status
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status string `json:"status"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, a := range msg.Alerts {
			got[a.Status]++
		}
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	am := testenv.Alertmanager(t, hook.URL)
	const groupWait = 4 * time.Second
	term := func() *engine {
		lead, err := st.TryLeadership(ctx, time.Second)
		if err != nil || lead == nil {
			t.Fatalf("leadership: %v %v", lead, err)
		}
		o := &Options{Store: st, Alertmanagers: []string{am.URL}, PingInterval: 30 * time.Second, DownInterval: 2 * time.Second,
			EvalInterval: 30 * time.Second, ResendInterval: time.Minute, ResolvedResend: 15 * time.Minute, Timeout: 10 * time.Second,
			GroupWait: groupWait, InventoryEvery: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		e := &engine{o: o, m: newMetrics(prometheus.NewRegistry(), o.Alertmanagers), st: st, lead: lead, kick: map[string]chan struct{}{}}
		if err := e.refreshInventory(ctx); err != nil {
			t.Fatal(err)
		}
		return e
	}
	outbox := func() int {
		d, err := st.OutboxDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d[am.URL]
	}

	e1 := term()
	r, _ := e1.inv.Load().rule(model.RuleBlind)
	now := time.Now()
	a := e1.newAlert(r, nil, "", nil, now, now, nil)
	a.Summary, a.Annotations = "test", map[string]string{"summary": "test"}
	ch := &store.CycleChange{NewAlerts: []*model.AlertRecord{a}}
	e1.notify(ch, a, now)
	if err := e1.commit(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := newSender(e1, am.URL).deliver(ctx); err != nil {
		t.Fatal(err)
	}
	accepted := time.Now()
	if n := outbox(); n != 0 {
		t.Fatalf("the firing is still queued (%d rows)", n)
	}
	e1.lead.Release()

	e2 := term()
	defer e2.lead.Release()
	ch = &store.CycleChange{}
	e2.resolve(ch, a, time.Now(), time.Now())
	if err := e2.commit(ctx, ch); err != nil {
		t.Fatal(err)
	}
	s2 := newSender(e2, am.URL)
	wait, err := s2.deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := outbox(); n != 1 {
		t.Fatalf("the new leader sent the resolution %s after the firing was accepted, within group wait %s", time.Since(accepted), groupWait)
	}
	if left := groupWait - time.Since(accepted); wait <= 0 || wait > left+time.Second {
		t.Errorf("the resolution waits %s, want about %s", wait, left)
	}
	time.Sleep(wait)
	if _, err := s2.deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outbox(); n != 0 {
		t.Fatalf("the resolution is still queued after the hold (%d rows)", n)
	}
	testenv.WaitFor(t, 15*time.Second, "the webhook hears the firing and the resolution", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return got["firing"] == 1 && got["resolved"] == 1, ""
	})
	time.Sleep(2 * time.Second) // a duplicate would arrive within group_interval (1 s)
	mu.Lock()
	defer mu.Unlock()
	if got["firing"] != 1 || got["resolved"] != 1 {
		t.Errorf("webhook notifications %v, want one firing and one resolved", got)
	}
}

package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestNOCPageAlerts loads the NOC page in headless Chromium with a branch router down and
// acknowledged and two devices behind it suppressed by it: the router's alert shows its ack (who
// and note) and holds the two children under it; a hostile summary is shown as text; clicking the
// router's tile shows its alert history.
func TestNOCPageAlerts(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(1, 4, nil)
	router, kids := devs[0], devs[1:3]
	ctx := context.Background()
	now := time.Now().UTC().Add(-time.Minute)
	rootID, err := e.st.FireAlert(ctx, router.ID, "DeviceDown", "critical", "branch down: <img src=x onerror=alert(1)>", now)
	if err != nil {
		t.Fatal(err)
	}
	var kidIDs []int64
	for _, k := range kids {
		id, err := e.st.FireAlert(ctx, k.ID, "DeviceDown", "critical", "unreachable", now)
		if err != nil {
			t.Fatal(err)
		}
		kidIDs = append(kidIDs, id)
	}
	// The evaluator marks what a root cause holds; this is the row it writes.
	var n int
	e.sql(fmt.Sprintf(`WITH u AS (UPDATE alert_history SET suppressed_by = %d, hold_reason = 'suppressed' WHERE id IN (%d, %d) RETURNING 1)
		SELECT count(*) FROM u`, router.ID, kidIDs[0], kidIDs[1]), &n)
	alice := e.token("alice", scopeWrite)
	if st := e.do("POST", fmt.Sprintf("/api/v1/alerts/%d/ack", rootID), alice, map[string]any{"note": "ISP ticket 4711"}, nil); st != 200 {
		t.Fatalf("ack: %d", st)
	}

	bctx := browser(t)
	eval := func(js string) string {
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(e.ts.URL+"/?refresh=1"), chromedp.WaitVisible(chromedp.CSS(`#alert-list li.alert`))); err != nil {
		t.Fatal(err)
	}
	root := fmt.Sprintf(`#alert-list > li.alert[data-id="%d"]`, rootID)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := eval(fmt.Sprintf(`(() => { const r = document.querySelector('%s'); if (!r) return "no root";
			return [r.dataset.state, r.classList.contains("root-group"), r.querySelector(".ack") ? r.querySelector(".ack").textContent : "",
				r.querySelectorAll(".held > li.child").length, r.querySelector(".held-count") ? r.querySelector(".held-count").textContent : "",
				document.querySelectorAll("#alert-list > li.alert").length].join("|"); })()`, root))
		if got == "acknowledged|true|ack alice: ISP ticket 4711|2|2 behind it|1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert list shows %q, want the acknowledged root holding its two children", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range kidIDs {
		if s := eval(fmt.Sprintf(`(document.querySelector('%s .held li[data-id="%d"]') || {dataset:{}}).dataset.state || "missing"`, root, id)); s != "suppressed" {
			t.Errorf("child alert %d: %s, want suppressed under its root", id, s)
		}
	}
	if s := eval(`String(document.querySelectorAll("#alert-list img").length) + "|" + document.querySelector("#alert-list").textContent.includes("<img src=x")`); s != "0|true" {
		t.Errorf("hostile summary: %s, want shown as text, no element", s)
	}

	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`.tile[data-id="%d"]`, router.ID))),
		chromedp.WaitVisible(chromedp.CSS(`#device-panel`))); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		h := eval(`document.getElementById("device-title").textContent + "|" + document.getElementById("device-history").textContent`)
		if strings.Contains(h, router.Name+" · alert history (1)") && strings.Contains(h, "acknowledged") && strings.Contains(h, "ack alice: ISP ticket 4711") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device panel %q", h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

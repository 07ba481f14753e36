package query

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWallScreen loads the wall in headless Chromium at 1920×1080 with an 875-device fleet (35
// branches of 25): every tile is there and the page does not scroll either way, the branches with
// down devices come first and then the one with unknown devices, a tile carries the device's full
// name, the kiosk mode hides the header, and a 1920×1080 screenshot holds it all. Clicking a tile
// opens the drawer with an RTT sparkline and the device's open alert; acknowledging it asks for
// a token, keeps it in sessionStorage only, and the alert is acknowledged in the API.
func TestWallScreen(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(35, 25, nil)
	if len(devs) != 875 {
		t.Fatalf("%d devices seeded", len(devs))
	}
	byName := map[string]fleetDev{}
	for _, d := range devs {
		byName[d.Name] = d
	}
	downs := map[string]bool{"dev-20-00": true, "dev-20-01": true, "dev-20-02": true, "dev-07-05": true}
	unknown := map[string]bool{"dev-33-00": true, "dev-33-01": true} // never probed
	target := byName["dev-07-00"]
	now := time.Now().UTC().Truncate(time.Second)
	probes := map[fleetDev][]probe{}
	for _, d := range devs {
		if unknown[d.Name] {
			continue
		}
		probes[d] = []probe{{at: now.Add(-10 * time.Second), up: !downs[d.Name], rtt: 3}}
	}
	for m := 30; m >= 1; m-- { // the drawer's device gets half an hour of RTT to draw
		probes[target] = append(probes[target], probe{at: now.Add(-time.Duration(m) * time.Minute), up: true, rtt: float64(2 + m%7)})
	}
	e.seedProbes(probes)
	alertID, err := e.st.FireAlert(context.Background(), target.ID, "HighRTT", "warning", "rtt above 5 ms", now.Add(-5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	op := e.token("wall-op", scopeWrite)

	ctx := browser(t)
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	waitFor := func(what, js, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := eval(js)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %q, want %q", what, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	const layout = `[document.querySelectorAll(".wtile").length, document.querySelectorAll(".wtile.down").length,
		document.querySelectorAll(".wtile.unknown").length, document.documentElement.scrollHeight <= 1080,
		document.documentElement.scrollWidth <= 1920, Array.from(document.querySelectorAll(".wblock")).slice(0, 3).map(b => b.dataset.branch).join(",")].join("|")`
	const wantLayout = "875|4|2|true|true|branch-20,branch-07,branch-33"
	for _, url := range []string{"/wall?refresh=1", "/wall?kiosk=1&refresh=1"} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(e.ts.URL+url),
			chromedp.WaitReady(chromedp.CSS(".wtile"))); err != nil {
			t.Fatal(err)
		}
		waitFor(url+" layout", layout, wantLayout)
		t.Logf("%s: tiles of %spx, document %s", url, eval(`document.body.dataset.tile`),
			eval(`document.documentElement.scrollWidth + "×" + document.documentElement.scrollHeight`))
	}
	if s := eval(`getComputedStyle(document.getElementById("wall-header")).display`); s != "none" {
		t.Errorf("kiosk header display %q, want none", s)
	}
	if s := eval(fmt.Sprintf(`document.querySelector('.wtile[data-id="%d"]').title`, byName["dev-20-01"].ID)); !strings.HasPrefix(s, "dev-20-01 · 127.20.20.2 · down") {
		t.Errorf("tile title %q, want the full name, IP and state", s)
	}

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil || cfg.Width != 1920 || cfg.Height != 1080 {
		t.Fatalf("screenshot %d×%d (%v), want 1920×1080", cfg.Width, cfg.Height, err)
	}

	// The drawer: a sparkline with the half hour of RTT, and the open alert with its button.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`.wtile[data-id="%d"]`, target.ID))),
		chromedp.WaitVisible(chromedp.CSS("#drawer"))); err != nil {
		t.Fatal(err)
	}
	waitFor("drawer", `[document.getElementById("d-name").textContent,
		(() => { const l = document.querySelector("#spark polyline.rtt"); return l ? String(l.getAttribute("points").split(" ").length >= 20) : "no line"; })(),
		document.querySelectorAll("#d-alerts button.ack-button").length].join("|")`, "dev-07-00|true|1")
	if s := eval(`document.documentElement.scrollHeight <= 1080 ? "fits" : "scrolls"`); s != "fits" {
		t.Errorf("with the drawer open the page %s", s)
	}

	// Acknowledge: the page asks for the token, then sends it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#d-alerts button.ack-button")), chromedp.WaitVisible(chromedp.CSS("#token-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), op), chromedp.Click(chromedp.CSS("#token-save"))); err != nil {
		t.Fatal(err)
	}
	waitFor("the ack on the page", `(document.querySelector("#d-alerts .ack") || {textContent: "none"}).textContent`, "ack wall-op: acknowledged from the wall")
	var a alertEntryView
	if st := e.get(fmt.Sprintf("/api/v1/alerts/%d", alertID), &a); st != 200 || a.Ack == nil || a.Ack.By != "wall-op" || !a.Ack.Active {
		t.Fatalf("alert after ack from the page: %d %+v", st, a.Ack)
	}
	if s := eval(`[sessionStorage.getItem("wardops_token") === ` + fmt.Sprintf("%q", op) + `, localStorage.getItem("wardops_token")].join("|")`); s != "true|" {
		t.Errorf("token storage %q, want in sessionStorage only", s)
	}
}

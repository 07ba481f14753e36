package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardops/wardops/internal/testenv"
)

// browser starts headless Chromium for one test with a fresh profile and stops it at cleanup.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := testenv.LookBinary(t, "chromium", "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 45*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestNOCPage loads the page in headless Chromium: the totals and tiles match the seeded fleet,
// the filter box narrows the tiles, and a device going down turns up on the page by itself.
func TestNOCPage(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(3, 5, map[int]bool{14: true})
	now := time.Now().UTC().Truncate(time.Second)
	probes := map[fleetDev][]probe{}
	for i, d := range devs[:13] { // 13 up, device 13 never probed, device 14 disabled
		probes[d] = []probe{{at: now.Add(-40 * time.Second), up: true, rtt: float64(i + 1)}, {at: now.Add(-10 * time.Second), up: true, rtt: float64(i + 1)}}
	}
	e.seedProbes(probes)

	ctx := browser(t)
	text := func(sel string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	count := func(sel string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("page never showed %s; totals %s/%s/%s/%s/%s, status %q", what, text("#total-devices"), text("#total-up"),
					text("#total-down"), text("#total-unknown"), text("#total-disabled"), text("#status"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.ts.URL+"/?refresh=1"), chromedp.WaitVisible(chromedp.CSS("#branches .tile"))); err != nil {
		t.Fatal(err)
	}
	waitFor("the seeded totals", func() bool {
		return text("#total-devices") == "15" && text("#total-up") == "13" && text("#total-down") == "0" &&
			text("#total-unknown") == "1" && text("#total-disabled") == "1"
	})
	if n := count(".branch"); n != 3 {
		t.Errorf("%d branch groups, want 3", n)
	}
	if n := count(".tile.up"); n != 13 {
		t.Errorf("%d up tiles, want 13", n)
	}

	// The filter box narrows the tiles to one branch.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#filter"), "branch-01")); err != nil {
		t.Fatal(err)
	}
	waitFor("the filtered tiles", func() bool { return count(".tile") == 5 && count(".branch") == 1 })
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const f = document.getElementById("filter"); f.value = ""; return f.dispatchEvent(new Event("input")); })()`)); err != nil {
		t.Fatal(err)
	}
	waitFor("all tiles again", func() bool { return count(".tile") == 15 })

	// Device 2 stops answering: the page shows it without a reload.
	victim := devs[2]
	e.seedProbes(map[fleetDev][]probe{victim: {{at: time.Now().UTC(), up: false}}})
	waitFor("the device going down", func() bool {
		return text("#total-down") == "1" && text("#total-up") == "12" &&
			count(fmt.Sprintf(`.tile.down[data-id="%d"]`, victim.ID)) == 1 &&
			strings.Contains(text("#down-list"), victim.Name)
	})
}

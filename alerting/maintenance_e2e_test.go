package alerting_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestMaintenance: a device down inside its maintenance window is recorded, not notified, and
// notified when the window ends while it is still down; a router in maintenance covers a child
// that goes down behind it.
func TestMaintenance(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []model.ImportDevice{dev("M", "maint-dev", "127.23.0.1", ""), dev("M", "maint-rtr", "127.23.0.2", ""),
		dev("M", "maint-kid", "127.23.0.3", "maint-rtr")}, envOptions{})
	e.waitUp(90 * time.Second)
	ctx := context.Background()
	now := time.Now()
	end := now.Add(70 * time.Second)
	for _, d := range []string{"maint-dev", "maint-rtr"} {
		if _, err := e.st.CreateMaintenanceWindow(ctx, model.MaintenanceWindow{ScopeKind: model.MaintenanceDevice,
			ScopeValue: fmt.Sprint(e.ids[d]), StartsAt: &now, EndsAt: &end, Reason: "firmware", CreatedBy: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(6 * time.Second) // the alerter re-reads windows every 5 s
	r1 := testenv.DropTraffic(t, e.ips["maint-dev"], testenv.HookInput)
	defer r1()
	r2 := testenv.DropTraffic(t, e.ips["maint-kid"], testenv.HookInput)
	defer r2()
	for _, d := range []string{"maint-dev", "maint-kid"} {
		waitFor(t, 50*time.Second, d+" recorded as held for maintenance", func() (bool, string) {
			h := e.history(d)
			return len(h) == 1 && h[0].HoldReason == model.HoldMaintenance && h[0].NotifiedAt == nil, fmt.Sprint(h)
		})
	}
	if time.Now().After(end.Add(-2 * time.Second)) {
		t.Fatal("the drops took longer than the window: the test proves nothing")
	}
	if n := len(e.amAlerts("", "")); n != 0 {
		t.Fatalf("%d alerts in Alertmanager during maintenance", n)
	}
	took := waitFor(t, time.Until(end)+20*time.Second, "both notified when the window ends", func() (bool, string) {
		a, b := len(e.amAlerts("DeviceDown", "maint-dev")), len(e.amAlerts("DeviceDown", "maint-kid"))
		return a == 1 && b == 1, fmt.Sprintf("maint-dev %d maint-kid %d", a, b)
	})
	if late := time.Since(end); late < 0 {
		t.Fatalf("notified %s before the window ended", -late)
	}
	t.Logf("notified %s after the window ended (waited %s)", time.Since(end).Round(100*time.Millisecond), took.Round(time.Second))
}

// TestFlapping toggles a device's drop rule every 4 s and expects exactly one DeviceFlapping
// page, no down page once it started to bounce, and the flapping alert to resolve once the
// device settles. The collector probes every 3 s here, not 30: 21 probe states at 30 s would
// take over ten minutes to fill.
func TestFlapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []model.ImportDevice{dev("F", "flappy", "127.23.1.1", "")},
		envOptions{pingInterval: 3 * time.Second, pingTimeout: time.Second})
	e.waitUp(30 * time.Second)
	time.Sleep(10 * time.Second)
	stop := time.Now().Add(90 * time.Second)
	for time.Now().Before(stop) && len(e.amAlerts("DeviceFlapping", "flappy")) == 0 {
		restore := testenv.DropTraffic(t, e.ips["flappy"], testenv.HookInput)
		time.Sleep(4 * time.Second)
		restore()
		time.Sleep(4 * time.Second)
	}
	if len(e.amAlerts("DeviceFlapping", "flappy")) != 1 {
		t.Fatalf("no DeviceFlapping alert after 90 s of bouncing:%s", e.hook.dump())
	}
	// Keep bouncing a while: nothing more may page.
	downs := e.hook.count("DeviceDown", "flappy", "firing")
	for i := 0; i < 4; i++ {
		restore := testenv.DropTraffic(t, e.ips["flappy"], testenv.HookInput)
		time.Sleep(4 * time.Second)
		restore()
		time.Sleep(4 * time.Second)
	}
	waitFor(t, 120*time.Second, "flapping resolved after the device settles", func() (bool, string) {
		return len(e.amAlerts("DeviceFlapping", "flappy")) == 0, ""
	})
	time.Sleep(3 * time.Second)
	if n := e.hook.count("DeviceFlapping", "flappy", "firing"); n != 1 {
		t.Errorf("DeviceFlapping paged %d times, want 1:%s", n, e.hook.dump())
	}
	if n := e.hook.count("DeviceDown", "flappy", "firing"); n != downs || n > 1 {
		t.Errorf("DeviceDown paged %d times (%d before flapping was detected), want at most the first bounce:%s", n, downs, e.hook.dump())
	}
	t.Logf("pages: DeviceDown %d (before flapping was known), DeviceFlapping 1", downs)
}

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
		testenv.WaitFor(t, 50*time.Second, d+" recorded as held for maintenance", func() (bool, string) {
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
	took := testenv.WaitFor(t, time.Until(end)+20*time.Second, "both notified when the window ends", func() (bool, string) {
		a, b := len(e.amAlerts("DeviceDown", "maint-dev")), len(e.amAlerts("DeviceDown", "maint-kid"))
		return a == 1 && b == 1, fmt.Sprintf("maint-dev %d maint-kid %d", a, b)
	})
	if late := time.Since(end); late < 0 {
		t.Fatalf("notified %s before the window ended", -late)
	}
	t.Logf("notified %s after the window ended (waited %s)", time.Since(end).Round(100*time.Millisecond), took.Round(time.Second))
}

// TestFlapping bounces a device so that every probe is the opposite of the one before (the drop
// is toggled right after each probe's row is written, so the pattern does not depend on how the
// bounces line up with the probe slots), and expects exactly one DeviceFlapping page, at most the
// first bounce's DeviceDown, and no page from the bounces after flapping was detected. At the
// default 30 s interval that is all it checks; at 5 s it also waits for the flapping alert to
// resolve once the device settles (at 30 s the changes take about eight minutes to age out of the
// 21-probe history).
func TestFlapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		ip       string
		interval time.Duration // 0: the default 30 s
		settle   bool
	}{
		{name: "default interval", ip: "127.23.8.1"},
		{name: "5s interval until it settles", ip: "127.23.1.1", interval: 5 * time.Second, settle: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const name = "flappy"
			o := envOptions{pingInterval: tc.interval}
			if tc.interval > 0 {
				o.pingTimeout = time.Second
			}
			e := newEnv(t, []model.ImportDevice{dev("F", name, tc.ip, "")}, o)
			e.waitUp(90 * time.Second)
			restore, dropped := func() {}, false
			defer func() { restore() }()
			toggle := func() {
				e.afterProbe(name)
				if dropped {
					restore()
					restore = func() {}
				} else {
					restore = testenv.DropTraffic(t, e.ips[name], testenv.HookInput)
				}
				dropped = !dropped
			}
			probes := 0
			for deadline := time.Now().Add(7 * time.Minute); len(e.amAlerts("DeviceFlapping", name)) == 0; probes++ {
				if time.Now().After(deadline) {
					t.Fatalf("no DeviceFlapping alert after %d alternating probes:%s", probes, e.hook.dump())
				}
				toggle()
			}
			downs := e.hook.count("DeviceDown", name, "firing")
			for i := 0; i < 3; i++ {
				toggle()
			}
			time.Sleep(5 * time.Second)
			if n := len(e.amAlerts("DeviceFlapping", name)); n != 1 {
				t.Errorf("%d DeviceFlapping alerts in Alertmanager while it still bounces, want 1", n)
			}
			if tc.settle {
				restore()
				restore = func() {}
				testenv.WaitFor(t, 3*time.Minute, "flapping resolved after the device settles", func() (bool, string) {
					return len(e.amAlerts("DeviceFlapping", name)) == 0, ""
				})
				time.Sleep(3 * time.Second)
			}
			if n := e.hook.count("DeviceFlapping", name, "firing"); n != 1 {
				t.Errorf("DeviceFlapping paged %d times, want 1:%s", n, e.hook.dump())
			}
			if n := e.hook.count("DeviceDown", name, "firing"); n != downs || n > 1 {
				t.Errorf("DeviceDown paged %d times (%d before flapping was detected), want at most the first bounce:%s", n, downs, e.hook.dump())
			}
			t.Logf("flapping paged after %d alternating probes; DeviceDown pages: %d", probes, downs)
		})
	}
}

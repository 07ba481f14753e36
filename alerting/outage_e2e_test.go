package alerting_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestAlertmanagerOutage stops Alertmanager for 3 minutes while alerts fire and resolve: one
// alert resolves that fired before, two fire, one fires and resolves, one stays. Afterwards
// Alertmanager holds exactly the open ones and the webhook has seen every transition once. A
// second Alertmanager, sent to alongside and never stopped, holds the same alerts all along: one
// receiver being away holds up nothing for the other.
func TestAlertmanagerOutage(t *testing.T) {
	t.Parallel()
	var devs []model.ImportDevice
	for i := 1; i <= 5; i++ {
		devs = append(devs, dev("O", fmt.Sprintf("out-%d", i), fmt.Sprintf("127.24.0.%d", i), ""))
	}
	e := newEnv(t, devs, envOptions{secondAM: true})
	e.waitUp(90 * time.Second)
	drop := map[string]func(){}
	for _, d := range []string{"out-1", "out-2"} {
		drop[d] = testenv.DropTraffic(t, e.ips[d], testenv.HookInput)
	}
	testenv.WaitFor(t, 60*time.Second, "out-1 and out-2 firing", func() (bool, string) {
		return len(e.amAlerts("DeviceDown", "out-1")) == 1 && len(e.amAlerts("DeviceDown", "out-2")) == 1, ""
	})
	testenv.WaitFor(t, 10*time.Second, "their pages", func() (bool, string) {
		return e.hook.count("DeviceDown", "out-1", "firing") == 1 && e.hook.count("DeviceDown", "out-2", "firing") == 1, ""
	})
	e.am.Stop()
	stopped := time.Now()
	drop["out-1"]()
	drop["out-3"] = testenv.DropTraffic(t, e.ips["out-3"], testenv.HookInput)
	drop["out-4"] = testenv.DropTraffic(t, e.ips["out-4"], testenv.HookInput)
	drop["out-5"] = testenv.DropTraffic(t, e.ips["out-5"], testenv.HookInput)
	// out-5 fires and resolves while Alertmanager is away.
	testenv.WaitFor(t, 60*time.Second, "out-5 down in alert_history", func() (bool, string) { return len(e.history("out-5")) == 1, "" })
	drop["out-5"]()
	testenv.WaitFor(t, 60*time.Second, "out-5 resolved in alert_history", func() (bool, string) {
		h := e.history("out-5")
		return len(h) == 1 && h[0].ResolvedAt != nil, ""
	})
	testenv.WaitFor(t, 60*time.Second, "out-1 resolved, out-3 and out-4 open in alert_history", func() (bool, string) {
		h1, h3, h4 := e.history("out-1"), e.history("out-3"), e.history("out-4")
		return len(h1) == 1 && h1[0].ResolvedAt != nil && len(h3) == 1 && len(h4) == 1, ""
	})
	testenv.WaitFor(t, 10*time.Second, "the second Alertmanager holding out-2, out-3, out-4 while the first is away", func() (bool, string) {
		got := devicesIn(e.am2)
		return got == "out-2,out-3,out-4", got
	})
	time.Sleep(time.Until(stopped.Add(3 * time.Minute)))
	e.am.Start()
	testenv.WaitFor(t, 60*time.Second, "Alertmanager holds exactly out-2, out-3, out-4", func() (bool, string) {
		got := devicesIn(e.am)
		return got == "out-2,out-3,out-4", got
	})
	if got := devicesIn(e.am2); got != "out-2,out-3,out-4" {
		t.Errorf("the second Alertmanager holds %s, want out-2,out-3,out-4", got)
	}
	want := map[string][2]int{"out-1": {1, 1}, "out-2": {1, 0}, "out-3": {1, 0}, "out-4": {1, 0}, "out-5": {1, 1}}
	for i, h := range []*webhook{e.hook, e.hook2} {
		testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("webhook %d saw every transition once", i+1), func() (bool, string) {
			for d, w := range want {
				if h.count("DeviceDown", d, "firing") != w[0] || h.count("DeviceDown", d, "resolved") != w[1] {
					return false, d + h.dump()
				}
			}
			return true, ""
		})
	}
}

// devicesIn lists the devices of the alerts an Alertmanager holds, sorted and comma-separated.
func devicesIn(am *testenv.AM) string {
	as, err := am.Alerts()
	if err != nil {
		return err.Error()
	}
	var got []string
	for _, a := range as {
		got = append(got, a.Labels["device"])
	}
	return strings.Join(sortStrings(got), ",")
}

// TestFailover runs two `wardops alerter` processes on one database, SIGKILLs the leader and
// expects the other to lead within two evaluation cycles, with no alert duplicated or lost.
func TestFailover(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "wardops")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/wardops").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	e := newEnv(t, []model.ImportDevice{dev("X", "fo-1", "127.25.0.1", ""), dev("X", "fo-2", "127.25.0.2", ""),
		dev("X", "fo-3", "127.25.0.3", "")}, envOptions{noAlerter: true})
	type proc struct {
		cmd  *exec.Cmd
		addr string
	}
	start := func() *proc {
		p := &proc{addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
		p.cmd = exec.Command(bin, "alerter")
		p.cmd.Env = append(os.Environ(), "WARDOPS_DATABASE_URL="+e.dbURL, "WARDOPS_ALERTMANAGER_URL="+e.am.URL,
			"WARDOPS_VM_QUERY_URL="+e.vm.URL, "WARDOPS_ALERTER_LISTEN="+p.addr, "WARDOPS_ALERTMANAGER_GROUP_WAIT=3s",
			"WARDOPS_LOG_LEVEL=warn")
		p.cmd.Stderr = os.Stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		})
		return p
	}
	leading := func(p *proc) bool {
		resp, err := http.Get("http://" + p.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == "wardops_alerting_leader 1" {
				return true
			}
		}
		return false
	}
	a, b := start(), start()
	e.waitUp(90 * time.Second)
	var leader, standby *proc
	testenv.WaitFor(t, 20*time.Second, "one leader", func() (bool, string) {
		la, lb := leading(a), leading(b)
		switch {
		case la && !lb:
			leader, standby = a, b
		case lb && !la:
			leader, standby = b, a
		default:
			return false, fmt.Sprint(la, lb)
		}
		return true, ""
	})
	r1 := testenv.DropTraffic(t, e.ips["fo-1"], testenv.HookInput)
	testenv.WaitFor(t, 60*time.Second, "fo-1 firing", func() (bool, string) { return len(e.amAlerts("DeviceDown", "fo-1")) == 1, "" })
	// fo-2 goes down just before the kill, so its alert may be the old leader's or the new one's.
	r2 := testenv.DropTraffic(t, e.ips["fo-2"], testenv.HookInput)
	defer r2()
	time.Sleep(time.Duration(time.Now().UnixNano()%int64(20*time.Second)) + 10*time.Second)
	_ = leader.cmd.Process.Kill()
	killed := time.Now()
	took := testenv.WaitFor(t, 10*time.Second, "the standby leads", func() (bool, string) { return leading(standby), "" })
	t.Logf("failover took %s after SIGKILL", took.Round(10*time.Millisecond))
	if limit := 2*defaults.AlertDownInterval + time.Second; took > limit {
		t.Errorf("failover took %s, more than two evaluation cycles (+1 s of polling)", took)
	}
	_ = killed
	testenv.WaitFor(t, 60*time.Second, "fo-2 firing", func() (bool, string) { return len(e.amAlerts("DeviceDown", "fo-2")) == 1, "" })
	r1()
	testenv.WaitFor(t, 60*time.Second, "fo-1 resolved", func() (bool, string) { return len(e.amAlerts("DeviceDown", "fo-1")) == 0, "" })
	time.Sleep(5 * time.Second)
	for _, d := range []string{"fo-1", "fo-2"} {
		if h := e.history(d); len(h) != 1 {
			t.Errorf("%s: %d alert_history rows, want 1: %+v", d, len(h), h)
		}
		if n := e.hook.count("DeviceDown", d, "firing"); n != 1 {
			t.Errorf("%s: %d firing notifications, want 1:%s", d, n, e.hook.dump())
		}
	}
	if n := e.hook.count("DeviceDown", "fo-1", "resolved"); n != 1 {
		t.Errorf("fo-1: %d resolved notifications, want 1:%s", n, e.hook.dump())
	}
	if h := e.history("fo-3"); len(h) != 0 {
		t.Errorf("fo-3 never went down but has alerts: %+v", h)
	}
	_ = context.Background
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

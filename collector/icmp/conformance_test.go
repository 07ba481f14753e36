package icmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
)

// One table of behaviour every engine must show, so an engine can replace another unnoticed,
// run for each constructor in each socket mode: raw sockets in the test's own
// network namespace, datagram ICMP sockets in a fresh namespace where the test may widen
// net.ipv4.ping_group_range without touching the host's setting.

var conformanceEngines = []struct {
	name string
	new  func(*slog.Logger, string) (Engine, error)
	// concurrent is how many probes "many at once" runs together. The probing engine opens a raw
	// socket per probe and the kernel copies every reply to every one of them, so at 500 it shows
	// false loss on this 2-core machine (a few echoes in 500 probes): that is why the shared engine
	// exists, and the scheduler bounds probing's concurrency.
	concurrent int
}{
	{"shared", NewShared, 500},
	{"probing", NewProbing, 100},
}

// conformanceNetnsEnv marks the re-executed test binary running inside a new network namespace.
const conformanceNetnsEnv = "WARDOPS_ICMP_CONFORMANCE_NETNS"

func TestConformance(t *testing.T) {
	mode := ModeRaw
	if os.Getenv(conformanceNetnsEnv) == "1" {
		mode = ModeUDP
		run(t, "ip", "link", "set", "lo", "up")
		run(t, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647")
	}
	for _, eng := range conformanceEngines {
		t.Run(eng.name+"/"+mode, func(t *testing.T) {
			e, err := eng.new(slog.New(slog.NewTextHandler(io.Discard, nil)), mode)
			if err != nil {
				t.Fatalf("cannot start %s engine in %s mode: %v", eng.name, mode, err)
			}
			defer e.Close()
			env := conformanceEnv{e: e, concurrent: eng.concurrent, newOther: func() (Engine, error) {
				return eng.new(slog.New(slog.NewTextHandler(io.Discard, nil)), mode)
			}}
			for _, c := range conformanceChecks {
				t.Run(c.name, func(t *testing.T) { c.check(t, env) })
			}
		})
	}
}

// TestConformanceUnprivileged runs TestConformance with datagram ICMP sockets inside a new network
// namespace (unshare --net), where ping_group_range is ours to set.
func TestConformanceUnprivileged(t *testing.T) {
	if os.Getenv(conformanceNetnsEnv) != "" {
		return // already inside
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", os.Args[0], "-test.run=^TestConformance$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), conformanceNetnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("conformance with datagram sockets failed: %v", err)
	}
}

// conformanceEnv is what a check gets: the engine under test, a way to start a second one of the
// same kind, and how many probes to run at once.
type conformanceEnv struct {
	e          Engine
	newOther   func() (Engine, error)
	concurrent int
}

var conformanceChecks = []struct {
	name  string
	check func(t *testing.T, env conformanceEnv)
}{
	{"reachable", checkReachable},
	{"dropped device", checkDropped},
	{"many at once", checkManyAtOnce},
	{"another pinger on the host", checkAnotherPinger},
	{"two engines in one process", checkTwoEngines},
	{"cancellation", checkCancel},
}

func probeOK(t *testing.T, e Engine, addr netip.Addr, count int) Result {
	t.Helper()
	res, err := e.Probe(context.Background(), Request{Addr: addr, Count: count, Interval: 20 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("probe %s: %v", addr, err)
	}
	return res
}

func checkReachable(t *testing.T, env conformanceEnv) {
	e := env.e
	for _, a := range []string{"127.0.0.1", "127.20.0.1", "127.20.0.77", "::ffff:127.20.0.2", "::1"} {
		addr := netip.MustParseAddr(a)
		before := time.Now()
		res := probeOK(t, e, addr, 3)
		if res.Sent != 3 || res.Received != 3 || res.Loss() != 0 {
			t.Errorf("%s: sent %d received %d loss %v, want 3/3/0", a, res.Sent, res.Received, res.Loss())
		}
		if res.Min <= 0 || res.Min > res.Avg || res.Avg > res.Max || res.StdDev < 0 {
			t.Errorf("%s: rtt min %v avg %v max %v stddev %v", a, res.Min, res.Avg, res.Max, res.StdDev)
		}
		if res.Start.Before(before) || res.Start.After(time.Now()) {
			t.Errorf("%s: start %v outside the probe", a, res.Start)
		}
	}
}

func checkDropped(t *testing.T, env conformanceEnv) {
	e := env.e
	testenv.DropTraffic(t, "127.20.9.9", testenv.HookInput)
	req := Request{Addr: netip.MustParseAddr("127.20.9.9"), Count: 2, Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}
	start := time.Now()
	res, err := e.Probe(context.Background(), req)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("probe of a silent device returned an error, want loss: %v", err)
	}
	if res.Sent != 2 || res.Received != 0 || res.Loss() != 1 || res.Avg != 0 {
		t.Errorf("sent %d received %d loss %v avg %v, want 2/0/1/0", res.Sent, res.Received, res.Loss(), res.Avg)
	}
	// Generous: the point is that the probe ends at its timeout, not at some much later default.
	if limit := req.Interval + req.Timeout + 2*time.Second; took > limit {
		t.Errorf("probe of a silent device took %v, want under %v", took, limit)
	}
	// The neighbour of a dropped address still answers.
	if res := probeOK(t, e, netip.MustParseAddr("127.20.9.10"), 1); res.Received != 1 {
		t.Errorf("neighbour of the dropped address: received %d", res.Received)
	}
}

// checkManyAtOnce probes n addresses at the same moment: the false loss operators complain about.
func checkManyAtOnce(t *testing.T, env conformanceEnv) {
	e, n := env.e, env.concurrent
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := netip.AddrFrom4([4]byte{127, 21, byte(i / 250), byte(1 + i%250)})
			res, err := e.Probe(context.Background(), Request{Addr: addr, Count: 3, Interval: 100 * time.Millisecond, Timeout: 3 * time.Second})
			switch {
			case err != nil:
				errs <- err.Error()
			case res.Sent != 3 || res.Received != 3:
				errs <- fmt.Sprintf("%s: sent %d received %d", addr, res.Sent, res.Received)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// checkAnotherPinger runs fping against the same addresses while the engine probes them: neither may
// see the other's replies as its own, or lose its own to the other.
func checkAnotherPinger(t *testing.T, env conformanceEnv) {
	e := env.e
	if _, err := exec.LookPath("fping"); err != nil {
		t.Fatal("fping is required")
	}
	var addrs []string
	for i := 1; i <= 40; i++ {
		addrs = append(addrs, fmt.Sprintf("127.20.3.%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// 20 echoes each, 10 ms apart: fping's echoes overlap ours the whole time.
	fping := exec.CommandContext(ctx, "fping", append([]string{"-q", "-c", "20", "-p", "10", "-i", "1"}, addrs...)...)
	var fout strings.Builder
	fping.Stdout, fping.Stderr = &fout, &fout
	if err := fping.Start(); err != nil {
		t.Fatalf("cannot start fping: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(addrs))
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Probe(ctx, Request{Addr: netip.MustParseAddr(a), Count: 10, Interval: 15 * time.Millisecond, Timeout: 2 * time.Second})
			if err != nil || res.Sent != 10 || res.Received != 10 {
				errs <- fmt.Sprintf("%s: sent %d received %d err %v", a, res.Sent, res.Received, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	// fping exits 0 only when every target answered every echo it sent.
	if err := fping.Wait(); err != nil {
		t.Errorf("fping beside the engine: %v\n%s", err, fout.String())
	}
}

// checkTwoEngines runs a second engine of the same kind against the same addresses at the same time,
// as two collectors on one host would.
func checkTwoEngines(t *testing.T, env conformanceEnv) {
	e := env.e
	other, err := env.newOther()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 1; i <= 50; i++ {
		for j, eng := range []Engine{e, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr := netip.AddrFrom4([4]byte{127, 20, 4, byte(i)})
				res, err := eng.Probe(context.Background(), Request{Addr: addr, Count: 5, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second})
				if err != nil || res.Received != 5 {
					errs <- fmt.Sprintf("engine %d, %s: received %d err %v", j, addr, res.Received, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func checkCancel(t *testing.T, env conformanceEnv) {
	e := env.e
	testenv.DropTraffic(t, "127.20.9.8", testenv.HookInput)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := e.Probe(ctx, Request{Addr: netip.MustParseAddr("127.20.9.8"), Count: 5, Interval: time.Second, Timeout: 5 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled probe returned %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancelled probe returned after %v; its echoes would have taken 9 s", took)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

package icmp

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestProbingConformance(t *testing.T) {
	e, err := NewProbing(testLogger(t), ModeRaw)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	testenv.DropTraffic(t, "127.20.9.9", testenv.HookOutput)
	tests := []struct {
		addr     string
		wantRecv int
	}{
		{"127.0.0.1", 3},
		{"127.20.0.1", 3},
		{"127.20.0.200", 3},
		{"127.20.9.9", 0}, // dropped by nftables
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			start := time.Now()
			res, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr(tc.addr), Count: 3, Interval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond})
			if tc.wantRecv > 0 && err != nil {
				t.Fatalf("probe: %v", err)
			}
			if res.Received != tc.wantRecv {
				t.Fatalf("received %d of %d (err %v), want %d", res.Received, res.Sent, err, tc.wantRecv)
			}
			if res.Start.Before(start) || res.Start.After(time.Now()) {
				t.Errorf("start %v outside the probe", res.Start)
			}
			if tc.wantRecv == 0 {
				if res.Loss() != 1 {
					t.Errorf("loss %v, want 1", res.Loss())
				}
				if res.Avg != 0 {
					t.Errorf("avg rtt %v for a dead device", res.Avg)
				}
				return
			}
			if res.Sent != 3 || res.Loss() != 0 {
				t.Errorf("sent %d loss %v, want 3 and 0", res.Sent, res.Loss())
			}
			if res.Min <= 0 || res.Avg < res.Min || res.Max < res.Avg || res.StdDev < 0 {
				t.Errorf("rtts min %v avg %v max %v stddev %v", res.Min, res.Avg, res.Max, res.StdDev)
			}
		})
	}
}

// TestProbingConcurrent runs many probes at once on one engine: each Pinger has its own id, so
// none steals another's replies and all see zero loss.
func TestProbingConcurrent(t *testing.T) {
	e, err := NewProbing(testLogger(t), ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := netip.AddrFrom4([4]byte{127, 20, 1, byte(i)})
			res, err := e.Probe(context.Background(), Request{Addr: addr, Count: 3, Interval: 20 * time.Millisecond, Timeout: time.Second})
			if err != nil || res.Received != 3 {
				errs <- addr.String() + ": " + strings.TrimSpace(func() string {
					if err != nil {
						return err.Error()
					}
					return "lost echoes"
				}())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestProbingIDsDistinct(t *testing.T) {
	a, err := NewProbing(testLogger(t), ModeRaw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewProbing(testLogger(t), ModeRaw)
	if err != nil {
		t.Fatal(err)
	}
	// Two engines (as two processes) start at random points of the id space.
	if a.(*probingEngine).nextID.Load() == b.(*probingEngine).nextID.Load() {
		t.Fatal("two engines share their first icmp id")
	}
	seen := map[uint16]bool{}
	for range 1000 {
		id := uint16(a.(*probingEngine).nextID.Add(1))
		if seen[id] {
			t.Fatalf("id %d handed out twice within 1000 probes", id)
		}
		seen[id] = true
	}
}

func TestResolveMode(t *testing.T) {
	raw, err := ResolveMode(testLogger(t), ModeAuto)
	if err != nil || !raw {
		t.Fatalf("auto as root: raw %v err %v, want raw", raw, err)
	}
	if _, err := ResolveMode(testLogger(t), "bogus"); err == nil {
		t.Fatal("bogus mode accepted")
	}
	// Datagram ICMP depends on this namespace's net.ipv4.ping_group_range: either it works or the
	// error names the sysctl.
	rng, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	_, err = ResolveMode(testLogger(t), ModeUDP)
	if err != nil && !strings.Contains(err.Error(), "ping_group_range") {
		t.Fatalf("udp mode error %v does not name ping_group_range (%s)", err, strings.TrimSpace(string(rng)))
	}
	if _, err := New("nope", testLogger(t), ModeAuto); err == nil {
		t.Fatal("unknown engine accepted")
	}
}

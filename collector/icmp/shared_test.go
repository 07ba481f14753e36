package icmp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

func sharedTestLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestChecksumMatchesXNet(t *testing.T) {
	for _, body := range [][]byte{nil, {1}, {1, 2, 3}, make([]byte, 16)} {
		m := xicmp.Message{Type: ipv4.ICMPTypeEcho, Body: &xicmp.Echo{ID: 0x1234, Seq: 0xfedc, Data: body}}
		want, err := m.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := append([]byte(nil), want...)
		got[2], got[3] = 0, 0
		binary.BigEndian.PutUint16(got[2:4], checksum(got))
		if string(got) != string(want) {
			t.Fatalf("checksum over %x: got %x, x/net %x", body, got[2:4], want[2:4])
		}
	}
}

// TestEchoReplyFilter runs the BPF program in x/net's interpreter over packets we must accept and
// drop, as the kernel would.
func TestEchoReplyFilter(t *testing.T) {
	vm, err := bpf.NewVM(echoReplyFilter(0xbeef))
	if err != nil {
		t.Fatal(err)
	}
	pkt := func(ihl int, typ byte, id uint16) []byte {
		b := make([]byte, ihl*4+echoLen)
		b[0] = 0x40 | byte(ihl)
		b[ihl*4] = typ
		binary.BigEndian.PutUint16(b[ihl*4+4:], id)
		return b
	}
	tests := []struct {
		name   string
		pkt    []byte
		accept bool
	}{
		{"our reply", pkt(5, 0, 0xbeef), true},
		{"our reply with IP options", pkt(7, 0, 0xbeef), true},
		{"another pinger's reply", pkt(5, 0, 0xbeee), false},
		{"our own request on loopback", pkt(5, 8, 0xbeef), false},
		{"unreachable", pkt(5, 3, 0xbeef), false},
	}
	for _, tc := range tests {
		n, err := vm.Run(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (n > 0) != tc.accept {
			t.Errorf("%s: filter returned %d, want accept=%v", tc.name, n, tc.accept)
		}
	}
}

func TestSharedStatsCountLateReplies(t *testing.T) {
	e, err := NewShared(sharedTestLog(t), ModeRaw)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	se := e.(*sharedEngine)
	if _, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr("127.0.0.1"), Count: 2, Interval: 10 * time.Millisecond, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if st := se.Stats(); st.Sent != 2 || st.Received != 2 || st.KernelTimed != 2 || st.Late != 0 {
		t.Fatalf("stats %+v: want 2 sent, 2 received and timed by the kernel, none late", st)
	}

	// A reply to an echo nobody waits for, as one arriving after its probe gave up would look. A
	// real late reply depends on timing, so this test writes the reply itself from a second raw
	// socket; loopback delivers it to the engine's socket like any reply.
	inj, err := xicmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	m := xicmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &xicmp.Echo{ID: int(se.v4.id), Seq: 4242, Data: make([]byte, echoPayloadLen)}}
	b, err := m.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inj.WriteTo(b, &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for se.Stats().Late == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := se.Stats(); st.Late != 1 || st.Received != 2 {
		t.Fatalf("stats %+v: want the injected reply counted late and nothing else", st)
	}
}

func TestSharedClosedEngine(t *testing.T) {
	e, err := NewShared(sharedTestLog(t), ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr("127.0.0.1"), Count: 5, Interval: time.Second, Timeout: time.Second})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, errClosed) {
			t.Fatalf("probe during Close returned %v, want errClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("probe still running 5 s after Close")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, a := range []string{"127.0.0.1", "::1"} {
		if _, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr(a)}); !errors.Is(err, errClosed) {
			t.Fatalf("probe of %s after Close returned %v, want errClosed", a, err)
		}
	}
}

// BenchmarkEngineCPU measures what the collector budgets per probe: CPU-seconds (user + system, getrusage of this
// process, which on loopback includes the kernel's work answering the echoes) per 1,000 probes of 3
// echoes, for each engine and, as the ICMP floor, fping on the same addresses. It reports numbers and
// asserts nothing about speed:
//
//	go test -run '^$' -bench EngineCPU -benchtime 1x ./collector/icmp/
func BenchmarkEngineCPU(b *testing.B) {
	engines := []struct {
		name       string
		new        func(*slog.Logger, string) (Engine, error)
		concurrent int // probes in flight, as a scheduler would bound them
	}{
		{"shared", NewShared, 2000},
		{"probing", NewProbing, 200},
	}
	for _, n := range []int{1000, 10000} {
		addrs := make([]netip.Addr, n)
		for i := range addrs {
			addrs[i] = netip.AddrFrom4([4]byte{127, 22, byte(i / 250), byte(1 + i%250)})
		}
		for _, eng := range engines {
			b.Run(fmt.Sprintf("%s/%d", eng.name, n), func(b *testing.B) {
				e, err := eng.new(slog.New(slog.DiscardHandler), ModeRaw)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				var lost atomic.Int64
				before := cpuTime(b)
				start := time.Now()
				for range b.N {
					sem := make(chan struct{}, eng.concurrent)
					var wg sync.WaitGroup
					for _, a := range addrs {
						sem <- struct{}{}
						wg.Add(1)
						go func() {
							defer func() { <-sem; wg.Done() }()
							res, err := e.Probe(context.Background(), Request{Addr: a, Count: 3, Interval: 10 * time.Millisecond, Timeout: time.Second})
							if err != nil || res.Received != 3 {
								lost.Add(1)
							}
						}()
					}
					wg.Wait()
				}
				cpu := cpuTime(b) - before
				probes := float64(b.N * n)
				b.ReportMetric(cpu.Seconds()/probes*1000, "cpu-s/1000probes")
				b.ReportMetric(float64(lost.Load()), "probes-with-loss")
				b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "wall-s/round")
			})
		}
		b.Run(fmt.Sprintf("fping/%d", n), func(b *testing.B) {
			args := []string{"-q", "-c", "3", "-p", "10", "-i", "1"}
			for _, a := range addrs {
				args = append(args, a.String())
			}
			var cpu time.Duration
			for range b.N {
				cmd := exec.Command("fping", args...)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("fping: %v: %.500s", err, out)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N*n)*1000, "cpu-s/1000probes")
		})
	}
}

// cpuTime is this process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package icmp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"

	"github.com/wardops/wardops/internal/testenv"
)

// IPv6 tests of the shared engine. Traffic goes only to ::1 and to ULA addresses inside network
// namespaces the tests create: a "probe" namespace where the engine runs (the test binary
// re-executed with ip netns exec) and a "device" namespace behind a veth pair, so echoes cross a
// real interface with neighbour discovery, yet nothing leaves the machine.

// sharedV6Env marks the re-executed test binary; its value names the child test to run.
const sharedV6Env = "WARDOPS_ICMP_V6_NETNS"

// The ULA prefix used inside the test namespaces; it is never configured outside them.
const (
	v6Prober  = "fd57:6172:646f::1" // the probe namespace's end of the veth pair
	v6DevA    = "fd57:6172:646f::2" // device namespace: answers
	v6DevB    = "fd57:6172:646f::3" // device namespace: answers
	v6DevDead = "fd57:6172:646f::9" // device namespace: its input hook drops everything to it
)

// requireIPv6 fails the test (never skips, CI or not) when the kernel has no IPv6 or it is
// disabled on loopback.
func requireIPv6(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/lo/disable_ipv6")
	if err != nil {
		t.Fatalf("IPv6 is required (boot without ipv6.disable=1): %v", err)
	}
	if strings.TrimSpace(string(b)) != "0" {
		t.Fatal("IPv6 is required on lo: sysctl -w net.ipv6.conf.lo.disable_ipv6=0")
	}
}

// checkRTT fails when a healthy probe's round-trip statistics are not ordered or not plausible for
// a target on this machine.
func checkRTT(t *testing.T, what string, res Result) {
	t.Helper()
	if res.Min <= 0 || res.Min > res.Avg || res.Avg > res.Max || res.StdDev < 0 || res.Max > 500*time.Millisecond {
		t.Errorf("%s: rtt min %v avg %v max %v stddev %v, want 0 < min <= avg <= max < 500ms", what, res.Min, res.Avg, res.Max, res.StdDev)
	}
}

func TestSharedIPv6Loopback(t *testing.T) {
	requireIPv6(t)
	e, err := newShared(sharedTestLog(t), ModeRaw, xicmp.ListenPacket)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.v6 == nil {
		t.Fatalf("no ICMPv6 socket on a host with IPv6: %v", e.v6Err)
	}
	before := time.Now()
	res := probeOK(t, e, netip.MustParseAddr("::1"), 5)
	if res.Sent != 5 || res.Received != 5 || res.Loss() != 0 {
		t.Errorf("::1: sent %d received %d loss %v, want 5/5/0", res.Sent, res.Received, res.Loss())
	}
	checkRTT(t, "::1", res)
	if res.Start.Before(before) || res.Start.After(time.Now()) {
		t.Errorf("::1: start %v outside the probe", res.Start)
	}
	want := SharedStats{Sent: 5, Received: 5, KernelTimed: 5}
	if st := e.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestEchoReplyFilter6 runs the ICMPv6 BPF program in x/net's interpreter.
func TestEchoReplyFilter6(t *testing.T) {
	vm, err := bpf.NewVM(echoReplyFilter6(0xbeef))
	if err != nil {
		t.Fatal(err)
	}
	pkt := func(typ ipv6.ICMPType, id uint16) []byte {
		b := make([]byte, echoLen)
		b[0] = byte(typ)
		binary.BigEndian.PutUint16(b[4:], id)
		return b
	}
	tests := []struct {
		name   string
		pkt    []byte
		accept bool
	}{
		{"our reply", pkt(ipv6.ICMPTypeEchoReply, 0xbeef), true},
		{"another pinger's reply", pkt(ipv6.ICMPTypeEchoReply, 0xbeee), false},
		{"our own request on loopback", pkt(ipv6.ICMPTypeEchoRequest, 0xbeef), false},
		{"unreachable", pkt(ipv6.ICMPTypeDestinationUnreachable, 0xbeef), false},
		{"neighbour advertisement", pkt(ipv6.ICMPTypeNeighborAdvertisement, 0xbeef), false},
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

// TestEchoReplyFilter6InKernel checks what the interpreter cannot: that Linux runs a raw ICMPv6
// socket's BPF program on the ICMPv6 message at offset 0. A second raw socket writes echo messages
// to ::1; the filtered socket must see exactly the replies with our id.
func TestEchoReplyFilter6InKernel(t *testing.T) {
	requireIPv6(t)
	const id = 0x5a5a
	s, err := openSock(sharedTestLog(t), xicmp.ListenPacket, true, true, id)
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	inj, err := xicmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	write := func(typ ipv6.ICMPType, id, seq int) {
		t.Helper()
		m := xicmp.Message{Type: typ, Body: &xicmp.Echo{ID: id, Seq: seq, Data: make([]byte, echoPayloadLen)}}
		b, err := m.Marshal(nil) // the kernel fills in the ICMPv6 checksum
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inj.WriteTo(b, &net.IPAddr{IP: net.IPv6loopback}); err != nil {
			t.Fatal(err)
		}
	}
	write(ipv6.ICMPTypeEchoReply, id, 1)
	write(ipv6.ICMPTypeEchoReply, id^1, 2) // another pinger's reply: BPF drops it
	// A request with our id: the filters drop it, but the kernel answers it with a reply that
	// carries our id and sequence 3, which must come through.
	write(ipv6.ICMPTypeEchoRequest, id, 3)
	write(ipv6.ICMPTypeEchoReply, id, 4)

	var seqs []int
	buf := make([]byte, 1500)
	// Loopback delivers at once; the deadline only bounds the wait for packets that must not come.
	_ = s.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
		m, err := xicmp.ParseMessage(58, buf[:n])
		if err != nil {
			t.Fatalf("cannot parse %x: %v", buf[:n], err)
		}
		echo, ok := m.Body.(*xicmp.Echo)
		if !ok || m.Type != ipv6.ICMPTypeEchoReply || echo.ID != id {
			t.Errorf("filter let through %v %+v", m.Type, m.Body)
			continue
		}
		seqs = append(seqs, echo.Seq)
	}
	slices.Sort(seqs)
	if fmt.Sprint(seqs) != "[1 3 4]" {
		t.Errorf("filtered socket got sequence numbers %v, want [1 3 4]", seqs)
	}
}

// TestSharedIPv6ReplyToIPv4Echo sends, while an IPv4 echo waits for its reply, an ICMPv6 reply
// carrying that echo's id, sequence number and nonce: one sequence space serves both families, so
// only the remembered destination keeps it from being credited to the IPv4 probe.
func TestSharedIPv6ReplyToIPv4Echo(t *testing.T) {
	requireIPv6(t)
	e, err := newShared(sharedTestLog(t), ModeRaw, xicmp.ListenPacket)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	testenv.DropTraffic(t, "127.20.9.7", testenv.HookInput)
	done := make(chan Result, 1)
	go func() {
		res, _ := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr("127.20.9.7"), Count: 1, Timeout: 2 * time.Second})
		done <- res
	}()
	var seq uint16
	var nonce uint64
	for deadline := time.Now().Add(2 * time.Second); ; {
		e.mu.Lock()
		for s, ec := range e.inflight {
			seq, nonce = s, ec.nonce
		}
		n := len(e.inflight)
		e.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d echoes in flight, want 1", n)
		}
		time.Sleep(time.Millisecond)
	}
	inj, err := xicmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	data := make([]byte, echoPayloadLen)
	binary.LittleEndian.PutUint64(data, nonce)
	m := xicmp.Message{Type: ipv6.ICMPTypeEchoReply, Body: &xicmp.Echo{ID: int(e.v6.id), Seq: int(seq), Data: data}}
	b, err := m.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inj.WriteTo(b, &net.IPAddr{IP: net.IPv6loopback}); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.Sent != 1 || res.Received != 0 {
		t.Errorf("IPv4 probe: sent %d received %d, want 1 and 0", res.Sent, res.Received)
	}
	if st := e.Stats(); st.Late != 1 || st.Received != 0 {
		t.Errorf("stats %+v: want the IPv6 reply counted late and nothing received", st)
	}
}

// TestSharedWithoutIPv6 starts the engine where no ICMPv6 socket can be opened, as on a kernel
// booted with ipv6.disable=1 (socket(2) fails with EAFNOSUPPORT there; the listen seam does the
// same here): IPv4 probes work, IPv6 probes fail at once with ErrNoIPv6.
func TestSharedWithoutIPv6(t *testing.T) {
	listen := func(network, address string) (*xicmp.PacketConn, error) {
		if strings.HasSuffix(network, "6") || strings.HasPrefix(network, "ip6") {
			return nil, syscall.EAFNOSUPPORT
		}
		return xicmp.ListenPacket(network, address)
	}
	for _, mode := range []string{ModeRaw, ModeAuto} {
		t.Run(mode, func(t *testing.T) {
			e, err := newShared(sharedTestLog(t), mode, listen)
			if err != nil {
				t.Fatalf("engine did not start without IPv6: %v", err)
			}
			defer e.Close()
			if res := probeOK(t, e, netip.MustParseAddr("127.0.0.1"), 2); res.Received != 2 {
				t.Errorf("127.0.0.1: received %d of 2", res.Received)
			}
			start := time.Now()
			res, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr("::1"), Count: 3, Interval: time.Second})
			if !errors.Is(err, ErrNoIPv6) || !errors.Is(err, syscall.EAFNOSUPPORT) || !strings.Contains(err.Error(), "::1") {
				t.Errorf("IPv6 probe returned %v, want ErrNoIPv6 wrapping EAFNOSUPPORT, naming ::1", err)
			}
			if res.Sent != 0 || time.Since(start) > 100*time.Millisecond {
				t.Errorf("IPv6 probe sent %d echoes and took %v, want none and at once", res.Sent, time.Since(start))
			}
		})
	}
}

// TestSharedIPv6Netns builds the two namespaces and runs the child tests inside the probe one.
func TestSharedIPv6Netns(t *testing.T) {
	if os.Getenv(sharedV6Env) != "" {
		return // the child tests below do the work
	}
	requireIPv6(t)
	testenv.LookBinary(t, "ip", "iproute2")
	testenv.LookBinary(t, "nft", "nftables")
	suffix := randSuffix(t)
	probeNS, devNS := "wardops-v6p-"+suffix, "wardops-v6d-"+suffix
	for _, ns := range []string{probeNS, devNS} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("cannot delete netns %s: %v: %s", ns, err, out)
			}
		})
	}
	// The veth pair is created with both ends already in the test's namespaces: no interface or
	// address ever appears in the host's.
	vp, vd := "wv6p"+suffix, "wv6d"+suffix
	run(t, "ip", "link", "add", "name", vp, "netns", probeNS, "type", "veth", "peer", "name", vd, "netns", devNS)
	for _, c := range [][]string{
		{"-n", probeNS, "link", "set", "lo", "up"},
		{"-n", probeNS, "addr", "add", v6Prober + "/64", "dev", vp, "nodad"},
		{"-n", probeNS, "link", "set", vp, "up"},
		{"-n", devNS, "link", "set", "lo", "up"},
		{"-n", devNS, "addr", "add", v6DevA + "/64", "dev", vd, "nodad"},
		{"-n", devNS, "addr", "add", v6DevB + "/64", "dev", vd, "nodad"},
		{"-n", devNS, "addr", "add", v6DevDead + "/64", "dev", vd, "nodad"},
		{"-n", devNS, "link", "set", vd, "up"},
	} {
		run(t, "ip", c...)
	}
	// A veth end passes nothing until the kernel has processed its carrier change, which it may
	// defer by up to a second; a neighbour solicitation sent before that is lost and retried a
	// second later, and the first probe would measure that second.
	waitLinkUp(t, probeNS, vp)
	waitLinkUp(t, devNS, vd)
	// The dead device: its namespace's input hook drops every packet to it, as a powered-off
	// device would ignore the echo.
	for _, c := range [][]string{
		{"add", "table", "inet", "wardops_test"},
		{"add", "chain", "inet", "wardops_test", "in", "{ type filter hook input priority 0 ; policy accept ; }"},
		{"add", "rule", "inet", "wardops_test", "in", "ip6", "daddr", v6DevDead, "drop"},
	} {
		run(t, "ip", append([]string{"netns", "exec", devNS, "nft"}, c...)...)
	}
	// Datagram ICMP sockets need the group range; it is per namespace, so the host keeps its own.
	run(t, "ip", "netns", "exec", probeNS, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647")

	// A namespace with IPv6 switched off: no ::1 on its loopback.
	offNS := "wardops-v6off-" + suffix
	run(t, "ip", "netns", "add", offNS)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", offNS).CombinedOutput(); err != nil {
			t.Errorf("cannot delete netns %s: %v: %s", offNS, err, out)
		}
	})
	for _, c := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"},
		{"sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"},
		{"sysctl", "-q", "-w", "net.ipv6.conf.lo.disable_ipv6=1"},
		{"sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"},
		{"ip", "link", "set", "lo", "up"},
	} {
		run(t, "ip", append([]string{"netns", "exec", offNS}, c...)...)
	}

	for _, child := range []struct{ ns, test string }{
		{probeNS, "TestSharedIPv6InProbeNetns"},
		{offNS, "TestSharedIPv6DisabledNetns"},
	} {
		t.Run(child.test, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ip", "netns", "exec", child.ns, os.Args[0], "-test.run=^"+child.test+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), sharedV6Env+"="+child.test)
			out, err := cmd.CombinedOutput()
			t.Logf("inside %s:\n%s", child.ns, out)
			if err != nil {
				t.Fatalf("%s failed: %v", child.test, err)
			}
			// A child that matched no test would pass silently: insist it ran.
			if !strings.Contains(string(out), "--- PASS: "+child.test) {
				t.Fatalf("%s did not run in %s", child.test, child.ns)
			}
		})
	}
}

// inChild reports whether this is the binary TestSharedIPv6Netns re-executed to run test name
// inside its namespace. Anywhere else the child tests do nothing: their namespace is not there.
func inChild(name string) bool {
	return os.Getenv(sharedV6Env) == name
}

// TestSharedIPv6InProbeNetns runs inside the probe namespace, in both socket modes.
func TestSharedIPv6InProbeNetns(t *testing.T) {
	if !inChild("TestSharedIPv6InProbeNetns") {
		return
	}
	for _, mode := range []string{ModeRaw, ModeUDP} {
		t.Run(mode, func(t *testing.T) {
			t.Run("reachable", func(t *testing.T) { checkV6Reachable(t, mode) })
			t.Run("unreachable", func(t *testing.T) { checkV6Unreachable(t, mode) })
			t.Run("mixed batch", func(t *testing.T) { checkMixedBatch(t, mode) })
		})
	}
}

func newV6Engine(t *testing.T, mode string) *sharedEngine {
	t.Helper()
	e, err := newShared(sharedTestLog(t), mode, xicmp.ListenPacket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if e.v6 == nil {
		t.Fatalf("no ICMPv6 socket in %s mode: %v", mode, e.v6Err)
	}
	return e
}

func checkV6Reachable(t *testing.T, mode string) {
	e := newV6Engine(t, mode)
	addrs := []string{v6DevA, v6DevB, v6Prober, "::1"}
	for _, a := range addrs {
		res := probeOK(t, e, netip.MustParseAddr(a), 3)
		if res.Sent != 3 || res.Received != 3 || res.Loss() != 0 {
			t.Errorf("%s: sent %d received %d loss %v, want 3/3/0", a, res.Sent, res.Received, res.Loss())
		}
		checkRTT(t, a, res)
	}
	n := uint64(3 * len(addrs))
	if st := e.Stats(); st != (SharedStats{Sent: n, Received: n, KernelTimed: n}) {
		t.Errorf("stats %+v, want %d sent, received and kernel-timed, nothing else", st, n)
	}
}

func checkV6Unreachable(t *testing.T, mode string) {
	e := newV6Engine(t, mode)
	req := Request{Addr: netip.MustParseAddr(v6DevDead), Count: 3, Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}
	start := time.Now()
	res, err := e.Probe(context.Background(), req)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("probe of a silent device returned an error, want loss: %v", err)
	}
	if res.Sent != 3 || res.Received != 0 || res.Loss() != 1 || res.Avg != 0 {
		t.Errorf("sent %d received %d loss %v avg %v, want 3/0/1/0", res.Sent, res.Received, res.Loss(), res.Avg)
	}
	if limit := 2*req.Interval + req.Timeout + 2*time.Second; took > limit {
		t.Errorf("probe of a silent device took %v, want under %v", took, limit)
	}
	if st := e.Stats(); st != (SharedStats{Sent: 3}) {
		t.Errorf("stats %+v, want 3 sent and nothing else", st)
	}
}

// checkMixedBatch probes IPv4 and IPv6 targets at once on one engine, as a scheduler window would.
func checkMixedBatch(t *testing.T, mode string) {
	e := newV6Engine(t, mode)
	const count = 5
	targets := []struct {
		addr string
		want int
	}{
		{"127.0.0.1", count}, {"127.0.0.2", count}, {"127.1.2.3", count}, {"::ffff:127.0.0.4", count},
		{"::1", count}, {v6Prober, count}, {v6DevA, count}, {v6DevB, count},
		{v6DevDead, 0},
	}
	var wg sync.WaitGroup
	results := make([]Result, len(targets))
	errs := make([]error, len(targets))
	for rep := range 3 { // several probes per target, so sequence numbers interleave across families
		for i, tg := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr(tg.addr), Count: count, Interval: 20 * time.Millisecond, Timeout: time.Second})
				if rep == 0 {
					results[i], errs[i] = res, err
				} else if err != nil || res.Sent != count || res.Received != tg.want {
					t.Errorf("%s, probe %d: sent %d received %d err %v, want %d/%d", tg.addr, rep, res.Sent, res.Received, err, count, tg.want)
				}
			}()
		}
	}
	wg.Wait()
	var sent, received uint64
	for i, tg := range targets {
		res := results[i]
		if errs[i] != nil || res.Sent != count || res.Received != tg.want {
			t.Errorf("%s: sent %d received %d err %v, want %d/%d", tg.addr, res.Sent, res.Received, errs[i], count, tg.want)
		}
		if tg.want > 0 {
			checkRTT(t, tg.addr, res)
		}
		sent += uint64(3 * count)
		received += uint64(3 * tg.want)
	}
	want := SharedStats{Sent: sent, Received: received, KernelTimed: received}
	if st := e.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestSharedIPv6DisabledNetns runs inside a namespace with IPv6 switched off: the engine starts, its
// IPv4 probes work, and an IPv6 probe returns an error naming the target instead of hanging or
// reporting a dead device.
func TestSharedIPv6DisabledNetns(t *testing.T) {
	if !inChild("TestSharedIPv6DisabledNetns") {
		return
	}
	for _, mode := range []string{ModeRaw, ModeUDP} {
		t.Run(mode, func(t *testing.T) {
			e, err := newShared(sharedTestLog(t), mode, xicmp.ListenPacket)
			if err != nil {
				t.Fatalf("engine did not start with IPv6 disabled: %v", err)
			}
			defer e.Close()
			if res := probeOK(t, e, netip.MustParseAddr("127.0.0.1"), 2); res.Received != 2 {
				t.Errorf("127.0.0.1: received %d of 2", res.Received)
			}
			res, err := e.Probe(context.Background(), Request{Addr: netip.MustParseAddr("::1"), Count: 2, Interval: 10 * time.Millisecond, Timeout: time.Second})
			t.Logf("IPv6 probe with IPv6 disabled: %v", err)
			if err == nil || !strings.Contains(err.Error(), "::1") {
				t.Errorf("IPv6 probe returned %v, want an error naming ::1", err)
			}
			if res.Sent != 0 || res.Received != 0 {
				t.Errorf("IPv6 probe: sent %d received %d, want 0 and 0", res.Sent, res.Received)
			}
			if st := e.Stats(); st.Sent != 2 || st.Received != 2 || st.SendErrors != 2 {
				t.Errorf("stats %+v, want the 2 IPv4 echoes sent and received and 2 IPv6 send errors", st)
			}
		})
	}
}

// waitLinkUp waits until dev in namespace ns reports operational state UP.
func waitLinkUp(t *testing.T, ns, dev string) {
	t.Helper()
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		out, err = exec.Command("ip", "-n", ns, "-o", "link", "show", "dev", dev).CombinedOutput()
		if err != nil {
			t.Fatalf("ip -n %s link show dev %s: %v: %s", ns, dev, err, out)
		}
		if strings.Contains(string(out), "state UP") {
			return
		}
	}
	t.Fatalf("%s in %s not up after 10 s: %s", dev, ns, out)
}

func randSuffix(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

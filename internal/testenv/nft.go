package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Hooks for DropTraffic. On "output" the kernel refuses the send (EPERM), which a prober sees as an
// unreachable device at once; on "input" the echo request is lost as if the device were dead, and
// the prober waits out its timeout.
const (
	HookOutput = "output"
	HookInput  = "input"
)

// DropTraffic silences addr (which must be in 127.0.0.0/8 or a test's own namespace) with a drop
// rule in an nftables table of its own on hook. The returned func, also run at cleanup, deletes the
// table; calling it twice is harmless.
func DropTraffic(t testing.TB, addr, hook string) (restore func()) {
	t.Helper()
	return nftDrop(t, hook, "ip", "daddr", addr, "drop")
}

// EchoSeq picks echo requests by their ICMP sequence number s: those with s&Mask == Value, or,
// with Not, those with s&Mask != Value. Mask 3 and Value 0 pick one echo in four, whatever the
// first sequence number, as long as a probe's echoes carry consecutive numbers.
type EchoSeq struct {
	Mask, Value uint16
	Not         bool
}

// DropEchoes drops the echo requests to addr (in 127.0.0.0/8 or a test's own namespace) that sel
// picks, on the input hook, so the prober counts them sent and waits for replies that never come:
// a device that loses some echoes and answers the others, with real packets. The returned func,
// also run at cleanup, deletes the rule's table.
func DropEchoes(t testing.TB, addr string, sel EchoSeq) (restore func()) {
	t.Helper()
	op := "=="
	if sel.Not {
		op = "!="
	}
	return nftDrop(t, HookInput, "ip", "daddr", addr, "icmp", "type", "echo-request",
		"icmp", "sequence", "&", strconv.Itoa(int(sel.Mask)), op, strconv.Itoa(int(sel.Value)), "drop")
}

// nftDrop adds rule to a chain on hook in a new nftables table of its own and returns the func
// that deletes the table.
func nftDrop(t testing.TB, hook string, rule ...string) (restore func()) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatalf("nft is required: apt-get install -y nftables")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	table := "wardops_test_" + hex.EncodeToString(b)
	nft := func(args ...string) error {
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := nft("add", "table", "inet", table); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := nft("delete", "table", "inet", table); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(restore)
	if err := nft("add", "chain", "inet", table, "c", "{ type filter hook "+hook+" priority 0 ; policy accept ; }"); err != nil {
		t.Fatal(err)
	}
	if err := nft(append([]string{"add", "rule", "inet", table, "c"}, rule...)...); err != nil {
		t.Fatal(err)
	}
	return restore
}

// CutTCP drops, on the input hook, every TCP segment sent to addr:port (addr in 127.0.0.0/8): the
// client's connections to that address hang, with no refusal and no reset, as behind a cut link,
// while the same server stays reachable at its other addresses. The returned func, also run at
// cleanup, deletes the rule's table.
func CutTCP(t testing.TB, addr string, port int) (restore func()) {
	t.Helper()
	return nftDrop(t, HookInput, "ip", "daddr", addr, "tcp", "dport", strconv.Itoa(port), "drop")
}

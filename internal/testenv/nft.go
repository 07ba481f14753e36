package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
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
	if err := nft("add", "rule", "inet", table, "c", "ip", "daddr", addr, "drop"); err != nil {
		t.Fatal(err)
	}
	return restore
}

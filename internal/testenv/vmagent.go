package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// VMAgent is a vmagent process of one test's own.
type VMAgent struct {
	URL string // http://127.0.0.1:port
}

// StartVMAgent starts vmagent (Debian's victoria-metrics package) on a free loopback port with
// its persistent queue in a temp dir and args added (the -remoteWrite.* targets), waits until it
// answers and kills it at cleanup.
func StartVMAgent(t testing.TB, args ...string) *VMAgent {
	t.Helper()
	bin := LookBinary(t, "vmagent", "victoria-metrics")
	port := FreePort(t)
	a := &VMAgent{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	cmd := exec.Command(bin, append([]string{"-httpListenAddr", fmt.Sprintf("127.0.0.1:%d", port),
		"-remoteWrite.tmpDataPath", t.TempDir(), "-loggerLevel", "WARN"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start vmagent: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(a.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return a
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vmagent did not answer on %s", a.URL)
	return nil
}

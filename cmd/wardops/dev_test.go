package main

import (
	"encoding/json"
	"fmt"
	"github.com/wardops/wardops/internal/seal"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
)

// TestMain lets a test re-run this binary as `wardops` itself: with WARDOPS_TEST_MAIN=1 the
// arguments go to run() instead of the test framework.
func TestMain(m *testing.M) {
	if os.Getenv("WARDOPS_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Every command run by these tests, in-process or as a child, seals SNMP secrets under one
	// fresh key, as a production deployment does under its key file.
	if os.Getenv("WARDOPS_SECRET_KEY") == "" && os.Getenv("WARDOPS_SECRET_KEY_FILE") == "" {
		e, err := seal.NewEntry("cmdtest")
		if err != nil {
			panic(err)
		}
		os.Setenv("WARDOPS_SECRET_KEY", e)
	}
	os.Exit(m.Run())
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestDevBringsUpHealthyDemo is `make run` as a newcomer meets it: private PostgreSQL and
// VictoriaMetrics under ./var, the demo fleet, every component, health answering healthy, and
// everything stopped cleanly on Ctrl-C (SIGINT).
func TestDevBringsUpHealthyDemo(t *testing.T) {
	testenv.LookBinary(t, "victoria-metrics", "victoria-metrics")
	dir := t.TempDir()
	// As root the private cluster runs as postgres, which must reach ./var (t.TempDir's parent is 0700).
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(os.Args[0], "dev")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WARDOPS_TEST_MAIN=1", "WARDOPS_DATABASE_URL=", "WARDOPS_VM_URL=",
		"WARDOPS_LISTEN="+listen,
		fmt.Sprintf("WARDOPS_COLLECTOR_LISTEN=127.0.0.1:%d", testenv.FreePort(t)),
		fmt.Sprintf("WARDOPS_DEV_PG_PORT=%d", testenv.FreePort(t)),
		fmt.Sprintf("WARDOPS_DEV_VM_PORT=%d", testenv.FreePort(t)),
		fmt.Sprintf("WARDOPS_SIM_PORT=%d", freeUDPPort(t)),
		"WARDOPS_DEV_DEVICES=60", "WARDOPS_PING_INTERVAL=5s")
	logf, err := os.Create(filepath.Join(dir, "dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "dev.log"))
			t.Logf("dev output:\n%s", b)
		}
	})

	var health map[string]any
	var totals struct {
		Totals struct{ Devices, Up int } `json:"totals"`
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("demo not healthy with every device up within 120 s: health %v, totals %+v", health, totals.Totals)
		}
		select {
		case err := <-exited:
			t.Fatalf("wardops dev exited early: %v", err)
		case <-time.After(time.Second):
		}
		if getJSON("http://"+listen+"/api/v1/health", &health) != http.StatusOK || health["status"] != "healthy" {
			continue
		}
		if getJSON("http://"+listen+"/api/v1/dashboard", &totals) == http.StatusOK && totals.Totals.Devices == 60 && totals.Totals.Up == 60 {
			break
		}
	}
	out, _ := os.ReadFile(filepath.Join(dir, "dev.log"))
	if !strings.Contains(string(out), "http://"+listen+"/") {
		t.Errorf("the NOC page URL is not printed")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("wardops dev did not exit cleanly on SIGINT: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("wardops dev did not stop within 60 s of SIGINT")
	}
	// The private servers are gone too.
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(dir, "var")).Output(); len(out) > 0 {
		t.Fatalf("children still running after exit: %s", out)
	}
}

func getJSON(url string, v any) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode
}

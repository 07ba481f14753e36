package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// AM is an Alertmanager started for one test.
type AM struct {
	URL  string
	Port int
}

// Alertmanager starts Debian's prometheus-alertmanager with config (YAML) on port (0: a free
// one) of 127.0.0.1, clustering off, and stops it at cleanup.
func Alertmanager(t testing.TB, port int, config string) *AM {
	t.Helper()
	bin := LookBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	if port == 0 {
		port = FreePort(t)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start alertmanager: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("alertmanager log:\n%s", b)
		}
	})
	am := &AM{URL: "http://" + addr, Port: port}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return am
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("alertmanager exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Get fetches path from Alertmanager and returns the body, failing the test on a non-200.
func (am *AM) Get(t testing.TB, path string) []byte {
	t.Helper()
	resp, err := http.Get(am.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}

// String is the Alertmanager's base URL.
func (am *AM) String() string { return fmt.Sprintf("alertmanager %s", am.URL) }

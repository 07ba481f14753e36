package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// AM is a real Alertmanager (Debian prometheus-alertmanager) started for one test, clustering
// off, routing every alert in a group of its own to one webhook with send_resolved, group_wait
// GroupWait and group_interval 1s, so a receiver sees each transition within seconds.
type AM struct {
	URL       string
	Port      int
	GroupWait time.Duration
	t         testing.TB
	bin       string
	args      []string
	logPath   string
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has been waited for
}

// Alertmanager starts one on a free loopback port, routing every alert to webhookURL, and stops it
// at cleanup.
func Alertmanager(t testing.TB, webhookURL string) *AM {
	t.Helper()
	return AlertmanagerWithConfig(t, 0, fmt.Sprintf(`route:
  receiver: hook
  group_by: ['...']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 12h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, webhookURL))
}

// AlertmanagerWithConfig starts one with config (YAML) on port (0: a free one), for tests that
// need their own receivers or must know the URL before the config is written.
func AlertmanagerWithConfig(t testing.TB, port int, config string) *AM {
	t.Helper()
	bin := LookBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if port == 0 {
		port = FreePort(t)
	}
	am := &AM{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Port: port, GroupWait: time.Second, t: t, bin: bin, args: []string{
		"--config.file=" + filepath.Join(dir, "am.yml"),
		"--storage.path=" + filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--cluster.listen-address=",
		"--log.level=warn",
	}, logPath: filepath.Join(dir, "alertmanager.log")}
	am.Start()
	t.Cleanup(am.Stop)
	return am
}

// Get fetches path from Alertmanager and returns the body, failing the test on a non-200.
func (am *AM) Get(t testing.TB, path string) []byte {
	t.Helper()
	resp, err := http.Get(am.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}

// Start starts (or restarts) it on the same port and storage and waits until it is ready.
func (am *AM) Start() {
	am.t.Helper()
	logf, err := os.OpenFile(am.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		am.t.Fatal(err)
	}
	defer logf.Close()
	am.cmd = exec.Command(am.bin, am.args...)
	am.cmd.Stdout, am.cmd.Stderr = logf, logf
	if err := am.cmd.Start(); err != nil {
		am.t.Fatalf("cannot start prometheus-alertmanager: %v", err)
	}
	exited := make(chan struct{})
	am.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(am.cmd)
	// Generous: on a 2-core machine running other tests Alertmanager has taken over 20 s to start.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(am.logPath)
			am.t.Fatalf("prometheus-alertmanager exited at start:\n%s", out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	out, _ := os.ReadFile(am.logPath)
	am.t.Fatalf("prometheus-alertmanager did not become ready on %s in 60 s:\n%s", am.URL, out)
}

// Stop shuts it down as an operator would (SIGTERM: it saves its notification log, so after a
// restart it knows what it already sent) and waits, killing it after 10 s.
func (am *AM) Stop() {
	if am.cmd == nil || am.cmd.Process == nil {
		return
	}
	_ = am.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-am.exited:
	case <-time.After(10 * time.Second):
		_ = am.cmd.Process.Kill()
		<-am.exited
	}
	am.cmd = nil
}

// AMAlert is an alert as Alertmanager's GET /api/v2/alerts lists it.
type AMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds as active (silenced and inhibited ones too).
func (am *AM) Alerts() ([]AMAlert, error) {
	resp, err := http.Get(am.URL + "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /api/v2/alerts: %s", resp.Status)
	}
	var out []AMAlert
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

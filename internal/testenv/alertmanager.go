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
	GroupWait time.Duration
	t         testing.TB
	bin       string
	args      []string
	cmd       *exec.Cmd
}

// Alertmanager starts one on a free loopback port and stops it at cleanup.
func Alertmanager(t testing.TB, webhookURL string) *AM {
	t.Helper()
	bin := LookBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
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
`, webhookURL)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	am := &AM{URL: fmt.Sprintf("http://127.0.0.1:%d", port), GroupWait: time.Second, t: t, bin: bin, args: []string{
		"--config.file=" + filepath.Join(dir, "am.yml"),
		"--storage.path=" + filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--cluster.listen-address=",
		"--log.level=warn",
	}}
	am.Start()
	t.Cleanup(am.Stop)
	return am
}

// Start starts (or restarts) it on the same port and storage and waits until it is ready.
func (am *AM) Start() {
	am.t.Helper()
	am.cmd = exec.Command(am.bin, am.args...)
	am.cmd.Stdout, am.cmd.Stderr = io.Discard, io.Discard
	if err := am.cmd.Start(); err != nil {
		am.t.Fatalf("cannot start prometheus-alertmanager: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	am.t.Fatalf("prometheus-alertmanager did not become ready on %s", am.URL)
}

// Stop shuts it down as an operator would (SIGTERM: it saves its notification log, so after a
// restart it knows what it already sent) and waits, killing it after 10 s.
func (am *AM) Stop() {
	if am.cmd == nil || am.cmd.Process == nil {
		return
	}
	_ = am.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = am.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = am.cmd.Process.Kill()
		<-done
	}
	am.cmd = nil
}

// AMAlert is an alert as Alertmanager's GET /api/v2/alerts lists it.
type AMAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
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

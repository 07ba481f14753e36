package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/sim"
)

// Known secrets of the sweep's fleet: what must appear nowhere but in the SNMP packets themselves.
const (
	sweepCommunity = "sweep-community-6b1f93"
	sweepAuthKey   = "sweep-auth-passphrase-c27e"
	sweepPrivKey   = "sweep-priv-passphrase-9d04"
)

// TestSecretsSweep runs a fleet with a known community and v3 passphrases through `wardops
// import` and `wardops run` at debug level against real PostgreSQL, VictoriaMetrics and the SNMP
// simulator, then greps every API answer, the NOC page, both /metrics, every VictoriaMetrics series
// and label, every log line and the output of a crash (SIGQUIT's goroutine dump) for the secrets,
// plainly and base64-encoded. None may appear. (The panic path of a request is swept in the query
// package: TestPanicPathRedactsSecrets.)
func TestSecretsSweep(t *testing.T) {
	dbURL := testenv.Database(t)
	vm := testenv.VictoriaMetrics(t)
	simPort := freeUDPPort(t)
	base := netip.MustParseAddr("127.24.0.1")
	addrs, err := sim.Range(base, 4)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := sim.Start(sim.Options{Addrs: addrs, Port: simPort, Community: sweepCommunity, Interfaces: 4,
		V3: &sim.V3User{Username: "sweep", AuthProtocol: "SHA", AuthKey: sweepAuthKey, PrivProtocol: "AES", PrivKey: sweepPrivKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fl.Close() })
	var inv strings.Builder
	fmt.Fprintf(&inv, "credentials:\n  - {name: core-v3, version: \"3\", username: sweep, auth_protocol: SHA, auth_key: %s, priv_protocol: AES, priv_key: %s}\ndevices:\n", sweepAuthKey, sweepPrivKey)
	for i, a := range addrs {
		if i%2 == 0 {
			fmt.Fprintf(&inv, "  - {branch: sweep, name: sw-%d, ip: %s, snmp_version: 2c, snmp_community: %s, snmp_port: %d, snmp_profiles: [system, if-mib]}\n", i, a, sweepCommunity, simPort)
		} else {
			fmt.Fprintf(&inv, "  - {branch: sweep, name: sw-%d, ip: %s, snmp_version: \"3\", snmp_credential: core-v3, snmp_port: %d, snmp_profiles: [system, if-mib]}\n", i, a, simPort)
		}
	}
	// Two devices no agent answers (an unused loopback address), so the poller's failure path logs
	// at debug level with the community and the v3 keys in hand.
	fmt.Fprintf(&inv, "  - {branch: sweep, name: sw-dead-v2, ip: 127.24.1.1, snmp_version: 2c, snmp_community: %s, snmp_port: %d, snmp_profiles: [system]}\n", sweepCommunity, simPort)
	fmt.Fprintf(&inv, "  - {branch: sweep, name: sw-dead-v3, ip: 127.24.1.2, snmp_version: \"3\", snmp_credential: core-v3, snmp_port: %d, snmp_profiles: [system]}\n", simPort)
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(fleet, []byte(inv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARDOPS_DATABASE_URL", dbURL)
	t.Setenv("WARDOPS_LOG_LEVEL", "debug")
	var logs bytes.Buffer
	for _, args := range [][]string{{"migrate"}, {"import", fleet}} {
		var out bytes.Buffer
		if code := run(args, &out, &logs); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, logs.String())
		}
		logs.Write(out.Bytes())
	}

	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	collectorListen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env = append(os.Environ(), "WARDOPS_TEST_MAIN=1", "WARDOPS_VM_URL="+vm.URL, "WARDOPS_LISTEN="+listen,
		"WARDOPS_COLLECTOR_LISTEN="+collectorListen, "WARDOPS_DATA_DIR="+filepath.Join(dir, "data"),
		"WARDOPS_PING_INTERVAL=5s", "WARDOPS_SNMP_INTERVAL=5s", "WARDOPS_CACHE_TTL=1s", "GOTRACEBACK=all")
	var runLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &runLog, &runLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	get := func(u string) string {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			c.Close()
			// Wait for SNMP samples of both versions in VictoriaMetrics: the secrets have been used.
			body := get(vm.URL + "/api/v1/query?query=" + url.QueryEscape(`count(wardops_snmp_up == 1)`))
			if strings.Contains(body, `"4"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SNMP data from all four devices within 60 s; run log:\n%s", runLog.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	seen := map[string]string{}
	api := "http://" + listen
	for _, p := range []string{"/", "/static/app.js", "/api/v1/dashboard", "/api/v1/devices?limit=5000", "/api/v1/branches",
		"/api/v1/health", "/metrics", "/api/v1/devices/1", "/api/v1/devices/2", "/api/v1/devices/2/ping-history",
		"/api/v1/devices/1/metrics?item=sysUpTime"} {
		seen["query "+p] = get(api + p)
	}
	seen["collector /metrics"] = get("http://" + collectorListen + "/metrics")
	for _, p := range []string{"/api/v1/labels", "/api/v1/label/__name__/values", "/api/v1/series?match[]=" + url.QueryEscape(`{__name__=~".+"}`),
		"/api/v1/export?match[]=" + url.QueryEscape(`{__name__=~".+"}`)} {
		seen["victoriametrics "+p] = get(vm.URL + p)
	}
	if !strings.Contains(seen["victoriametrics /api/v1/label/__name__/values"], "wardops_snmp_") {
		t.Fatal("the sweep saw no SNMP series")
	}
	// The crash path: SIGQUIT makes the Go runtime dump every goroutine's stack, as a panic does.
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("wardops run did not exit on SIGQUIT")
	}
	if !strings.Contains(runLog.String(), "goroutine ") || !strings.Contains(runLog.String(), "level=DEBUG") {
		t.Fatalf("the run log has no debug lines or no goroutine dump:\n%.2000s", runLog.String())
	}
	seen["import and migrate log"] = logs.String()
	seen["run log, debug level, with the goroutine dump"] = runLog.String()
	for where, text := range seen {
		for _, s := range []string{sweepCommunity, sweepAuthKey, sweepPrivKey} {
			for _, form := range secretForms(s) {
				if strings.Contains(text, form) {
					i := strings.Index(text, form)
					t.Errorf("%s contains a secret (%q): …%s…", where, form, text[max(0, i-200):min(len(text), i+200)])
				}
			}
		}
	}
}

// secretForms is a secret as it would show up plainly or encoded.
func secretForms(s string) []string {
	return []string{s, fmt.Sprintf("%x", s), strings.TrimRight(b64(s), "=")}
}

func b64(s string) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out []byte
	b := []byte(s)
	for i := 0; i+2 < len(b); i += 3 {
		n := uint(b[i])<<16 | uint(b[i+1])<<8 | uint(b[i+2])
		out = append(out, enc[n>>18&63], enc[n>>12&63], enc[n>>6&63], enc[n&63])
	}
	return string(out)
}

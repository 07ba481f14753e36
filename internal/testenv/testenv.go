// Package testenv gives tests the real servers they run against: a fresh PostgreSQL database on the
// machine's server and a VictoriaMetrics process on a free loopback port. A missing server fails
// the test with a line on how to get it; it never skips.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/store"
)

// AdminURL is the PostgreSQL server tests create their databases on (WARDOPS_TEST_PG overrides).
func AdminURL() string {
	if u := os.Getenv("WARDOPS_TEST_PG"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Database creates an empty database for this test, drops it at cleanup and returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("PostgreSQL is required at %s: %v\nstart it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", AdminURL(), err)
	}
	defer admin.Close(ctx)
	name := "wardops_test_" + randHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("cannot create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Logf("cannot drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("cannot drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Store opens a migrated store on a fresh database.
func Store(t testing.TB) (*store.Store, string) {
	t.Helper()
	dbURL := Database(t)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{URL: dbURL, MaxConns: 8, Keys: Keys(t)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s, dbURL
}

// Keys is a fresh secret keyring (one key, id "test") for a store that must seal SNMP secrets.
func Keys(t testing.TB) *seal.Keyring {
	t.Helper()
	e, err := seal.NewEntry("test")
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.Parse(e)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LookBinary finds a server binary or fails the test saying which Debian package has it.
func LookBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				return filepath.Join(dir, name)
			}
		}
		t.Fatalf("%s is required: install it with: apt-get install -y %s", name, pkg)
	}
	return p
}

// VM is a VictoriaMetrics single node started for one test.
type VM struct {
	URL  string
	cmd  *exec.Cmd
	args []string
	bin  string
	t    testing.TB
}

// VictoriaMetrics starts victoria-metrics on a free loopback port with a temp data dir, with its
// default flags (so -search.latencyOffset is the production 30s) plus extraArgs, and stops it at
// cleanup.
func VictoriaMetrics(t testing.TB, extraArgs ...string) *VM {
	t.Helper()
	bin := LookBinary(t, "victoria-metrics", "victoria-metrics")
	port := FreePort(t)
	vm := &VM{URL: fmt.Sprintf("http://127.0.0.1:%d", port), bin: bin, t: t, args: []string{
		"-httpListenAddr", fmt.Sprintf("127.0.0.1:%d", port),
		"-storageDataPath", t.TempDir(),
		"-retentionPeriod", "100y",
		"-loggerLevel", "ERROR",
	}}
	vm.args = append(vm.args, extraArgs...)
	vm.Start()
	t.Cleanup(vm.Stop)
	return vm
}

// Start starts (or restarts) the process on the same port and data dir and waits until it answers.
func (vm *VM) Start() {
	vm.t.Helper()
	vm.cmd = exec.Command(vm.bin, vm.args...)
	vm.cmd.Stdout, vm.cmd.Stderr = io.Discard, os.Stderr
	if err := vm.cmd.Start(); err != nil {
		vm.t.Fatalf("cannot start victoria-metrics: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(vm.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	vm.t.Fatalf("victoria-metrics did not answer on %s", vm.URL)
}

// Stop kills the process and waits for it.
func (vm *VM) Stop() {
	if vm.cmd == nil || vm.cmd.Process == nil {
		return
	}
	_ = vm.cmd.Process.Kill()
	_ = vm.cmd.Wait()
	vm.cmd = nil
}

// Query runs an instant query with nocache=1 (fresh samples, past -search.latencyOffset) and
// returns the result vector as label sets with values.
func (vm *VM) Query(expr string) ([]Sample, error) {
	resp, err := http.Get(vm.URL + "/api/v1/query?nocache=1&query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, body.Error)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Sample is one element of an instant query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Export returns the raw samples of series matching match in [start, end] as timestamps per series
// key (the "device_id" label), for gap checks.
func (vm *VM) Export(match string, start, end time.Time) (map[string][]int64, error) {
	q := url.Values{"match[]": {match}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)}}
	resp, err := http.Get(vm.URL + "/api/v1/export?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string][]int64{}
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := dec.Decode(&line); err != nil {
			return nil, err
		}
		out[line.Metric["device_id"]] = append(out[line.Metric["device_id"]], line.Timestamps...)
	}
	return out, nil
}

// WaitFor polls cond every 200 ms until it holds or d passes, and returns how long it took; cond
// also says what it saw, for the failure message.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < d {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last: %s)", what, d, last)
	return 0
}

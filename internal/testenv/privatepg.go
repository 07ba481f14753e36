package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PG is a PostgreSQL cluster of one test's own, for tests that stop the server: the machine's shared
// server (Database, Store) must never be stopped under the other tests.
type PG struct {
	URL   string // the cluster's postgres database, trust auth, on a loopback port
	t     testing.TB
	dir   string
	port  int
	addrs []string            // listen_addresses; 127.0.0.1 unless PrivatePostgresOn named others
	cred  *syscall.Credential // the postgres system user when we are root: the server refuses root
	cmd   *exec.Cmd
	done  chan struct{}
}

// PrivatePostgres creates a cluster with the system's initdb in a temporary directory, starts it on
// a free loopback port and stops and removes it at cleanup. It is a scratch server: fsync is off.
func PrivatePostgres(t testing.TB) *PG {
	t.Helper()
	return PrivatePostgresOn(t, "127.0.0.1")
}

// PrivatePostgresOn is PrivatePostgres listening on each of addrs (loopback addresses), one port
// for all: a test can cut one client's address with nftables and leave the others connected.
// URL uses the first address; URLOn gives the others.
func PrivatePostgresOn(t testing.TB, addrs ...string) *PG {
	t.Helper()
	if len(addrs) == 0 {
		t.Fatal("PrivatePostgresOn: no listen address")
	}
	initdb := pgBinary(t, "initdb")
	// Not t.TempDir: its parents are 0700 root directories the postgres user cannot enter.
	dir, err := os.MkdirTemp("", "wardops-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &PG{t: t, dir: dir, port: FreePort(t), addrs: addrs}
	p.URL = p.URLOn(addrs[0])
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a 'postgres' system user: apt-get install -y postgresql")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	cmd := exec.Command(initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URLOn is the cluster's postgres database reached through addr, one of its listen addresses.
func (p *PG) URLOn(addr string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/postgres?sslmode=disable", addr, p.port)
}

// Port is the TCP port the cluster listens on at every address.
func (p *PG) Port() int { return p.port }

// pgBinary finds a PostgreSQL server program on PATH or in Debian's versioned directories.
func pgBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(m) > 0 {
		return m[len(m)-1]
	}
	t.Fatalf("%s is required: apt-get install -y postgresql", name)
	return ""
}

// Start starts (or restarts) the server on the same port and data and waits until it accepts
// connections.
func (p *PG) Start() {
	p.t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(pgBinary(p.t, "postgres"), "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses="+strings.Join(p.addrs, ","), "-c", "unix_socket_directories="+p.dir, "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "shared_buffers=32MB", "-c", "max_connections=50")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// Its own process group, so a terminal's Ctrl-C reaches the test binary only.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("cannot start postgres: %v", err)
	}
	done := make(chan struct{})
	p.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(p.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, p.URL)
		if err == nil {
			_ = c.Close(ctx)
			cancel()
			return
		}
		cancel()
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
			p.t.Fatalf("private postgres exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("private postgres did not accept connections on port %d: %v", p.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the server down (SIGINT: fast shutdown, open sessions are cut, as in a real outage)
// and waits for it, killing it after 20 seconds.
func (p *PG) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

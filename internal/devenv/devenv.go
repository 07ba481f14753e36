// Package devenv starts the private backends of `wardops dev`: a PostgreSQL cluster made with the
// system's initdb and a VictoriaMetrics single node, both under one directory, on loopback ports,
// as child processes that stop when the context ends.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/wardops/wardops/store"
)

// Backends are the running private servers.
type Backends struct {
	DatabaseURL string
	VMURL       string
	procs       []*exec.Cmd
	log         *slog.Logger
}

// Options says where the state lives and which loopback ports to use.
type Options struct {
	Dir            string // ./var
	PGPort, VMPort int
	StartPG        bool
	StartVM        bool
	Log            *slog.Logger
}

// Start brings up what Options asks for and waits until each answers.
func Start(ctx context.Context, o Options) (*Backends, error) {
	b := &Backends{log: o.Log}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", o.Dir, err)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.StartPG {
		if err := b.startPostgres(ctx, dir, o.PGPort); err != nil {
			b.Stop()
			return nil, err
		}
	}
	if o.StartVM {
		if err := b.startVM(ctx, dir, o.VMPort); err != nil {
			b.Stop()
			return nil, err
		}
	}
	return b, nil
}

// pgBin finds a PostgreSQL server program: on PATH, else in Debian's versioned directories.
func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found: install PostgreSQL with: apt-get install -y postgresql", name)
}

// asPostgresUser makes a command run as the postgres system user when we are root, because the
// server refuses to run as root.
func asPostgresUser(cmd *exec.Cmd, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return errors.New("running as root needs a 'postgres' system user (apt-get install -y postgresql)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return fmt.Errorf("cannot hand %s to postgres: %w", dir, err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return nil
}

// othersCanReach reports whether every ancestor of dir lets other users through (o+x), which the
// postgres user needs to reach a data directory below it.
func othersCanReach(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func (b *Backends) startPostgres(ctx context.Context, dir string, port int) error {
	data := filepath.Join(dir, "pg")
	if os.Geteuid() == 0 && !othersCanReach(dir) {
		// As root the server runs as postgres, which cannot reach a checkout under a private home
		// (/root is 0700): keep the cluster in a per-checkout folder it can reach instead.
		data = filepath.Join(os.TempDir(), fmt.Sprintf("wardops-dev-%x", pathHash(dir)), "pg")
		if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
			return err
		}
		b.log.Warn("the postgres user cannot reach the checkout; private PostgreSQL lives elsewhere", "dir", data)
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		initdb, err := pgBin("initdb")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(data, 0o700); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
		if err := asPostgresUser(cmd, data); err != nil {
			return err
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("initdb %s: %w\n%s", data, err, out)
		}
		b.log.Info("created private PostgreSQL cluster", "dir", data)
	}
	postgres, err := pgBin("postgres")
	if err != nil {
		return err
	}
	sock := data
	cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+sock, "-c", "max_connections=100", "-c", "shared_buffers=256MB",
		"-c", "synchronous_commit=off")
	logf, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = ownGroup()
	if err := asPostgresUser(cmd, data); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start postgres: %w", err)
	}
	b.procs = append(b.procs, cmd)
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := waitFor(ctx, 30*time.Second, func() error {
		return store.CreateDatabase(ctx, admin, "wardops")
	}); err != nil {
		return fmt.Errorf("private PostgreSQL did not come up on port %d (see %s/postgres.log): %w", port, dir, err)
	}
	b.DatabaseURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/wardops?sslmode=disable", port)
	return nil
}

func (b *Backends) startVM(ctx context.Context, dir string, port int) error {
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		return errors.New("victoria-metrics not found: install it with: apt-get install -y victoria-metrics")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "-httpListenAddr", addr, "-storageDataPath", filepath.Join(dir, "vm"), "-retentionPeriod", "30d")
	logf, err := os.OpenFile(filepath.Join(dir, "victoria-metrics.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = ownGroup()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start victoria-metrics: %w", err)
	}
	b.procs = append(b.procs, cmd)
	b.VMURL = "http://" + addr
	return waitFor(ctx, 30*time.Second, func() error {
		resp, err := http.Get(b.VMURL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
}

func pathHash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// ownGroup puts a child in its own process group so the terminal's Ctrl-C reaches only wardops,
// which flushes what it holds before it stops the backends.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func waitFor(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop asks each child to shut down cleanly (SIGINT: PostgreSQL's fast shutdown) and waits for it,
// killing it after 20 seconds.
func (b *Backends) Stop() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		p := b.procs[i]
		_ = p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	b.procs = nil
}

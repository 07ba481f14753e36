package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one process the benchmark started. Its output goes to a log file under the run's
// work directory, so a failing peer can be diagnosed after the run.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has been waited for
	err  error         // Wait's result, valid after done
	out  *os.File
}

// children owns every process started in a run, so one deferred stopAll ends them all, on
// success, error or Ctrl-C alike.
type children struct {
	mu   sync.Mutex
	list []*child
	log  *slog.Logger
}

// start runs bin with args in its own process group (a terminal's Ctrl-C reaches only the
// harness, which then stops children in order) and with a parent-death signal, so a SIGKILLed
// harness leaves nothing behind.
func (cs *children) start(name, logPath string, env []string, bin string, args ...string) (*child, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot create log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("cannot start %s (%s): %w", name, bin, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{}), out: out}
	go func() {
		c.err = cmd.Wait()
		out.Close()
		close(c.done)
	}()
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	cs.log.Debug("started", "name", name, "pid", cmd.Process.Pid, "log", logPath)
	return c, nil
}

// stopAll stops every child still running, newest first (vmagent before the exporter it scrapes).
func (cs *children) stopAll() {
	cs.mu.Lock()
	list := append([]*child(nil), cs.list...)
	cs.list = nil
	cs.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop(10 * time.Second)
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended, with its error.
func (c *child) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace; it returns once the
// process has been reaped. Safe to call twice.
func (c *child) stop(grace time.Duration) {
	if done, _ := c.exited(); done {
		return
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGTERM)
	select {
	case <-c.done:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	<-c.done
}

// kill sends SIGKILL to the process group, with no chance to flush or leave cleanly, and returns
// once the process has been reaped: the crash the scale benchmark measures recovery from.
func (c *child) kill() {
	if done, _ := c.exited(); done {
		return
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	<-c.done
}

// failure describes a child that ended early, with the tail of its log.
func (c *child) failure() error {
	_, err := c.exited()
	if err == nil {
		err = errors.New("exited")
	}
	return fmt.Errorf("%s ended early (%w); log %s: %s", c.name, err, c.log, tail(c.log, 3))
}

// tail returns the last n lines of a file, joined by " | ".
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

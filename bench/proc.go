package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat. Linux fixes USER_HZ at 100 on every
// architecture we run on; reading it would need sysconf (cgo), for a constant.
const userHZ = 100

// procCPU is the CPU time (user + system, all threads) a live process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read cpu time of pid %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat line. The command
// name (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat line %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat line %q", b)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad cpu field %q in /proc stat: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// procStatus returns fields of /proc/<pid>/status in bytes (VmHWM, VmRSS) or as counts (Threads).
func procStatus(pid int) (map[string]uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("cannot read status of pid %d: %w", pid, err)
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		out[k] = n
	}
	return out, sc.Err()
}

// peakRSS is the high-water mark of the resident set (VmHWM) of a live process, in bytes.
func peakRSS(pid int) (uint64, error) {
	st, err := procStatus(pid)
	if err != nil {
		return 0, err
	}
	return st["VmHWM"], nil
}

// openFDs counts the open file descriptors of a live process.
func openFDs(pid int) (int, error) {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot list fds of pid %d: %w", pid, err)
	}
	return len(es), nil
}

// cpuOf sums the CPU time of several live processes.
func cpuOf(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, p := range pids {
		c, err := procCPU(p)
		if err != nil {
			return 0, err
		}
		sum += c
	}
	return sum, nil
}

// rssOf sums the peak RSS of several live processes: a pipeline of two processes needs both.
func rssOf(pids []int) (uint64, error) {
	var sum uint64
	for _, p := range pids {
		r, err := peakRSS(p)
		if err != nil {
			return 0, err
		}
		sum += r
	}
	return sum, nil
}

// fdLimit is the open-file limit the benchmark asks for itself and its children: vmagent keeps a
// connection per target being scraped and blackbox_exporter a socket per probe, so 100,000
// targets need far more than the usual 1,024 or 20,000 (an operator would set LimitNOFILE).
const fdLimit = 1 << 18

// raiseFDLimit lifts RLIMIT_NOFILE to fdLimit (root may raise the hard limit too). Calling
// Setrlimit also makes Go hand the new limit to child processes instead of the original one.
func raiseFDLimit() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("cannot read the open-file limit: %w", err)
	}
	want := syscall.Rlimit{Cur: max(rl.Cur, fdLimit), Max: max(rl.Max, fdLimit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// Without privilege: as high as the hard limit allows.
		want = syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil {
			return fmt.Errorf("cannot raise the open-file limit to %d: %w", fdLimit, err)
		}
		return fmt.Errorf("open-file limit only raised to %d (not root?): %w", rl.Max, err)
	}
	return nil
}

// fdsAvailable is the open-file limit children inherit.
func fdsAvailable() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	return int(rl.Cur)
}

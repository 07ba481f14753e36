package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The helper process pushes blocks into a spool, reports when they are on disk, and waits to be
// SIGKILLed: the crash the spool must survive (a SIGKILLed collector replays it).
const helperEnv = "WARDOPS_SPOOL_HELPER"

func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return // not the helper: an ordinary test run
	}
	var dir string
	var n int
	var maxMem int64
	if _, err := fmt.Sscanf(spec, "%s %d %d", &dir, &n, &maxMem); err != nil {
		fmt.Fprintln(os.Stderr, "bad helper spec:", err)
		os.Exit(2)
	}
	q, err := Open(dir, Options{MaxMemBytes: maxMem, SegmentBytes: 2048, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < n; i++ {
		if err := q.Push(block(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	// Blocks reach the disk when memory overflows or, at the latest, when they are two flush
	// intervals old; report once all of them are there.
	for {
		q.mu.Lock()
		onDisk := q.diskBlocksLocked()
		q.mu.Unlock()
		if onDisk == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("spilled " + strconv.Itoa(n))
	time.Sleep(time.Minute) // killed long before this
	os.Exit(3)
}

func TestSIGKILLedSpoolReplays(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		maxMem int64
	}{
		{"spilled on memory bound", 300, 1000},
		{"spilled by age", 50, 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", helperEnv, dir, tc.n, tc.maxMem))
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatalf("cannot start helper: %v", err)
			}
			line := make(chan string, 1)
			go func() {
				s := bufio.NewScanner(out)
				for s.Scan() {
					if txt := s.Text(); len(txt) > 7 && txt[:7] == "spilled" {
						line <- txt
						return
					}
				}
				close(line)
			}()
			select {
			case l, ok := <-line:
				if !ok {
					t.Fatal("helper exited before spilling")
				}
				t.Log(l)
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("helper did not spill within 20 s")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil {
				t.Fatal("helper exited cleanly; want killed")
			}

			q := mustOpen(t, dir, Options{})
			defer q.Close()
			checkRange(t, drain(t, q), 0, tc.n)
		})
	}
}

package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf collects log output so tests can check that a drop or a damaged file was reported.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// block returns the i-th test block: its index, padded to a length that varies with i.
func block(i int) []byte {
	b := []byte(fmt.Sprintf("block-%06d:", i))
	return append(b, bytes.Repeat([]byte{byte('a' + i%26)}, 40+i%97)...)
}

func mustOpen(t *testing.T, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	return q
}

// drain consumes everything queued and returns it in order.
func drain(t *testing.T, q *Queue) [][]byte {
	t.Helper()
	var got [][]byte
	for q.Len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := q.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Next with %d blocks queued: %v", q.Len(), err)
		}
		got = append(got, b.Data)
		q.Ack(b)
	}
	return got
}

// checkRange asserts got is exactly blocks from..to-1 in order.
func checkRange(t *testing.T, got [][]byte, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("got %d blocks, want %d (blocks %d..%d)", len(got), to-from, from, to-1)
	}
	for i, b := range got {
		if want := block(from + i); !bytes.Equal(b, want) {
			t.Fatalf("block %d = %.20q, want %.20q", i, b, want)
		}
	}
}

func TestFIFOAcrossMemoryAndDisk(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"memory only", Options{MaxMemBytes: 1 << 20, FlushInterval: time.Hour}},
		{"spills on memory bound", Options{MaxMemBytes: 1000, SegmentBytes: 2048, FlushInterval: time.Hour}},
		{"every block spilled", Options{MaxMemBytes: 1, SegmentBytes: 512, FlushInterval: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := mustOpen(t, dir, tc.opts)
			defer q.Close()
			var got [][]byte
			next := 0
			// Interleave pushes and partial drains so the head moves between memory and disk.
			for round := 0; round < 5; round++ {
				for i := 0; i < 60; i++ {
					if err := q.Push(block(next)); err != nil {
						t.Fatal(err)
					}
					next++
				}
				for i := 0; i < 40; i++ {
					b, err := q.Next(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, b.Data)
					q.Ack(b)
				}
			}
			if want := next - len(got); q.Len() != want {
				t.Fatalf("Len() = %d, want %d", q.Len(), want)
			}
			got = append(got, drain(t, q)...)
			checkRange(t, got, 0, next)
			if q.Bytes() != 0 || q.DiskBytes() != 0 {
				t.Fatalf("drained queue holds %d bytes, %d on disk", q.Bytes(), q.DiskBytes())
			}
		})
	}
}

func TestNextAckSemantics(t *testing.T) {
	q := mustOpen(t, t.TempDir(), Options{FlushInterval: time.Hour})
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := q.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on empty queue = %v, want deadline exceeded", err)
	}

	// A waiting Next is woken by Push.
	done := make(chan Block)
	go func() {
		b, _ := q.Next(context.Background())
		done <- b
	}()
	time.Sleep(20 * time.Millisecond)
	if err := q.Push(block(0)); err != nil {
		t.Fatal(err)
	}
	b := <-done
	// Without Ack the same block comes back, also after it moved to disk.
	q.flush(true)
	b2, err := q.Next(context.Background())
	if err != nil || !bytes.Equal(b.Data, b2.Data) {
		t.Fatalf("second Next = %q, %v; want %q again", b2.Data, err, b.Data)
	}
	if err := q.Push(block(1)); err != nil {
		t.Fatal(err)
	}
	q.Ack(b)
	q.Ack(b) // twice: ignored, must not remove block 1
	checkRange(t, drain(t, q), 1, 2)

	// Close wakes a waiting Next.
	errc := make(chan error)
	go func() {
		_, err := q.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	if err := q.Push(block(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close = %v, want ErrClosed", err)
	}
}

func TestRestartReplays(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		acked int
	}{
		{"memory flushed on close", Options{FlushInterval: time.Hour}, 0},
		{"partly consumed", Options{MaxMemBytes: 700, SegmentBytes: 1024, FlushInterval: time.Hour}, 37},
		{"consumed across segments", Options{MaxMemBytes: 1, SegmentBytes: 300, FlushInterval: time.Hour}, 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := mustOpen(t, dir, tc.opts)
			for i := 0; i < 200; i++ {
				if err := q.Push(block(i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < tc.acked; i++ {
				b, err := q.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				q.Ack(b)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = mustOpen(t, dir, tc.opts)
			defer q.Close()
			if q.Len() != 200-tc.acked {
				t.Fatalf("reopened Len() = %d, want %d", q.Len(), 200-tc.acked)
			}
			checkRange(t, drain(t, q), tc.acked, 200)
		})
	}
}

func TestCapDropsOldestAndCountsExactly(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		n    int
	}{
		{"many segments", Options{MaxDiskBytes: 16 << 10, SegmentBytes: 2 << 10, MaxMemBytes: 1}, 1000},
		{"default segment size", Options{MaxDiskBytes: 64 << 10, MaxMemBytes: 4 << 10}, 2000},
		{"one block per segment", Options{MaxDiskBytes: 4 << 10, SegmentBytes: 1, MaxMemBytes: 1}, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := newLog()
			tc.opts.Log = log
			tc.opts.FlushInterval = time.Hour
			dir := t.TempDir()
			q := mustOpen(t, dir, tc.opts)
			defer q.Close()
			var pushedBytes int64
			for i := 0; i < tc.n; i++ {
				if err := q.Push(block(i)); err != nil {
					t.Fatal(err)
				}
				pushedBytes += int64(len(block(i)))
				if d := q.DiskBytes(); d > tc.opts.MaxDiskBytes {
					t.Fatalf("after %d pushes the spool holds %d bytes on disk, cap %d", i+1, d, tc.opts.MaxDiskBytes)
				}
			}
			if err := q.Close(); err != nil { // everything left in memory goes to disk, under the cap
				t.Fatal(err)
			}
			if d := dirSize(t, dir); d > tc.opts.MaxDiskBytes {
				t.Fatalf("spool directory holds %d segment bytes, cap %d", d, tc.opts.MaxDiskBytes)
			}
			droppedBlocks := int(q.m.droppedBlocks[reasonCap].Get())
			droppedBytes := int64(q.m.droppedBytes[reasonCap].Get())
			if droppedBlocks == 0 {
				t.Fatal("nothing dropped: the test does not reach the cap")
			}
			q = mustOpen(t, dir, tc.opts)
			defer q.Close()
			got := drain(t, q)
			// The survivors are the newest blocks, in order; the dropped ones are exactly the oldest.
			checkRange(t, got, droppedBlocks, tc.n)
			var keptBytes int64
			for _, b := range got {
				keptBytes += int64(len(b))
			}
			if droppedBytes != pushedBytes-keptBytes {
				t.Fatalf("dropped bytes counted %d, want %d", droppedBytes, pushedBytes-keptBytes)
			}
			if !strings.Contains(logs.String(), "size cap") {
				t.Fatalf("no log line about the cap in:\n%s", logs)
			}
		})
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	seqs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range seqs {
		st, err := os.Stat(segmentPath(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

func TestTooLargeRefused(t *testing.T) {
	q := mustOpen(t, t.TempDir(), Options{MaxDiskBytes: 1024})
	defer q.Close()
	if err := q.Push(make([]byte, 2000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Push(2000 bytes) = %v, want ErrTooLarge", err)
	}
	if got := q.m.droppedBlocks[reasonTooLarge].Get(); got != 1 {
		t.Fatalf("too_large drops = %d, want 1", got)
	}
}

// segmentsOf writes n blocks into a closed spool of several segments and returns the segment files
// with the blocks each holds.
func segmentsOf(t *testing.T, dir string, n int) (paths []string, perSeg []int) {
	t.Helper()
	q := mustOpen(t, dir, Options{MaxMemBytes: 1, SegmentBytes: 1024, FlushInterval: time.Hour})
	for i := 0; i < n; i++ {
		if err := q.Push(block(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range q.segs {
		paths = append(paths, s.path)
		perSeg = append(perSeg, s.blocks)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3 {
		t.Fatalf("only %d segments", len(paths))
	}
	return paths, perSeg
}

func TestDamagedSegmentSkipped(t *testing.T) {
	const n = 60
	// Each case damages the first or last segment and says which blocks must still come out.
	tests := []struct {
		name   string
		damage func(t *testing.T, paths []string)
		want   func(perSeg []int) (from int, skip [2]int) // blocks [skip0, skip1) are lost
		logs   string
	}{
		{
			name: "payload byte flipped in first segment",
			damage: func(t *testing.T, paths []string) {
				// Third frame of the first segment: header, then two frames of known size.
				off := fileHeaderLen + frameLen(len(block(0))) + frameLen(len(block(1))) + frameHeaderLen + 3
				flipByte(t, paths[0], off)
			},
			want: func(perSeg []int) (int, [2]int) { return 0, [2]int{2, perSeg[0]} },
			logs: "damaged spool segment",
		},
		{
			name: "length field corrupted in first segment",
			damage: func(t *testing.T, paths []string) {
				flipByte(t, paths[0], fileHeaderLen+frameLen(len(block(0)))+1)
			},
			want: func(perSeg []int) (int, [2]int) { return 0, [2]int{1, perSeg[0]} },
			logs: "damaged",
		},
		{
			name: "last segment truncated mid-frame",
			damage: func(t *testing.T, paths []string) {
				last := paths[len(paths)-1]
				st, err := os.Stat(last)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(last, st.Size()-5); err != nil {
					t.Fatal(err)
				}
			},
			want: func(perSeg []int) (int, [2]int) { return 0, [2]int{n - 1, n} },
			logs: "damaged tail",
		},
		{
			name: "first segment overwritten with garbage",
			damage: func(t *testing.T, paths []string) {
				if err := os.WriteFile(paths[0], bytes.Repeat([]byte{0xff}, 500), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			want: func(perSeg []int) (int, [2]int) { return 0, [2]int{0, perSeg[0]} },
			logs: "without a valid header",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			paths, perSeg := segmentsOf(t, dir, n)
			tc.damage(t, paths)
			log, logs := newLog()
			q := mustOpen(t, dir, Options{Log: log, FlushInterval: time.Hour})
			defer q.Close()
			got := drain(t, q)
			_, skip := tc.want(perSeg)
			want := append(rangeBlocks(0, skip[0]), rangeBlocks(skip[1], n)...)
			if len(got) != len(want) {
				t.Fatalf("got %d blocks, want %d (all but %d..%d)", len(got), len(want), skip[0], skip[1]-1)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("block %d = %.20q, want %.20q", i, got[i], want[i])
				}
			}
			if !strings.Contains(logs.String(), tc.logs) {
				t.Fatalf("log lacks %q:\n%s", tc.logs, logs)
			}
			if leftover, err := listSegments(dir); err != nil || len(leftover) != 0 {
				t.Fatalf("segments left after draining: %v %v", leftover, err)
			}
		})
	}
}

func rangeBlocks(from, to int) [][]byte {
	var bs [][]byte
	for i := from; i < to; i++ {
		bs = append(bs, block(i))
	}
	return bs
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

func TestForeignFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	q := mustOpen(t, dir, Options{})
	defer q.Close()
	if q.Len() != 0 {
		t.Fatalf("Len() = %d on a spool with only a foreign file", q.Len())
	}
}

package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/collector/spool"
	"github.com/wardops/wardops/internal/testenv"
)

// metricValue reads one sample of set as /metrics would show it, so tests check the exported
// numbers rather than the counters' internals.
func metricValue(t *testing.T, set *metrics.Set, name string) float64 {
	t.Helper()
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("bad value in %q: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exported", name)
	return 0
}

// runWriter runs w until the returned stop is called; stop returns Run's error.
func runWriter(t *testing.T, w *VM) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// exportTimestamps returns the timestamps VictoriaMetrics holds for name, sorted, once they stop
// growing and reach want (or after 15s).
func exportTimestamps(t *testing.T, vm *testenv.VM, name string, from time.Time, want int) []int64 {
	t.Helper()
	var got []int64
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if err := vm.ForceFlush(); err != nil {
			t.Fatal(err)
		}
		series, err := vm.ExportSeries(name, from, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, s := range series {
			got = append(got, s.Timestamps...)
		}
		if len(got) >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(got)
	return got
}

// TestWriterSpoolCapDropsOldest: with VictoriaMetrics down, blocks spill to a spool far smaller
// than what is pushed; the cap drops the oldest and the metric counts exactly the blocks dropped:
// once VictoriaMetrics is back, it holds exactly the newest (pushed - dropped) blocks, oldest first
// gone: a spool at its cap drops oldest first and counts exactly what it dropped.
func TestWriterSpoolCapDropsOldest(t *testing.T) {
	const blocks, perBlock = 200, 10
	vm := testenv.VictoriaMetrics(t)
	vm.Stop()
	set := metrics.NewSet()
	sp, err := spool.Open(t.TempDir(), spool.Options{
		Name: "vm", MaxDiskBytes: 8 << 10, SegmentBytes: 1 << 10,
		MaxMemBytes:   1, // every block goes to disk at once, so the cap is what decides
		FlushInterval: 50 * time.Millisecond, Metrics: set, Log: quietLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewVM(VMOptions{URL: vm.URL, Options: Options{Batch: perBlock, Interval: time.Hour, Queue: NewSpoolQueue(sp),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Log: quietLog(), Metrics: set}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runWriter(t, w)
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	var all []int64
	for i := range blocks * perBlock {
		ts := base + int64(i)*100
		all = append(all, ts)
		// Add seals a block every perBlock samples: blocks hold consecutive timestamps.
		w.Add(sample.Sample{Name: "wardops_test_cap", Labels: []sample.Label{{Name: "device_id", Value: "1"}}, Value: float64(i), Timestamp: ts})
	}
	dropName := `wardops_spool_dropped_blocks_total{spool="vm",reason="cap"}`
	dropped := int(metricValue(t, set, dropName))
	if dropped == 0 || dropped >= blocks {
		t.Fatalf("%s = %d with %d blocks pushed into an 8 KiB spool", dropName, dropped, blocks)
	}
	if got := int(metricValue(t, set, `wardops_spool_blocks{spool="vm"}`)); got != blocks-dropped {
		t.Fatalf("spool holds %d blocks, want %d pushed - %d dropped", got, blocks, dropped)
	}
	// Let the sender fail at least once more, so it holds no block fetched before the last drop.
	retries := metricValue(t, set, `wardops_collector_push_retries_total`)
	for metricValue(t, set, `wardops_collector_push_retries_total`) < retries+2 {
		time.Sleep(20 * time.Millisecond)
	}
	vm.Start()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && metricValue(t, set, `wardops_collector_push_queue_blocks`) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if sent := int(metricValue(t, set, `wardops_collector_push_sent_blocks_total`)); sent != blocks-dropped {
		t.Fatalf("sent %d blocks, want %d - %d dropped", sent, blocks, dropped)
	}
	want := all[dropped*perBlock:]
	got := exportTimestamps(t, vm, "wardops_test_cap", time.UnixMilli(base-1000), len(want))
	if !slices.Equal(got, want) {
		t.Fatalf("VictoriaMetrics holds %d samples (%s), want the newest %d (%s)", len(got), span(got), len(want), span(want))
	}
	t.Logf("pushed %d blocks, the cap dropped the oldest %d, %d arrived", blocks, dropped, blocks-dropped)
}

func span(ts []int64) string {
	if len(ts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d", ts[0], ts[len(ts)-1])
}

// TestWriterSpoolSurvivesRestart: samples pushed while VictoriaMetrics is down are spooled when the
// writer stops (SIGTERM path: the flush times out, Close persists them) and sent with their own
// timestamps by the next writer on the same directory, damaged spool files notwithstanding.
func TestWriterSpoolSurvivesRestart(t *testing.T) {
	vm := testenv.VictoriaMetrics(t)
	vm.Stop()
	dir := t.TempDir()
	open := func(set *metrics.Set) *VM {
		sp, err := spool.Open(dir, spool.Options{Name: "vm", Metrics: set, Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewVM(VMOptions{URL: vm.URL, Options: Options{Batch: 7, Interval: 50 * time.Millisecond, Queue: NewSpoolQueue(sp),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, FlushTimeout: 300 * time.Millisecond,
			Log: quietLog(), Metrics: set}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := open(metrics.NewSet())
	stop := runWriter(t, w)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second).UnixMilli()
	var want []int64
	for i := range 100 {
		ts := base + int64(i)*1000 + 7
		want = append(want, ts)
		w.Add(sample.Sample{Name: "wardops_test_restart", Labels: []sample.Label{{Name: "device_id", Value: "2"}}, Value: 1, Timestamp: ts})
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Damage the spool as a crash or a bad disk would: a torn frame at the end of the last segment
	// and a later segment file that is not a segment at all. Both are skipped with a log line and
	// every good block still goes out.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("nothing spooled at shutdown")
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{200, 0, 0, 0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := os.WriteFile(filepath.Join(dir, "00000000000000ff.seg"), []byte("not a spool segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	vm.Start()
	set := metrics.NewSet()
	w = open(set)
	if n := w.q.Len(); n != (100+6)/7 {
		t.Fatalf("reopened spool holds %d blocks, want %d", n, (100+6)/7)
	}
	stop = runWriter(t, w)
	got := exportTimestamps(t, vm, "wardops_test_restart", time.UnixMilli(base-1000), len(want))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after restart VictoriaMetrics holds %d samples (%s), want %d (%s)", len(got), span(got), len(want), span(want))
	}
}

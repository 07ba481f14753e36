package sink

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/collector/sample"
	"github.com/wardops/wardops/internal/testenv"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestAppendSample(t *testing.T) {
	f := func(s sample.Sample, want string) {
		t.Helper()
		if got := string(appendSample(nil, s)); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(sample.Sample{Name: "m", Value: 1, Timestamp: 5}, "m 1 5\n")
	f(sample.Sample{Name: "m", Labels: []sample.Label{{Name: "a", Value: "x"}, {Name: "b", Value: `q"\` + "\n"}}, Value: 0.25, Timestamp: 1700000000123},
		`m{a="x",b="q\"\\\n"} 0.25 1700000000123`+"\n")
	f(sample.Sample{Name: "m", Value: 1e-6, Timestamp: 1}, "m 1e-06 1\n")
}

func TestImportURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8428":                      "http://127.0.0.1:8428/api/v1/import/prometheus",
		"http://127.0.0.1:8428/":                     "http://127.0.0.1:8428/api/v1/import/prometheus",
		"http://127.0.0.1:8480/insert/0/prometheus":  "http://127.0.0.1:8480/insert/0/prometheus/api/v1/import/prometheus",
		"http://127.0.0.1:8480/insert/7/prometheus/": "http://127.0.0.1:8480/insert/7/prometheus/api/v1/import/prometheus",
	} {
		if got := ImportURL(in); got != want {
			t.Errorf("ImportURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMemQueueDropsOldest(t *testing.T) {
	var dropped, droppedBytes int64
	q := NewMemQueue(10, func(reason string, n int, b int64) {
		if reason == DropQueueFull {
			dropped += int64(n)
			droppedBytes += b
		}
	})
	for _, s := range []string{"aaaa", "bbbb", "cccc", "dddd"} {
		_ = q.Push([]byte(s))
	}
	if dropped != 2 || droppedBytes != 8 || q.Len() != 2 || q.Size() != 8 {
		t.Fatalf("dropped %d (%d bytes), left %d (%d bytes)", dropped, droppedBytes, q.Len(), q.Size())
	}
	b, _ := q.Next(context.Background())
	if string(b) != "cccc" {
		t.Fatalf("next %q, want the oldest kept block", b)
	}
	// Not acknowledged (a failed send): the same block comes again.
	if b, _ = q.Next(context.Background()); string(b) != "cccc" {
		t.Fatalf("unacknowledged block not first: %q", b)
	}
	q.Ack()
	if b, _ = q.Next(context.Background()); string(b) != "dddd" || q.Len() != 1 {
		t.Fatalf("after ack: next %q, %d left", b, q.Len())
	}
	// The handed-out block is dropped by the cap before it is acknowledged: Ack must not remove
	// the block that replaced it.
	_ = q.Push([]byte("eeeeeeeeee"))
	q.Ack()
	if b, _ = q.Next(context.Background()); string(b) != "eeeeeeeeee" || dropped != 3 {
		t.Fatalf("after a drop under a pending ack: next %q, dropped %d", b, dropped)
	}
}

// TestWriterVictoriaMetrics pushes to a real VictoriaMetrics and reads back the exact timestamps.
func TestWriterVictoriaMetrics(t *testing.T) {
	vm := testenv.VictoriaMetrics(t)
	set := metrics.NewSet()
	w, err := NewVM(VMOptions{URL: vm.URL, Options: Options{Batch: 3, Interval: 100 * time.Millisecond, Log: quietLog(), Metrics: set}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	base := time.Now().Add(-time.Minute).Truncate(time.Second).UnixMilli()
	var want []int64
	for i := range 10 {
		ts := base + int64(i)*1000 + 123 // odd milliseconds: no rounding to push time
		want = append(want, ts)
		w.Add(sample.Sample{Name: "wardops_test_push", Labels: []sample.Label{{Name: "device_id", Value: "1"}}, Value: float64(i), Timestamp: ts})
	}
	cancel() // the last partial batch must go out in the shutdown flush
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		exp, err := vm.Export(`wardops_test_push`, time.UnixMilli(base-1000), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got = exp["1"]; len(got) == len(want) {
			break
		}
		_, _ = http.Get(vm.URL + "/internal/force_flush")
		time.Sleep(200 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("exported %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d at %d, want %d", i, got[i], want[i])
		}
	}
}

// TestWriterRetries uses an httptest server to produce on demand the answers a real
// VictoriaMetrics gives only under load or misuse: 503 with Retry-After, 429, and a 400.
func TestWriterRetries(t *testing.T) {
	tests := []struct {
		name        string
		answers     []int // status per request; the last repeats
		retryAfter  string
		wantBodies  int // requests that delivered the block
		wantRejects int
	}{
		{"ok", []int{204}, "", 1, 0},
		{"503 then ok", []int{503, 503, 204}, "", 1, 0},
		{"429 retry-after", []int{429, 204}, "1", 1, 0},
		{"400 dropped", []int{400}, "", 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var n int
			var delivered atomic.Int32
			var times []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				zr, err := gzip.NewReader(r.Body)
				if err != nil {
					t.Errorf("body not gzip: %v", err)
					return
				}
				body, _ := io.ReadAll(zr)
				if !strings.HasPrefix(string(body), "m{") {
					t.Errorf("body %q", body)
				}
				mu.Lock()
				code := tc.answers[min(n, len(tc.answers)-1)]
				n++
				times = append(times, time.Now())
				mu.Unlock()
				if tc.retryAfter != "" {
					rw.Header().Set("Retry-After", tc.retryAfter)
				}
				if code/100 == 2 {
					delivered.Add(1)
				}
				rw.WriteHeader(code)
			}))
			defer srv.Close()
			set := metrics.NewSet()
			w, err := NewVM(VMOptions{URL: srv.URL, Options: Options{Batch: 1, Interval: time.Second, MinBackoff: 10 * time.Millisecond, MaxBackoff: 2 * time.Second, Log: quietLog(), Metrics: set}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- w.Run(ctx) }()
			w.Add(sample.Sample{Name: "m", Labels: []sample.Label{{Name: "a", Value: "b"}}, Value: 1, Timestamp: 1})
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && metric(set, "wardops_collector_push_sent_blocks_total")+metric(set, `wardops_collector_push_dropped_blocks_total{reason="rejected"}`) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			if int(delivered.Load()) != tc.wantBodies || int(metric(set, `wardops_collector_push_dropped_blocks_total{reason="rejected"}`)) != tc.wantRejects {
				t.Fatalf("delivered %d rejected %d, want %d and %d", delivered.Load(), metric(set, `wardops_collector_push_dropped_blocks_total{reason="rejected"}`), tc.wantBodies, tc.wantRejects)
			}
			if tc.retryAfter == "1" && len(times) >= 2 && times[1].Sub(times[0]) < 900*time.Millisecond {
				t.Errorf("retried after %v, Retry-After said 1s", times[1].Sub(times[0]))
			}
		})
	}
}

// TestWriterHoldsWhileDown: with VictoriaMetrics down the block waits and is sent once it is back.
func TestWriterHoldsWhileDown(t *testing.T) {
	vm := testenv.VictoriaMetrics(t)
	vm.Stop()
	set := metrics.NewSet()
	w, err := NewVM(VMOptions{URL: vm.URL, Options: Options{Batch: 1, Interval: time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Log: quietLog(), Metrics: set}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	ts := time.Now().Add(-time.Minute).UnixMilli()
	w.Add(sample.Sample{Name: "wardops_test_down", Labels: []sample.Label{{Name: "device_id", Value: "7"}}, Value: 1, Timestamp: ts})
	time.Sleep(700 * time.Millisecond)
	if metric(set, "wardops_collector_push_retries_total") == 0 {
		t.Fatal("no retries while VictoriaMetrics was down")
	}
	vm.Start()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && metric(set, "wardops_collector_push_sent_blocks_total") == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if metric(set, "wardops_collector_push_sent_blocks_total") != 1 {
		t.Fatalf("sent %d blocks after recovery, want 1", metric(set, "wardops_collector_push_sent_blocks_total"))
	}
}

// metric reads one of the sink's self-metrics, 0 while it is not exported.
func metric(set *metrics.Set, name string) uint64 {
	v, _ := testenv.LookupMetric(set, name)
	return uint64(v)
}

// TestReplayAfterKill: VictoriaMetrics SIGKILLed under load loses the inserts it acknowledged but
// had not flushed; with the replay window the sink sends them again once the server is back, and
// every sample is there afterwards. The same run without the window must lose samples: that is the
// loss the window exists for (the kill lands within VictoriaMetrics' flush interval of the last
// acknowledged inserts).
func TestReplayAfterKill(t *testing.T) {
	tests := []struct {
		name     string
		span     time.Duration
		wantLoss bool // without the window the kill loses what was acknowledged but not flushed
	}{
		{"replay window", 30 * time.Second, false},
		{"no window", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Deduplication collapses the replayed copies, as the compose file configures it.
			vm := testenv.VictoriaMetrics(t, "-dedup.minScrapeInterval=1ms")
			set := metrics.NewSet()
			w, err := NewVM(VMOptions{URL: vm.URL, ReplaySpan: tc.span, Options: Options{Batch: 200, Interval: 50 * time.Millisecond,
				MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Log: quietLog(), Metrics: set}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- w.Run(ctx) }()
			const series, ticks = 20, 300 // 20 series every 10 ms for 3 s
			base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
			for i := range ticks {
				if i == ticks/2 {
					vm.Stop() // SIGKILL while samples flow
					time.Sleep(500 * time.Millisecond)
					vm.Start()
				}
				for s := range series {
					w.Add(sample.Sample{Name: "wardops_test_replay", Labels: []sample.Label{{Name: "device_id", Value: strconv.Itoa(s)}},
						Value: float64(i), Timestamp: base + int64(i)*10})
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := vm.ForceFlush(); err != nil {
				t.Fatal(err)
			}
			exp, err := vm.Export(`wardops_test_replay`, time.UnixMilli(base-1000), time.UnixMilli(base+ticks*10+1000))
			if err != nil {
				t.Fatal(err)
			}
			missing := 0
			for s := range series {
				have := map[int64]bool{}
				for _, ts := range exp[strconv.Itoa(s)] {
					have[ts] = true
				}
				for i := range ticks {
					if !have[base+int64(i)*10] {
						missing++
					}
				}
			}
			replayed, _ := testenv.LookupMetric(set, "wardops_collector_push_replayed_blocks_total")
			t.Logf("%s: %d of %d samples missing after the kill, %.0f blocks re-sent", tc.name, missing, series*ticks, replayed)
			if tc.wantLoss {
				if missing == 0 || replayed != 0 {
					t.Fatalf("without a window: %d samples missing, %.0f blocks re-sent; want a loss and no re-send", missing, replayed)
				}
				return
			}
			if missing != 0 {
				t.Fatalf("%d samples missing after VictoriaMetrics was killed", missing)
			}
			if replayed == 0 {
				t.Fatal("no block re-sent after the kill")
			}
		})
	}
}

package query

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// snapAnswer is what the staleness tests read from a dashboard or device-list answer.
type snapAnswer struct {
	code        int
	age         int // the Age header, seconds
	requested   time.Time
	answered    time.Time
	GeneratedAt time.Time `json:"generated_at"`
	Source      string    `json:"source"`
	Degraded    bool      `json:"degraded"`
	Problems    []string  `json:"problems"`
	Totals      counts    `json:"totals"`
	Total       int       `json:"total"`
}

func (e *env) fetchSnap(path string, timeout time.Duration) snapAnswer {
	e.t.Helper()
	c := http.Client{Timeout: timeout}
	a := snapAnswer{requested: time.Now()}
	resp, err := c.Get(e.ts.URL + path)
	if err != nil {
		e.t.Errorf("GET %s: %v", path, err)
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a.answered, a.code = time.Now(), resp.StatusCode
	if err := json.Unmarshal(b, &a); err != nil {
		e.t.Errorf("GET %s: %d %q: %v", path, resp.StatusCode, b, err)
	}
	if a.age, err = strconv.Atoi(resp.Header.Get("Age")); err != nil {
		e.t.Errorf("GET %s: Age header %q", path, resp.Header.Get("Age"))
	}
	return a
}

// checkBound fails unless the answer's snapshot is no older than ttl plus one build (at most the
// build deadline) when it arrived, in generated_at and in the Age header alike.
func (e *env) checkBound(a snapAnswer) {
	e.t.Helper()
	bound := e.opts.CacheTTL + e.srv.snaps.deadline
	if age := a.answered.Sub(a.GeneratedAt); age > bound {
		e.t.Errorf("generated_at %s is %s old when answered, bound %s", a.GeneratedAt, age, bound)
	}
	if time.Duration(a.age)*time.Second > bound {
		e.t.Errorf("Age %d s, bound %s", a.age, bound)
	}
}

var buildsLine = regexp.MustCompile(`(?m)^wardops_query_snapshot_builds_total\{trigger="\w+"\} (\d+)$`)

// builds is the number of snapshot builds so far, from the service's own /metrics.
func (e *env) builds() int {
	e.t.Helper()
	resp, err := http.Get(e.ts.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := 0
	for _, m := range buildsLine.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// settle waits until no build is running, so that counting builds afterwards counts new ones.
func (e *env) settle() {
	e.t.Helper()
	eventually(e.t, "no build in flight", func() bool {
		e.srv.snaps.mu.Lock()
		defer e.srv.snaps.mu.Unlock()
		return e.srv.snaps.inflight.Load() == nil
	})
}

func truthTotals(devs []fleetDev, tr truth) counts {
	var c counts
	for _, d := range devs {
		c.add(tr.status[d.ID])
	}
	return c
}

// TestNoBuildWithoutReaders: with nobody asking for fifteen TTLs nothing is built; the first read
// after that waits for one build and gets a snapshot made after it asked, not the old one.
func TestNoBuildWithoutReaders(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheTTL = 200 * time.Millisecond })
	devs, tr := seedScenario(e)
	checkAgainstTruth(t, e, devs, tr, sourcePostgres)
	e.settle()
	before := e.builds()
	time.Sleep(15 * e.opts.CacheTTL)
	if n := e.builds(); n != before {
		t.Fatalf("%d builds with no reader", n-before)
	}
	for _, path := range []string{"/api/v1/dashboard", "/api/v1/devices?limit=5000"} {
		time.Sleep(2 * e.opts.CacheTTL)
		e.settle()
		before := e.builds()
		a := e.fetchSnap(path, time.Minute)
		if a.code != 200 {
			t.Fatalf("%s: %d", path, a.code)
		}
		if a.GeneratedAt.Before(a.requested) {
			t.Errorf("%s after a quiet period: generated_at %s is before the request (%s): an old snapshot",
				path, a.GeneratedAt, a.requested)
		}
		e.checkBound(a)
		if n := e.builds() - before; n != 1 {
			t.Errorf("%s after a quiet period: %d builds, want 1", path, n)
		}
	}
	e.settle()
	if n := e.builds(); n != before+2 {
		t.Errorf("%d builds in all, want %d", n, before+2)
	}
}

// TestConcurrentReadersShareOneBuild is a wall of screens waking up together after a quiet period:
// fifty readers of the dashboard and the device list cost one build, and all get the same fresh,
// correct snapshot.
func TestConcurrentReadersShareOneBuild(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheTTL = time.Second })
	devs, tr := seedScenario(e)
	e.get("/api/v1/dashboard", nil)
	time.Sleep(e.opts.CacheTTL + e.opts.CacheTTL/2)
	e.settle()
	before := e.builds()
	const readers = 50
	answers := make([]snapAnswer, readers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range readers {
		path := "/api/v1/dashboard"
		if i%2 == 1 {
			path = "/api/v1/devices?limit=" + strconv.Itoa(1+i)
		}
		wg.Go(func() {
			<-start
			answers[i] = e.fetchSnap(path, time.Minute)
		})
	}
	close(start)
	wg.Wait()
	if n := e.builds() - before; n != 1 {
		t.Fatalf("%d concurrent readers after a quiet period caused %d builds, want 1", readers, n)
	}
	want := truthTotals(devs, tr)
	first := answers[0].requested
	for i, a := range answers {
		if a.requested.Before(first) {
			first = a.requested
		}
		if a.code != 200 || !a.GeneratedAt.Equal(answers[0].GeneratedAt) {
			t.Errorf("reader %d: %d, generated_at %s; reader 0 had %s", i, a.code, a.GeneratedAt, answers[0].GeneratedAt)
		}
		if i%2 == 0 && a.Totals != want {
			t.Errorf("reader %d: totals %+v, want %+v", i, a.Totals, want)
		}
		if i%2 == 1 && a.Total != len(devs) {
			t.Errorf("reader %d: list total %d, want %d", i, a.Total, len(devs))
		}
		e.checkBound(a)
	}
	if answers[0].GeneratedAt.Before(first) {
		t.Errorf("generated_at %s is before the first request (%s): an old snapshot", answers[0].GeneratedAt, first)
	}
}

// TestHungBackendsBoundTheWait: reads of ping_results wait forever (a lock held by an open
// transaction, on the real server). The first reader still gets an answer within the build
// deadline: the state from VictoriaMetrics, marked degraded, with an Age inside the bound. With
// VictoriaMetrics hung as well, the answer still comes by the deadline, every device unknown.
//
// The hung VictoriaMetrics is a real TCP listener on loopback that reads requests and never
// replies, since a real one cannot be made to hang on demand; nothing inside the service is
// replaced. The build deadline is shortened through the cache's field so the test does not wait
// the production ten seconds.
func TestHungBackendsBoundTheWait(t *testing.T) {
	for _, vmHung := range []bool{false, true} {
		t.Run(map[bool]string{false: "ping_results hung", true: "both hung"}[vmHung], func(t *testing.T) {
			var tweak func(*Options)
			if vmHung {
				addr := hungListener(t)
				tweak = func(o *Options) { o.VMQueryURL = "http://" + addr }
			}
			e := newEnv(t, tweak)
			e.srv.snaps.deadline = 2 * time.Second
			devs, tr := seedScenario(e)
			e.lockPings()
			a := e.fetchSnap("/api/v1/dashboard", 3*e.srv.snaps.deadline)
			if a.code != 200 || a.Source != sourceVM || !a.Degraded || len(a.Problems) == 0 {
				t.Fatalf("dashboard with ping_results hung: %d source %q degraded %t problems %q", a.code, a.Source, a.Degraded, a.Problems)
			}
			want := truthTotals(devs, tr)
			if vmHung {
				want = counts{Devices: want.Devices, Unknown: want.Devices - want.Disabled, Disabled: want.Disabled}
			}
			if a.Totals != want {
				t.Errorf("totals %+v, want %+v", a.Totals, want)
			}
			if a.GeneratedAt.Before(a.requested) {
				t.Errorf("generated_at %s is before the request (%s)", a.GeneratedAt, a.requested)
			}
			if took := a.answered.Sub(a.requested); took > e.srv.snaps.deadline+time.Second {
				t.Errorf("answered after %s, deadline %s", took, e.srv.snaps.deadline)
			}
			e.checkBound(a)
		})
	}
}

// hungListener accepts TCP connections on loopback and never answers on them.
func hungListener(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read by nobody: the requests just hang
			mu.Unlock()
		}
	}()
	return l.Addr().String()
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

var (
	//go:embed testdata/blackbox.yml
	blackboxYML []byte
	//go:embed testdata/snmp.yml
	snmpYML []byte
	//go:embed testdata/vmagent.yml.tmpl
	vmagentTmpl string
)

// fpingShard is the most targets one fping process takes: fping numbers every echo of a run
// from one 16-bit sequence space (65,535 hosts × counts at most), so -C 3 fits about 21,000.
const fpingShard = 20_000

// runFping runs `fping -C 3` over the fleet once per cycle: the floor for ICMP, since it does
// nothing but send and match echoes. Fleets above fpingShard run as several fping processes one
// after another within the cycle. Runs follow each other without waiting for the next 30 s
// boundary: an idle fping uses no CPU, so pacing would change the wall time, not the figures.
func (b *bench) runFping(ctx context.Context, f *fleet, dir string) *Result {
	r := &Result{Size: f.size, Pipeline: "fping -C 3", Kind: "ping", Reference: true, Expected: float64(f.size * b.o.Cycles),
		WantCycles: b.o.Cycles, Interval: b.o.Interval}
	bin, err := exec.LookPath(b.o.FpingBin)
	if err != nil {
		r.Err = fmt.Errorf("fping is required: apt-get install -y fping: %w", err)
		return r
	}
	shards, err := f.writeTargetShards(dir, fpingShard)
	if err != nil {
		r.Err = err
		return r
	}
	// fping sends every target's first echo, then the second... -i apart. Spreading the 3×N
	// echoes over a third of the interval keeps a cycle on time at any size; 1 ms is the usual floor.
	gap := min(1.0, b.o.Interval.Seconds()*1000/3/float64(3*f.size))
	args := []string{"-q", "-C", "3", "-p", "1000", "-t", "2000", "-i", strconv.FormatFloat(gap, 'f', 3, 64), "-f"}
	r.Notes = append(r.Notes, fmt.Sprintf("fping %s TARGETS, %d process(es) of ≤%d targets in turn per cycle; one warm-up cycle discarded; cycles back to back",
		strings.Join(args, " "), len(shards), fpingShard))
	var up int
	for i := 0; i <= b.o.Cycles; i++ {
		start := time.Now()
		var cpu time.Duration
		var probes, answered int
		for _, shard := range shards {
			c, rss, p, a, err := fpingOnce(ctx, bin, append(args, shard))
			if err != nil {
				r.Err = err
				return r
			}
			cpu += c
			probes += p
			answered += a
			r.PeakRSS = max(r.PeakRSS, rss)
		}
		if i == 0 {
			continue
		}
		r.CPU += cpu
		r.Cycles = append(r.Cycles, time.Since(start))
		r.Probes += float64(probes)
		up += answered
	}
	if miss := r.Probes - float64(up); miss > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%.0f probe(s) got no reply", miss))
	}
	return r
}

// fpingOnce runs one fping to completion and returns its CPU time and peak RSS (rusage) and the
// targets it reported, and how many of them answered.
func fpingOnce(ctx context.Context, bin string, args []string) (cpu time.Duration, rss uint64, probes, answered int, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	// Exit 1 means some targets did not answer: still a completed run.
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return 0, 0, 0, 0, fmt.Errorf("fping: %w: %.300s", err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, 0, 0, errors.New("fping: no rusage")
	}
	probes, answered = countFping(stderr.Bytes())
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), uint64(ru.Maxrss) * 1024, probes, answered, nil
}

// countFping reads fping -C summary lines ("127.30.0.1 : 0.05 0.04 -") and counts targets and
// targets with at least one reply.
func countFping(out []byte) (targets, answered int) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		_, rtts, ok := strings.Cut(sc.Text(), " : ")
		if !ok {
			continue
		}
		targets++
		for _, f := range strings.Fields(rtts) {
			if f != "-" {
				answered++
				break
			}
		}
	}
	return targets, answered
}

// exporterRun describes one exporter scraped by vmagent.
type exporterRun struct {
	name    string // pipeline name in the table
	kind    string // ping or snmp
	bin     string
	config  []byte
	cfgFlag string // flag that takes the config path
	job     string
	module  string
	path    string // exporter endpoint (/probe, /snmp)
	port    int    // target port appended to each address (0: none)
	notes   []string
}

// runExporter runs exporter + vmagent on the fleet and measures both processes together, as an
// operator would pay for both.
func (b *bench) runExporter(ctx context.Context, f *fleet, dir string, e exporterRun, side map[string]int) *Result {
	r := &Result{Size: f.size, Pipeline: e.name, Kind: e.kind, Expected: float64(f.size * b.o.Cycles), WantCycles: b.o.Cycles,
		Interval: b.o.Interval, Notes: e.notes, Reference: e.kind == "snmp"}
	cs := &children{log: b.log}
	defer cs.stopAll()
	bin, err := exec.LookPath(e.bin)
	if err != nil {
		r.Err = fmt.Errorf("%s is required (Debian package of the same name): %w", e.bin, err)
		return r
	}
	if _, err := exec.LookPath(b.o.VMAgentBin); err != nil {
		r.Err = fmt.Errorf("vmagent is required: %w", err)
		return r
	}
	cfg := filepath.Join(dir, e.job+".yml")
	if err := os.WriteFile(cfg, e.config, 0o644); err != nil {
		r.Err = fmt.Errorf("cannot write %s: %w", cfg, err)
		return r
	}
	port, err := freePort()
	if err != nil {
		r.Err = err
		return r
	}
	exAddr := fmt.Sprintf("127.0.0.1:%d", port)
	ex, err := cs.start(e.job, filepath.Join(dir, e.job+".log"), nil, bin, e.cfgFlag+"="+cfg, "--web.listen-address="+exAddr, "--log.level=error")
	if err != nil {
		r.Err = err
		return r
	}
	if r.Err = waitHTTP(ctx, ex, "http://"+exAddr+"/metrics", 30*time.Second); r.Err != nil {
		return r
	}
	targets := filepath.Join(dir, e.job+"-targets.json")
	if r.Err = f.writeFileSD(targets, e.port); r.Err != nil {
		return r
	}
	va, vaURL, err := b.startVMAgent(ctx, cs, dir, e, targets, exAddr, f.size, &r.Notes)
	if err != nil {
		r.Err = err
		return r
	}
	w := &window{
		pids: []int{ex.pid(), va.pid()}, side: side, interval: b.o.Interval, warmup: b.o.Warmup, cycles: b.o.Cycles,
		perCycle: f.size, log: b.log.With("pipeline", e.name, "size", f.size),
		// Counted in VictoriaMetrics: at 100,000 targets vmagent's own /metrics stops answering
		// for tens of seconds while it and the exporter saturate both cores.
		counted: vmCounted(b.vm, "sum_over_time", `up{job="`+e.job+`"}`),
		fresh:   newFreshness(b.vm, "up", `job="`+e.job+`",`, "instance", f.sample(b.o.FreshSample), b.log),
	}
	m, err := w.run(ctx)
	if err != nil {
		r.Err = err
		return r
	}
	b.fill(r, m)
	r.Notes = append(r.Notes, w.fresh.note()...)
	if e.kind == "snmp" {
		re := strings.Join(f.sample(b.o.FreshSample), "|")
		sel := `job="` + e.job + `",instance=~"` + re + `"`
		b.perPoll(ctx, r, m, "{"+sel+"}", "up{"+sel+"}", "snmp_scrape_packets_sent{"+sel+"}")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ps, err := scrape(sctx, vaURL); err == nil {
		failed, _ := ps.sum("vm_promscrape_scrapes_failed_total", nil)
		timedOut, _ := ps.sum("vm_promscrape_scrapes_timed_out_total", nil)
		if failed > 0 || timedOut > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("vmagent since start: %.0f failed scrape(s), %.0f timed out", failed, timedOut))
		}
	} else {
		r.Notes = append(r.Notes, fmt.Sprintf("vmagent's /metrics did not answer at the end: %v", err))
	}
	return r
}

// startVMAgent writes the scrape config and starts vmagent remote-writing to the benchmark's
// VictoriaMetrics. It returns the child and its /metrics URL.
func (b *bench) startVMAgent(ctx context.Context, cs *children, dir string, e exporterRun, targets, exAddr string, size int, notes *[]string) (*child, string, error) {
	t, err := template.New("vmagent").Parse(vmagentTmpl)
	if err != nil {
		return nil, "", fmt.Errorf("cannot parse vmagent template: %w", err)
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]string{
		"Interval": b.o.Interval.String(), "Timeout": "10s", "Job": e.job, "Path": e.path, "Module": e.module,
		"Targets": targets, "Exporter": exAddr,
	})
	if err != nil {
		return nil, "", fmt.Errorf("cannot fill vmagent template: %w", err)
	}
	cfg := filepath.Join(dir, "vmagent-"+e.job+".yml")
	if err := os.WriteFile(cfg, buf.Bytes(), 0o644); err != nil {
		return nil, "", fmt.Errorf("cannot write %s: %w", cfg, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-promscrape.config=" + cfg, "-remoteWrite.url=" + b.vm.url + "/api/v1/write",
		"-remoteWrite.tmpDataPath=" + filepath.Join(dir, "vmagent-"+e.job+"-queue"),
		"-httpListenAddr=" + addr, "-loggerLevel=ERROR", "-promscrape.suppressScrapeErrors"}
	if keepAlive := fdsAvailable(); size+1000 > keepAlive {
		// vmagent keeps one connection per target; past the open-file limit it crashes, so large
		// fleets are scraped with a connection per scrape, as an operator would configure it.
		args = append(args, "-promscrape.disableKeepAlive")
		*notes = append(*notes, fmt.Sprintf("vmagent -promscrape.disableKeepAlive: %d targets exceed the open-file limit %d", size, keepAlive))
	}
	va, err := cs.start("vmagent", filepath.Join(dir, "vmagent-"+e.job+".log"), nil, b.o.VMAgentBin, args...)
	if err != nil {
		return nil, "", err
	}
	if err := waitHTTP(ctx, va, "http://"+addr+"/health", 30*time.Second); err != nil {
		return nil, "", err
	}
	return va, "http://" + addr + "/metrics", nil
}

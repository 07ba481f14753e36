package snmp

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/sim"
)

// TestHelperSimProcess is not a test: BenchmarkPoll re-executes the test binary with
// WARDOPS_SIM_HELPER set to run the simulator in its own process, so the benchmark's CPU
// accounting (getrusage of this process) covers the poller alone.
func TestHelperSimProcess(t *testing.T) {
	addrs := os.Getenv("WARDOPS_SIM_HELPER")
	if addrs == "" {
		return
	}
	f := startSim(t, addrs)
	fmt.Printf("port %d\n", f.Port())
	bufio.NewReader(os.Stdin).ReadString('\n') // the benchmark closes stdin to stop us
}

func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkPoll polls 300 simulated devices (8 interfaces each) with 32 polls in flight, with
// system + if-mib and with if-mib-full (every ifTable and ifXTable column), and reports the
// poller's CPU-seconds per 1,000 polls and CPU-microseconds per sample returned.
//
//	go test -run '^$' -bench Poll -benchtime 3000x ./collector/snmp/
func BenchmarkPoll(b *testing.B) {
	for _, version := range []string{"2c", "3"} {
		for _, profiles := range [][]string{{"system", "if-mib"}, {"if-mib-full"}} {
			b.Run("v"+version+"/"+strings.Join(profiles, "+"), func(b *testing.B) { benchPoll(b, version, profiles) })
		}
	}
}

// benchAddrs is a range no test uses: tests that drop traffic to one address with nftables
// (127.24.x) would otherwise stall the benchmark if one of them leaves its rule behind.
const benchAddrs = "127.26.0.1-127.26.1.44"

func benchPoll(b *testing.B, version string, profiles []string) {
	const devices = 300
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSimProcess$")
	cmd.Env = append(os.Environ(), "WARDOPS_SIM_HELPER="+benchAddrs)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("simulator helper: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "port ")))
	if err != nil {
		b.Fatalf("simulator helper said %q", line)
	}
	addrs, _ := sim.ParseAddrs(benchAddrs)
	if len(addrs) != devices {
		b.Fatalf("%d addresses", len(addrs))
	}
	items := profileItems(b, profiles...)
	p, _ := newTestPoller(2*time.Second, 1)
	devs := make([]model.Device, devices)
	for i, a := range addrs {
		devs[i] = device(int64(i+1), a, port, version)
		poll(b, p, devs[i], items) // warm the label caches: steady state is what we measure
	}
	jobs := make(chan model.Device)
	var wg sync.WaitGroup
	var failed sync.Map
	var samples atomic.Int64
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range jobs {
				ss, err := p.Poll(context.Background(), d, items)
				if err != nil {
					failed.Store(d.ID, err)
				}
				samples.Add(int64(len(ss)))
			}
		}()
	}
	b.ResetTimer()
	cpu0 := cpuSeconds(syscall.RUSAGE_SELF)
	for i := 0; i < b.N; i++ {
		jobs <- devs[i%devices]
	}
	close(jobs)
	wg.Wait()
	cpu := cpuSeconds(syscall.RUSAGE_SELF) - cpu0
	b.StopTimer()
	failed.Range(func(k, v any) bool { b.Errorf("device %v: %v", k, v); return false })
	b.ReportMetric(cpu/float64(b.N)*1000, "cpu-s/1000polls")
	b.ReportMetric(cpu/float64(samples.Load())*1e6, "cpu-µs/sample")
	b.ReportMetric(float64(samples.Load())/float64(b.N), "samples/poll")
}

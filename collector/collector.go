package collector

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/wardops/wardops/collector/sink"
	"github.com/wardops/wardops/collector/spool"
	"github.com/wardops/wardops/internal/httpsec"
)

// Options configures Run. Run fills the Log, Metrics and sink fields of the parts itself.
type Options struct {
	Schedule SchedulerOptions        // Fleet and Engine required; Samples and Pings are set by Run
	VM       sink.VMOptions          // URL required
	Pings    sink.PingResultsOptions // Store required
	// SNMPStates receives each device's latest SNMP poll for the alerter's SNMP rules
	// (snmp_states); nil writes none.
	SNMPStates SNMPStateStore
	Listen     string // host:port serving /metrics; "" serves nothing
	// Group, when set, shares the fleet with the other collectors on the same database
	// (membership.go); nil probes every enabled device.
	Group *MembershipOptions
	// PprofListen serves /debug/pprof on a listener of its own; "" (the default) serves no
	// profiles: a goroutine dump or a 40 s CPU profile is nothing to offer beside /metrics.
	PprofListen  string
	TLS          *tls.Config // nil: plain HTTP on both listeners
	AllowedHosts []string    // Host names answered besides IP literals and localhost
	// DataDir holds the durable spools, DataDir/vm and DataDir/ping_results, where samples and rows
	// wait while their backend is down and which a restart replays. "" keeps them in memory only
	// (lost at exit, counted as dropped). A Queue already set in VM or Pings wins.
	DataDir string
	// SpoolMaxSize caps both spools' files together (WARDOPS_SPOOL_MAX_SIZE): three quarters for
	// VictoriaMetrics, whose samples are several per probe, a quarter for ping_results (one
	// compact row per probe). 0 takes the spool's default.
	SpoolMaxSize int64
	Log          *slog.Logger
	Metrics      *metrics.Set
	// Help is the HELP text of families the caller registered on Metrics (build info, retention),
	// by family name; the collector's own are in help.go.
	Help map[string]string
}

// Run owns every goroutine of the collector until ctx ends, then shuts down in order: the
// /metrics server, the scheduler (no new probes; the ones in flight finish), then the VictoriaMetrics
// and ping_results writers, which send what they can within their FlushTimeout and close their
// spools, which keep the rest for the next start. The caller owns the engine.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil || o.Metrics == nil {
		return errors.New("cannot run collector: Log and Metrics are required")
	}
	o.VM.Log, o.VM.Metrics = o.Log.With("part", "push"), o.Metrics
	o.Pings.Log, o.Pings.Metrics = o.Log.With("part", "ping_results"), o.Metrics
	o.Schedule.Log, o.Schedule.Metrics = o.Log.With("part", "scheduler"), o.Metrics
	closeSpools, err := openSpools(&o)
	if err != nil {
		return err
	}
	vm, err := sink.NewVM(o.VM)
	if err != nil {
		closeSpools()
		return err
	}
	pings, err := sink.NewPingResults(o.Pings)
	if err != nil {
		closeSpools()
		return err
	}
	var group *Membership
	if o.Group != nil {
		o.Group.Log, o.Group.Metrics = o.Log.With("part", "membership"), o.Metrics
		if group, err = NewMembership(*o.Group); err != nil {
			closeSpools()
			return err
		}
		group.Join(ctx)
		o.Schedule.Fleet = newOwnedFleet(o.Schedule.Fleet, group)
		o.Schedule.Reload = group.Changed()
	}
	o.Schedule.Samples = vm.Add
	o.Schedule.Pings = pings.Add
	var states *snmpStates
	if o.SNMPStates != nil {
		states = newSNMPStates(o.SNMPStates, o.Log.With("part", "snmp_states"), o.Metrics)
		o.Schedule.SNMPStates = states.observe
	}
	sched, err := NewScheduler(o.Schedule)
	if err != nil {
		closeSpools()
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var servers []*http.Server
	var srvErrs []error
	var srvMu sync.Mutex
	var srvDone sync.WaitGroup
	serve := func(what, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s for %s: %w", addr, what, err)
		}
		srv := &http.Server{Handler: httpsec.Wrap(h, httpsec.NewHosts(o.AllowedHosts)), TLSConfig: o.TLS,
			ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, srv)
		srvDone.Add(1)
		go func() {
			defer srvDone.Done()
			var err error
			if o.TLS != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				srvMu.Lock()
				srvErrs = append(srvErrs, fmt.Errorf("collector %s server on %s: %w", what, addr, err))
				srvMu.Unlock()
				cancel() // a collector nobody can watch should not run silently
			}
		}()
		o.Log.Info("collector "+what+" listening", "addr", ln.Addr().String(), "tls", o.TLS != nil)
		return nil
	}
	stopServers := func() {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		for _, srv := range servers {
			_ = srv.Shutdown(sctx)
		}
		scancel()
		srvDone.Wait()
	}
	if o.Listen != "" {
		if err := serve("/metrics", o.Listen, metricsHandler(o.Metrics, o.Help)); err != nil {
			closeSpools()
			return err
		}
	}
	if o.PprofListen != "" {
		if err := serve("/debug/pprof", o.PprofListen, pprofHandler()); err != nil {
			stopServers()
			closeSpools()
			return err
		}
	}

	// The writers outlive ctx: they must still take what the last probes produce, then flush.
	wctx, stopWriters := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriters()
	var writers sync.WaitGroup
	var vmErr, pgErr error
	writers.Add(2)
	go func() { defer writers.Done(); vmErr = vm.Run(wctx) }()
	go func() { defer writers.Done(); pgErr = pings.Run(wctx) }()
	if states != nil {
		writers.Go(func() { states.Run(wctx) })
	}

	// The heartbeat outlives the scheduler: the group learns this collector left only after its
	// last probe, so no device goes unprobed in between.
	var member sync.WaitGroup
	mctx, stopMember := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMember()
	if group != nil {
		member.Go(func() { _ = group.Run(mctx) })
	}
	registerEngineStats(o.Metrics, o.Schedule.Engine)
	o.Log.Info("collector started", "engine", o.Schedule.Engine.Name(), "vm", sink.ImportURL(o.VM.URL))
	schedErr := sched.Run(ctx)

	stopServers()
	stopMember()
	member.Wait()
	stopWriters()
	writers.Wait()
	o.Log.Info("collector stopped")
	return errors.Join(errors.Join(srvErrs...), schedErr, vmErr, pgErr)
}

// openSpools opens the spools under o.DataDir into the writers' options. The writers close them at
// the end of their Run; the returned func closes them on the error paths before that.
func openSpools(o *Options) (closeAll func(), err error) {
	var opened []*spool.Queue
	closeAll = func() {
		for _, q := range opened {
			if err := q.Close(); err != nil {
				o.Log.Error("cannot close spool", "err", err)
			}
		}
	}
	if o.DataDir == "" {
		return closeAll, nil
	}
	open := func(name string, maxBytes int64) (*sink.SpoolQueue, error) {
		q, err := spool.Open(filepath.Join(o.DataDir, name), spool.Options{Name: name, MaxDiskBytes: maxBytes,
			Metrics: o.Metrics, Log: o.Log.With("part", "spool")})
		if err != nil {
			closeAll()
			return nil, err
		}
		opened = append(opened, q)
		return sink.NewSpoolQueue(q), nil
	}
	vmCap, pgCap := o.SpoolMaxSize*3/4, o.SpoolMaxSize/4
	if o.VM.Queue == nil {
		if o.VM.Queue, err = open("vm", vmCap); err != nil {
			return nil, err
		}
	}
	if o.Pings.Queue == nil {
		if o.Pings.Queue, err = open("ping_results", pgCap); err != nil {
			return nil, err
		}
	}
	return closeAll, nil
}

func metricsHandler(set *metrics.Set, extraHelp map[string]string) http.Handler {
	// HELP and TYPE lines make the page Prometheus text format proper: promtool, Grafana's metric
	// browser and vmagent's metadata all read them. The switch is the library's, process-wide.
	metrics.ExposeMetadata(true)
	// Process and Go runtime metrics come from client_golang's collectors, as on the query
	// service: the same names on both pages, and names that follow the conventions (the
	// library's own include go_cgo_calls_count typed counter and process_io_*_total as gauges).
	runtime := prometheus.NewRegistry()
	runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		var own bytes.Buffer
		set.WritePrometheus(&own)
		mfs, err := runtime.Gather()
		if err != nil {
			http.Error(w, "cannot gather process metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		if err := writeWithHelp(w, own.Bytes(), extraHelp); err != nil {
			return
		}
		enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return
			}
		}
	})
	return mux
}

// pprofHandler is the profiles, served only on WARDOPS_PPROF_LISTEN: the first thing wanted when
// a collector burns CPU at 3 AM, and nothing to expose on the metrics port by default.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

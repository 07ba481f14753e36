package icmp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	probing "github.com/prometheus-community/pro-bing"
	xicmp "golang.org/x/net/icmp"
)

// Socket modes accepted by the engines.
const (
	ModeAuto = "auto"
	ModeRaw  = "raw" // SOCK_RAW: root or CAP_NET_RAW
	ModeUDP  = "udp" // SOCK_DGRAM ICMP: unprivileged where net.ipv4.ping_group_range allows
)

// probingEngine runs one short-lived pro-bing Pinger per probe. It is simple and robust but costs a
// socket and three goroutines per probe; the shared engine exists for large fleets.
type probingEngine struct {
	log *slog.Logger
	raw bool
	// nextID hands each Pinger its own echo identifier: a per-process random start plus a counter,
	// so concurrent probes of this process never share an id (a raw socket's BPF filter matches on
	// it) and a restart or another pinger on the host does not reuse ours (blackbox_exporter #411).
	nextID atomic.Uint32
}

// NewProbing returns the pro-bing engine. mode is ModeRaw, ModeUDP or ModeAuto, which takes raw
// sockets when they can be opened and datagram ICMP sockets otherwise, and logs which.
func NewProbing(log *slog.Logger, mode string) (Engine, error) {
	raw, err := ResolveMode(log, mode)
	if err != nil {
		return nil, err
	}
	e := &probingEngine{log: log, raw: raw}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("cannot seed icmp ids: %w", err)
	}
	e.nextID.Store(binary.LittleEndian.Uint32(b[:]))
	return e, nil
}

// ResolveMode reports whether mode means raw sockets, probing the system for ModeAuto. An explicit
// mode that cannot open its socket is an error, so a misconfiguration shows at start-up.
func ResolveMode(log *slog.Logger, mode string) (raw bool, err error) {
	canOpen := func(network string) error {
		c, err := xicmp.ListenPacket(network, "0.0.0.0")
		if err != nil {
			return err
		}
		return c.Close()
	}
	switch mode {
	case ModeRaw:
		if err := canOpen("ip4:icmp"); err != nil {
			return false, fmt.Errorf("cannot open raw ICMP socket (need root or CAP_NET_RAW): %w", err)
		}
		return true, nil
	case ModeUDP:
		if err := canOpen("udp4"); err != nil {
			return false, fmt.Errorf("cannot open datagram ICMP socket (check net.ipv4.ping_group_range): %w", err)
		}
		return false, nil
	case ModeAuto, "":
		rawErr := canOpen("ip4:icmp")
		if rawErr == nil {
			log.Info("icmp sockets chosen", "mode", ModeRaw)
			return true, nil
		}
		if err := canOpen("udp4"); err != nil {
			return false, fmt.Errorf("cannot open any ICMP socket: raw: %w; datagram (net.ipv4.ping_group_range): %w", rawErr, err)
		}
		log.Info("icmp sockets chosen", "mode", ModeUDP, "raw_err", rawErr)
		return false, nil
	}
	return false, fmt.Errorf("unknown icmp mode %q: want auto, raw or udp", mode)
}

func (e *probingEngine) Name() string { return "probing" }

func (e *probingEngine) Close() error { return nil }

// Probe sends req.Count echoes req.Interval apart and waits req.Timeout after the last one.
func (e *probingEngine) Probe(ctx context.Context, req Request) (Result, error) {
	if !req.Addr.IsValid() {
		return Result{}, errors.New("cannot probe: invalid address")
	}
	if req.Count < 1 {
		req.Count = 1
	}
	p := probing.New(req.Addr.String())
	p.SetIPAddr(&net.IPAddr{IP: req.Addr.AsSlice(), Zone: req.Addr.Zone()})
	p.SetPrivileged(e.raw)
	p.SetID(int(uint16(e.nextID.Add(1))))
	p.SetLogger(slogAdapter{e.log})
	p.Count = req.Count
	p.Interval = req.Interval
	if p.Interval <= 0 {
		p.Interval = time.Second
	}
	// pro-bing's Timeout bounds the whole run, not the wait after the last echo.
	p.Timeout = time.Duration(req.Count-1)*p.Interval + req.Timeout
	p.RecordRtts, p.RecordTTLs = false, false
	start := time.Now()
	err := p.RunWithContext(ctx)
	st := p.Statistics()
	res := Result{Sent: st.PacketsSent, Received: st.PacketsRecv, Start: start}
	if res.Received > res.Sent { // a duplicate never counts, but never report negative loss either
		res.Received = res.Sent
	}
	if res.Received > 0 {
		res.Min, res.Max, res.Avg, res.StdDev = st.MinRtt, st.MaxRtt, st.AvgRtt, st.StdDevRtt
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return res, fmt.Errorf("cannot ping %s: %w", req.Addr, err)
	}
	if err != nil {
		return res, fmt.Errorf("ping %s interrupted: %w", req.Addr, err)
	}
	return res, nil
}

// slogAdapter routes pro-bing's own log lines to the injected logger instead of the std logger.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Fatalf(f string, v ...any) { a.log.Error("pro-bing: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Errorf(f string, v ...any) { a.log.Error("pro-bing: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Warnf(f string, v ...any)  { a.log.Warn("pro-bing: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Infof(f string, v ...any)  { a.log.Debug("pro-bing: " + fmt.Sprintf(f, v...)) }
func (a slogAdapter) Debugf(f string, v ...any) { a.log.Debug("pro-bing: " + fmt.Sprintf(f, v...)) }

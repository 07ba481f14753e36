package icmp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The shared engine sends every echo of every probe through one ICMP socket per address family
// and demultiplexes replies by sequence number in one reader goroutine per socket. A probe costs
// the caller's goroutine, one timer and one channel; an echo costs a map entry and a sendto(2). Compare the probing engine, where every probe opens a socket and on raw sockets every
// reply on the host is copied to every open socket, which is quadratic in concurrent probes.
//
// Identification: with raw sockets the process picks a random ICMP id and kernel filters let only
// echo replies carrying it reach the sockets (BPF on IPv4; the ICMPv6 type filter plus BPF on
// IPv6), so other pingers on the host (fping, another collector) neither cost us CPU nor get
// mistaken for ours. With datagram ICMP sockets the kernel rewrites the id to the socket's own and
// delivers only its replies. Within our id, the 16-bit sequence space is shared by all probes of
// both families; each echo also carries a random nonce and remembers its destination, so a reply
// to a reused sequence number, or one from the other family, is recognised as late instead of
// credited to the wrong probe.

const (
	echoPayloadLen = 16 // 8-byte nonce + 8 bytes padding
	echoLen        = 8 + echoPayloadLen
	readBatch      = 64          // messages per recvmmsg(2)
	rcvBufBytes    = 4 << 20     // socket receive buffer: room for bursts of tens of thousands of replies
	maxKernelRTT   = time.Minute // a kernel timestamp further off than this means the clock jumped
)

// ErrNoIPv6 is returned (wrapped) by the shared engine's Probe for an IPv6 address when no ICMPv6
// socket could be opened at start, as on a host booted without IPv6.
var ErrNoIPv6 = errors.New("no ICMPv6 socket")

// SharedStats are the shared engine's cumulative counters over both address families, read by the
// collector's self-metrics.
type SharedStats struct {
	Sent        uint64 // echo requests handed to the kernel
	Received    uint64 // replies matched to a waiting probe
	Late        uint64 // replies for echoes whose probe had already given up (or duplicates)
	SendErrors  uint64 // echo requests the kernel refused (ENOBUFS, no route, ...)
	ReadErrors  uint64 // socket read failures other than Close
	RcvbufDrops uint64 // replies the kernel dropped because a receive buffer was full (SO_RXQ_OVFL)
	KernelTimed uint64 // replies timed by the kernel's receive timestamp rather than user space
}

// echo is one request in flight. It lives in its probe's slice; the engine's map points at it.
type echo struct {
	seq   uint16
	nonce uint64
	dst   netip.Addr // unmapped, without zone: as parseReply reports the source
	sent  time.Time
	rtt   time.Duration
	state uint8 // echoIdle, echoPending, echoGot
}

const (
	echoIdle uint8 = iota
	echoPending
	echoGot
)

type probeState struct {
	echoes  []echo
	replies chan struct{} // one token per matched reply; buffered to len(echoes)
}

type sharedEngine struct {
	log   *slog.Logger
	v4    *sock
	v6    *sock // nil when no ICMPv6 socket could be opened; v6Err says why
	v6Err error

	mu       sync.Mutex
	inflight map[uint16]*echo
	owner    map[uint16]*probeState
	nextSeq  uint16

	sent, received, late, sendErrs, readErrs, kernelTimed atomic.Uint64

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewShared returns the shared-socket engine. mode is ModeRaw, ModeUDP or ModeAuto (raw when it can
// be opened, else datagram ICMP; the choice is logged), and applies to both families. IPv4 must
// work; when IPv6 does not (no ICMPv6 socket on this host) the engine starts anyway, logs a
// warning and fails IPv6 probes with ErrNoIPv6.
func NewShared(log *slog.Logger, mode string) (Engine, error) {
	e, err := newShared(log, mode, xicmp.ListenPacket)
	if err != nil {
		return nil, err // not a nil *sharedEngine in a non-nil Engine
	}
	return e, nil
}

func newShared(log *slog.Logger, mode string, listen listenFunc) (*sharedEngine, error) {
	raw, err := ResolveMode(log, mode)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("cannot pick icmp id and sequence: %w", err)
	}
	// One random id for both raw sockets; datagram sockets get theirs from the kernel.
	id := binary.BigEndian.Uint16(b[:2])
	e := &sharedEngine{
		log:      log,
		inflight: make(map[uint16]*echo),
		owner:    make(map[uint16]*probeState),
		nextSeq:  binary.BigEndian.Uint16(b[2:]),
		done:     make(chan struct{}),
	}
	if e.v4, err = openSock(log, listen, false, raw, id); err != nil {
		return nil, err
	}
	if e.v6, err = openSock(log, listen, true, raw, id); err != nil {
		e.v6Err = fmt.Errorf("%w: %w", ErrNoIPv6, err)
		log.Warn("no IPv6 icmp socket; IPv6 devices will fail their probes", "err", err)
	}
	for _, s := range e.socks() {
		e.wg.Add(1)
		go e.reader(s)
		log.Info("shared icmp engine started", "network", s.network(), "icmp_id", s.id)
	}
	return e, nil
}

// socks returns the engine's open sockets.
func (e *sharedEngine) socks() []*sock {
	if e.v6 == nil {
		return []*sock{e.v4}
	}
	return []*sock{e.v4, e.v6}
}

func (e *sharedEngine) Name() string { return "shared" }

// Stats returns the engine's cumulative counters.
func (e *sharedEngine) Stats() SharedStats {
	st := SharedStats{
		Sent: e.sent.Load(), Received: e.received.Load(), Late: e.late.Load(),
		SendErrors: e.sendErrs.Load(), ReadErrors: e.readErrs.Load(), KernelTimed: e.kernelTimed.Load(),
	}
	for _, s := range e.socks() {
		st.RcvbufDrops += s.drops.Load()
	}
	return st
}

// Close stops the readers and releases the sockets; probes still running return an error.
func (e *sharedEngine) Close() error {
	var errs []error
	e.closeOnce.Do(func() {
		close(e.done)
		for _, s := range e.socks() {
			if err := s.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("cannot close %s socket: %w", s.network(), err))
			}
		}
		e.wg.Wait()
	})
	return errors.Join(errs...)
}

// errClosed is returned by Probe once the engine is closed.
var errClosed = errors.New("icmp engine closed")

// Probe sends req.Count echoes req.Interval apart from the caller's goroutine and waits until every
// reply is in or req.Timeout has passed since the last echo.
func (e *sharedEngine) Probe(ctx context.Context, req Request) (Result, error) {
	select {
	case <-e.done:
		return Result{}, fmt.Errorf("cannot probe %s: %w", req.Addr, errClosed)
	default:
	}
	addr := req.Addr.Unmap()
	var s *sock
	switch {
	case addr.Is4():
		s = e.v4
	case addr.Is6() && e.v6 != nil:
		s = e.v6
	case addr.Is6():
		return Result{}, fmt.Errorf("cannot probe %s: %w", req.Addr, e.v6Err)
	default:
		return Result{}, errors.New("cannot probe: invalid address")
	}
	count := max(req.Count, 1)
	interval, timeout := req.Interval, req.Timeout
	if interval <= 0 {
		interval = time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	ps := &probeState{echoes: make([]echo, count), replies: make(chan struct{}, count)}
	// The zone picks the interface for link-local IPv6 addresses.
	var dst net.Addr = &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	if !s.raw {
		dst = &net.UDPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	var res Result
	got := 0
	// wait collects replies until deadline; with untilAll it also returns once every sent echo is
	// answered.
	wait := func(deadline time.Time, untilAll bool) error {
		timer.Reset(time.Until(deadline))
		for {
			if untilAll && got >= res.Sent {
				return nil
			}
			select {
			case <-ps.replies:
				got++
			case <-timer.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-e.done:
				return errClosed
			}
		}
	}
	var err error
	var sendErr error
	last := time.Time{}
	for i := 0; i < count && err == nil; i++ {
		if i > 0 {
			if err = wait(last.Add(interval), false); err != nil {
				break
			}
		}
		sent, serr := e.send(s, ps, i, addr, dst)
		if serr != nil {
			sendErr = serr
			last = time.Now()
			continue
		}
		last = sent
		if res.Sent == 0 {
			res.Start = sent
		}
		res.Sent++
	}
	if err == nil && res.Sent > 0 {
		err = wait(last.Add(timeout), true)
	}
	e.finish(ps, &res)
	switch {
	case err != nil:
		return res, fmt.Errorf("ping %s interrupted: %w", req.Addr, err)
	case res.Sent == 0:
		return res, fmt.Errorf("cannot ping %s: %w", req.Addr, sendErr)
	}
	return res, nil
}

// send registers echo i of ps under a free sequence number and writes it to s.
func (e *sharedEngine) send(s *sock, ps *probeState, i int, addr netip.Addr, dst net.Addr) (time.Time, error) {
	ec := &ps.echoes[i]
	// The nonce only has to differ between uses of a sequence number, not resist an attacker.
	ec.nonce = mrand.Uint64()
	var nb [8]byte
	binary.LittleEndian.PutUint64(nb[:], ec.nonce)
	ec.dst = addr.WithZone("")

	e.mu.Lock()
	seq, ok := e.allocSeqLocked()
	if !ok {
		e.mu.Unlock()
		e.sendErrs.Add(1)
		return time.Time{}, errors.New("all 65536 icmp sequence numbers are in flight")
	}
	ec.seq = seq
	ec.state = echoPending
	ec.sent = time.Now()
	e.inflight[seq] = ec
	e.owner[seq] = ps
	e.mu.Unlock()

	var pkt [echoLen]byte
	pkt[0] = byte(ipv4.ICMPTypeEcho)
	if s.v6 {
		pkt[0] = byte(ipv6.ICMPTypeEchoRequest)
	}
	binary.BigEndian.PutUint16(pkt[4:6], s.id)
	binary.BigEndian.PutUint16(pkt[6:8], seq)
	copy(pkt[8:16], nb[:])
	if !s.v6 {
		// The ICMPv6 checksum covers a pseudo-header with the source address, which only the
		// kernel knows; it fills it in on raw (RFC 3542 section 3.1) and datagram ICMPv6 sockets.
		binary.BigEndian.PutUint16(pkt[2:4], checksum(pkt[:]))
	}
	if _, err := s.conn.WriteTo(pkt[:], dst); err != nil {
		e.mu.Lock()
		e.forgetLocked(ec)
		e.mu.Unlock()
		e.sendErrs.Add(1)
		return time.Time{}, fmt.Errorf("cannot send echo to %s: %w", addr, err)
	}
	e.sent.Add(1)
	return ec.sent, nil
}

// allocSeqLocked returns the next sequence number not in flight.
func (e *sharedEngine) allocSeqLocked() (uint16, bool) {
	for range 1 << 16 {
		s := e.nextSeq
		e.nextSeq++
		if _, busy := e.inflight[s]; !busy {
			return s, true
		}
	}
	return 0, false
}

func (e *sharedEngine) forgetLocked(ec *echo) {
	if e.inflight[ec.seq] == ec {
		delete(e.inflight, ec.seq)
		delete(e.owner, ec.seq)
	}
	ec.state = echoIdle
}

// finish withdraws the probe's unanswered echoes, so replies to them count as late, and fills in the
// round-trip statistics.
func (e *sharedEngine) finish(ps *probeState, res *Result) {
	var sum, sumSq float64
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range ps.echoes {
		ec := &ps.echoes[i]
		switch ec.state {
		case echoPending:
			e.forgetLocked(ec)
		case echoGot:
			res.Received++
			r := ec.rtt
			if res.Received == 1 || r < res.Min {
				res.Min = r
			}
			res.Max = max(res.Max, r)
			sum += float64(r)
			sumSq += float64(r) * float64(r)
		}
	}
	if res.Received > 0 {
		n := float64(res.Received)
		mean := sum / n
		res.Avg = time.Duration(mean)
		res.StdDev = time.Duration(math.Sqrt(max(sumSq/n-mean*mean, 0)))
	}
}

// reader receives replies on s in batches and hands each to its probe until s is closed.
func (e *sharedEngine) reader(s *sock) {
	defer e.wg.Done()
	ms := make([]ipv4.Message, readBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
		ms[i].OOB = make([]byte, 128)
	}
	var errLogged time.Time
	for {
		n, err := s.batch.ReadBatch(ms, 0)
		if err != nil {
			select {
			case <-e.done:
				return
			default:
			}
			e.readErrs.Add(1)
			if time.Since(errLogged) > 10*time.Second {
				errLogged = time.Now()
				e.log.Error("cannot read icmp socket", "network", s.network(), "err", err)
			}
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		now := time.Now()
		for i := range ms[:n] {
			e.handle(s, &ms[i], now)
		}
	}
}

// handle matches one packet received on s to the echo it answers.
func (e *sharedEngine) handle(s *sock, m *ipv4.Message, now time.Time) {
	src, b, ok := s.parseReply(m)
	if !ok {
		return
	}
	seq := binary.BigEndian.Uint16(b[6:8])
	var nonce uint64
	if len(b) >= 16 {
		nonce = binary.LittleEndian.Uint64(b[8:16])
	}
	recv, kernel := s.parseOOB(m.OOB[:m.NN])

	e.mu.Lock()
	ec := e.inflight[seq]
	if ec == nil || ec.nonce != nonce || ec.dst != src || ec.state != echoPending {
		e.mu.Unlock()
		e.late.Add(1)
		return
	}
	ps := e.owner[seq]
	rtt := recv.Sub(ec.sent)
	if !kernel || rtt <= 0 || rtt > maxKernelRTT {
		rtt, kernel = now.Sub(ec.sent), false
	}
	ec.rtt = rtt
	ec.state = echoGot
	delete(e.inflight, seq)
	delete(e.owner, seq)
	e.mu.Unlock()

	e.received.Add(1)
	if kernel {
		e.kernelTimed.Add(1)
	}
	ps.replies <- struct{}{} // buffered to the probe's echo count; each echo answers once
}

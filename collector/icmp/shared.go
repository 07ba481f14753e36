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
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The shared engine (issue 4) sends every echo of every probe through one ICMP socket and
// demultiplexes replies by sequence number in one reader goroutine. A probe costs the caller's
// goroutine, one timer and one channel; an echo costs a map entry and a sendto(2). Compare the
// probing engine, where every probe opens a socket and on raw sockets every reply on the host is
// copied to every open socket, which is quadratic in concurrent probes.
//
// Identification: with a raw socket the process picks a random ICMP id and a BPF filter lets only
// echo replies carrying it reach the socket, so other pingers on the host (fping, another collector)
// neither cost us CPU nor get mistaken for ours. With a datagram ICMP socket the kernel rewrites the
// id to the socket's own and delivers only its replies. Within our id, the 16-bit sequence space is
// shared by all probes; each echo also carries a random nonce and remembers its destination, so a
// reply to a reused sequence number is recognised as late instead of credited to the wrong probe.

const (
	echoPayloadLen = 16 // 8-byte nonce + 8 bytes padding
	echoLen        = 8 + echoPayloadLen
	readBatch      = 64          // messages per recvmmsg(2)
	rcvBufBytes    = 4 << 20     // socket receive buffer: room for bursts of tens of thousands of replies
	maxKernelRTT   = time.Minute // a kernel timestamp further off than this means the clock jumped
)

// SharedStats are the shared engine's cumulative counters, read by the collector's self-metrics.
type SharedStats struct {
	Sent        uint64 // echo requests handed to the kernel
	Received    uint64 // replies matched to a waiting probe
	Late        uint64 // replies for echoes whose probe had already given up (or duplicates)
	SendErrors  uint64 // echo requests the kernel refused (ENOBUFS, no route, ...)
	ReadErrors  uint64 // socket read failures other than Close
	RcvbufDrops uint64 // replies the kernel dropped because the receive buffer was full (SO_RXQ_OVFL)
	KernelTimed uint64 // replies timed by the kernel's receive timestamp rather than user space
}

// echo is one request in flight. It lives in its probe's slice; the engine's map points at it.
type echo struct {
	seq   uint16
	nonce uint64
	dst   [4]byte
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
	log  *slog.Logger
	raw  bool
	id   uint16 // raw sockets: ours; datagram sockets: informational, the kernel sets it
	conn *xicmp.PacketConn
	p4   *ipv4.PacketConn

	mu       sync.Mutex
	inflight map[uint16]*echo
	owner    map[uint16]*probeState
	nextSeq  uint16

	sent, received, late, sendErrs, readErrs, rcvbufDrops, kernelTimed atomic.Uint64

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewShared returns the shared-socket engine. mode is ModeRaw, ModeUDP or ModeAuto (raw when it can
// be opened, else datagram ICMP; the choice is logged). Only IPv4 is supported for now.
func NewShared(log *slog.Logger, mode string) (Engine, error) {
	raw, err := ResolveMode(log, mode)
	if err != nil {
		return nil, err
	}
	network := "udp4"
	if raw {
		network = "ip4:icmp"
	}
	conn, err := xicmp.ListenPacket(network, "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("cannot open %s socket: %w", network, err)
	}
	e := &sharedEngine{
		log:      log,
		raw:      raw,
		conn:     conn,
		p4:       conn.IPv4PacketConn(),
		inflight: make(map[uint16]*echo),
		owner:    make(map[uint16]*probeState),
		done:     make(chan struct{}),
	}
	if err := e.setup(); err != nil {
		_ = conn.Close() // already failing; the setup error is the one to report
		return nil, err
	}
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("cannot seed icmp sequence: %w", err)
	}
	e.nextSeq = binary.BigEndian.Uint16(b[:])
	e.wg.Add(1)
	go e.reader()
	log.Info("shared icmp engine started", "network", network, "icmp_id", e.id)
	return e, nil
}

// setup picks the ICMP id and sets the socket options: receive buffer, kernel timestamps, overflow
// counter and, for raw sockets, the BPF filter.
func (e *sharedEngine) setup() error {
	if e.raw {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("cannot pick icmp id: %w", err)
		}
		e.id = binary.BigEndian.Uint16(b[:])
		prog, err := bpf.Assemble(echoReplyFilter(e.id))
		if err != nil {
			return fmt.Errorf("cannot assemble icmp filter: %w", err)
		}
		if err := e.p4.SetBPF(prog); err != nil {
			return fmt.Errorf("cannot attach icmp filter: %w", err)
		}
	} else if ua, ok := e.conn.LocalAddr().(*net.UDPAddr); ok {
		e.id = uint16(ua.Port) // the kernel's ping-socket ident, written into every request
	}
	sc, ok := e.p4.PacketConn.(syscall.Conn)
	if !ok {
		return errors.New("cannot set icmp socket options: no raw connection")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("cannot set icmp socket options: %w", err)
	}
	err = rc.Control(func(fd uintptr) {
		// SO_RCVBUFFORCE passes rmem_max when we may (root); otherwise settle for what is allowed.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufBytes) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufBytes) // best effort
		}
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			e.log.Warn("no kernel receive timestamps on icmp socket; timing replies in user space", "err", err)
		}
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			e.log.Warn("receive-buffer overflows on the icmp socket will not be counted", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("cannot set icmp socket options: %w", err)
	}
	return nil
}

// echoReplyFilter accepts IPv4 packets carrying an ICMP echo reply with our id and drops the rest in
// the kernel (raw sockets see every ICMP packet on the host, our own requests on loopback included).
func echoReplyFilter(id uint16) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadMemShift{Off: 0},                                       // X = IPv4 header length
		bpf.LoadIndirect{Off: 0, Size: 1},                              // A = ICMP type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 3},          // echo reply?
		bpf.LoadIndirect{Off: 4, Size: 2},                              // A = ICMP id
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id), SkipFalse: 1}, // ours?
		bpf.RetConstant{Val: 0xffff},                                   // accept
		bpf.RetConstant{Val: 0},                                        // drop
	}
}

func (e *sharedEngine) Name() string { return "shared" }

// Stats returns the engine's cumulative counters.
func (e *sharedEngine) Stats() SharedStats {
	return SharedStats{
		Sent: e.sent.Load(), Received: e.received.Load(), Late: e.late.Load(),
		SendErrors: e.sendErrs.Load(), ReadErrors: e.readErrs.Load(),
		RcvbufDrops: e.rcvbufDrops.Load(), KernelTimed: e.kernelTimed.Load(),
	}
}

// Close stops the reader and releases the socket; probes still running return an error.
func (e *sharedEngine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		close(e.done)
		if cerr := e.conn.Close(); cerr != nil {
			err = fmt.Errorf("cannot close icmp socket: %w", cerr)
		}
		e.wg.Wait()
	})
	return err
}

// errClosed is returned by Probe once the engine is closed.
var errClosed = errors.New("icmp engine closed")

// Probe sends req.Count echoes req.Interval apart from the caller's goroutine and waits until every
// reply is in or req.Timeout has passed since the last echo.
func (e *sharedEngine) Probe(ctx context.Context, req Request) (Result, error) {
	addr := req.Addr.Unmap()
	if !addr.Is4() {
		return Result{}, fmt.Errorf("cannot probe %s: the shared engine supports IPv4 only", req.Addr)
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
	var dst net.Addr = &net.IPAddr{IP: addr.AsSlice()}
	if !e.raw {
		dst = &net.UDPAddr{IP: addr.AsSlice()}
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
		sent, serr := e.send(ps, i, addr, dst)
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

// send registers echo i of ps under a free sequence number and writes it to the socket.
func (e *sharedEngine) send(ps *probeState, i int, addr netip.Addr, dst net.Addr) (time.Time, error) {
	ec := &ps.echoes[i]
	// The nonce only has to differ between uses of a sequence number, not resist an attacker.
	ec.nonce = mrand.Uint64()
	var nb [8]byte
	binary.LittleEndian.PutUint64(nb[:], ec.nonce)
	ec.dst = addr.As4()

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
	binary.BigEndian.PutUint16(pkt[4:6], e.id)
	binary.BigEndian.PutUint16(pkt[6:8], seq)
	copy(pkt[8:16], nb[:])
	binary.BigEndian.PutUint16(pkt[2:4], checksum(pkt[:]))
	if _, err := e.conn.WriteTo(pkt[:], dst); err != nil {
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

// reader receives replies in batches and hands each to its probe until the socket is closed.
func (e *sharedEngine) reader() {
	defer e.wg.Done()
	ms := make([]ipv4.Message, readBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
		ms[i].OOB = make([]byte, 128)
	}
	var errLogged time.Time
	for {
		n, err := e.p4.ReadBatch(ms, 0)
		if err != nil {
			select {
			case <-e.done:
				return
			default:
			}
			e.readErrs.Add(1)
			if time.Since(errLogged) > 10*time.Second {
				errLogged = time.Now()
				e.log.Error("cannot read icmp socket", "err", err)
			}
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		now := time.Now()
		for i := range ms[:n] {
			e.handle(&ms[i], now)
		}
	}
}

// handle matches one received packet to the echo it answers.
func (e *sharedEngine) handle(m *ipv4.Message, now time.Time) {
	b := m.Buffers[0][:m.N]
	var src [4]byte
	if e.raw {
		// Raw IPv4 sockets deliver the IP header; the BPF filter already checked type and id.
		if len(b) < 20 {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if len(b) < ihl+8 {
			return
		}
		copy(src[:], b[12:16])
		b = b[ihl:]
	} else {
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok || ua.IP.To4() == nil {
			return
		}
		copy(src[:], ua.IP.To4())
	}
	if len(b) < 8 || b[0] != byte(ipv4.ICMPTypeEchoReply) || b[1] != 0 {
		return
	}
	if e.raw && binary.BigEndian.Uint16(b[4:6]) != e.id {
		return
	}
	seq := binary.BigEndian.Uint16(b[6:8])
	var nonce uint64
	if len(b) >= 16 {
		nonce = binary.LittleEndian.Uint64(b[8:16])
	}
	recv, kernel := e.parseOOB(m.OOB[:m.NN])

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

// parseOOB returns the kernel receive timestamp (SO_TIMESTAMPNS) and records the receive-buffer
// drop counter (SO_RXQ_OVFL) from a message's control data.
func (e *sharedEngine) parseOOB(oob []byte) (time.Time, bool) {
	if len(oob) == 0 {
		return time.Time{}, false
	}
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	var ts time.Time
	ok := false
	for _, cm := range cms {
		if cm.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch cm.Header.Type {
		case unix.SCM_TIMESTAMPNS:
			if len(cm.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				t := *(*unix.Timespec)(unsafe.Pointer(&cm.Data[0]))
				ts, ok = time.Unix(t.Unix()), true
			}
		case unix.SO_RXQ_OVFL:
			if len(cm.Data) >= 4 {
				// A cumulative count of drops on this socket.
				drops := uint64(binary.NativeEndian.Uint32(cm.Data))
				for {
					old := e.rcvbufDrops.Load()
					if drops <= old || e.rcvbufDrops.CompareAndSwap(old, drops) {
						break
					}
				}
			}
		}
	}
	return ts, ok
}

// checksum is the Internet checksum (RFC 1071) over b, with b's checksum field zero.
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

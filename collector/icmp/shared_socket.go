package icmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// sock is the shared engine's socket for one address family, with what the reader needs to parse
// what it receives.
type sock struct {
	v6   bool
	raw  bool
	id   uint16 // raw sockets: ours; datagram sockets: informational, the kernel sets it
	conn *xicmp.PacketConn
	// batch reads with recvmmsg(2). ipv4.Message and ipv6.Message are the same type, so one reader
	// serves both families.
	batch interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
	}
	// drops is the socket's latest SO_RXQ_OVFL value, cumulative since the socket was opened.
	drops atomic.Uint64
}

// listenFunc opens an ICMP endpoint; tests replace it to fail one family on demand.
type listenFunc func(network, address string) (*xicmp.PacketConn, error)

// openSock opens and configures the ICMP socket for one family. id is the echo identifier a raw
// socket's kernel filter lets through; datagram sockets get theirs from the kernel.
func openSock(log *slog.Logger, listen listenFunc, v6, raw bool, id uint16) (*sock, error) {
	s := &sock{v6: v6, raw: raw, id: id}
	network, address := s.network(), "0.0.0.0"
	if v6 {
		address = "::"
	}
	conn, err := listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s socket: %w", network, err)
	}
	s.conn = conn
	if err := s.setup(log); err != nil {
		_ = conn.Close() // already failing; the setup error is the one to report
		return nil, fmt.Errorf("cannot set up %s socket: %w", network, err)
	}
	return s, nil
}

// network is the socket's network as icmp.ListenPacket spells it.
func (s *sock) network() string {
	switch {
	case s.v6 && s.raw:
		return "ip6:ipv6-icmp"
	case s.v6:
		return "udp6"
	case s.raw:
		return "ip4:icmp"
	}
	return "udp4"
}

// setup sets the socket options: receive buffer, kernel timestamps, overflow counter and, for raw
// sockets, the kernel filters that keep everything but our echo replies out.
func (s *sock) setup(log *slog.Logger) error {
	var pc net.PacketConn
	if s.v6 {
		p6 := s.conn.IPv6PacketConn()
		s.batch, pc = p6, p6.PacketConn
		if s.raw {
			// The ICMPv6 type filter runs before the kernel copies the packet to the socket, so the
			// echo requests and neighbour discovery every raw ICMPv6 socket would otherwise see
			// cost nothing; the BPF program below then checks our id.
			var f ipv6.ICMPFilter
			f.SetAll(true)
			f.Accept(ipv6.ICMPTypeEchoReply)
			if err := p6.SetICMPFilter(&f); err != nil {
				return fmt.Errorf("cannot attach icmpv6 type filter: %w", err)
			}
			if err := attachBPF(p6.SetBPF, echoReplyFilter6(s.id)); err != nil {
				return err
			}
		}
	} else {
		p4 := s.conn.IPv4PacketConn()
		s.batch, pc = p4, p4.PacketConn
		if s.raw {
			if err := attachBPF(p4.SetBPF, echoReplyFilter(s.id)); err != nil {
				return err
			}
		}
	}
	if !s.raw {
		if ua, ok := s.conn.LocalAddr().(*net.UDPAddr); ok {
			s.id = uint16(ua.Port) // the kernel's ping-socket ident, written into every request
		}
	}
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return errors.New("cannot set socket options: no raw connection")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("cannot set socket options: %w", err)
	}
	err = rc.Control(func(fd uintptr) {
		// SO_RCVBUFFORCE passes rmem_max when we may (root); otherwise settle for what is allowed.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufBytes) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufBytes) // best effort
		}
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			log.Warn("no kernel receive timestamps on icmp socket; timing replies in user space", "network", s.network(), "err", err)
		}
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			log.Warn("receive-buffer overflows on the icmp socket will not be counted", "network", s.network(), "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("cannot set socket options: %w", err)
	}
	return nil
}

func attachBPF(set func([]bpf.RawInstruction) error, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("cannot assemble icmp filter: %w", err)
	}
	if err := set(raw); err != nil {
		return fmt.Errorf("cannot attach icmp filter: %w", err)
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

// echoReplyFilter6 is echoReplyFilter for raw ICMPv6 sockets. A raw IPv6 socket never sees the IPv6
// header (RFC 3542 section 3), and Linux runs the socket's filter after pulling the IPv6 and
// extension headers off, so the ICMPv6 message starts at offset 0 (TestEchoReplyFilter6InKernel).
func echoReplyFilter6(id uint16) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1}, // A = ICMPv6 type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ipv6.ICMPTypeEchoReply), SkipFalse: 3},
		bpf.LoadAbsolute{Off: 4, Size: 2},                              // A = echo id
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id), SkipFalse: 1}, // ours?
		bpf.RetConstant{Val: 0xffff},                                   // accept
		bpf.RetConstant{Val: 0},                                        // drop
	}
}

// parseReply returns the source and ICMP message of a received packet, or false when it is not
// one to look at.
func (s *sock) parseReply(m *ipv4.Message) (netip.Addr, []byte, bool) {
	b := m.Buffers[0][:m.N]
	var src netip.Addr
	switch {
	case s.raw && !s.v6:
		// Raw IPv4 sockets deliver the IP header; the BPF filter already checked type and id.
		if len(b) < 20 {
			return netip.Addr{}, nil, false
		}
		ihl := int(b[0]&0x0f) * 4
		if len(b) < ihl+8 {
			return netip.Addr{}, nil, false
		}
		src = netip.AddrFrom4([4]byte(b[12:16]))
		b = b[ihl:]
	case s.raw:
		// Raw IPv6 sockets deliver the ICMPv6 message alone; the source is the socket address.
		ia, ok := m.Addr.(*net.IPAddr)
		if !ok {
			return netip.Addr{}, nil, false
		}
		src, _ = netip.AddrFromSlice(ia.IP)
	default:
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			return netip.Addr{}, nil, false
		}
		src, _ = netip.AddrFromSlice(ua.IP)
	}
	// Zones and v4-mapped forms are not compared: echoes remember their destination the same way.
	src = src.Unmap().WithZone("")
	if !src.IsValid() || src.Is6() != s.v6 {
		return netip.Addr{}, nil, false
	}
	replyType := byte(ipv4.ICMPTypeEchoReply)
	if s.v6 {
		replyType = byte(ipv6.ICMPTypeEchoReply)
	}
	if len(b) < 8 || b[0] != replyType || b[1] != 0 {
		return netip.Addr{}, nil, false
	}
	if s.raw && binary.BigEndian.Uint16(b[4:6]) != s.id {
		return netip.Addr{}, nil, false
	}
	return src, b, true
}

// parseOOB returns the kernel receive timestamp (SO_TIMESTAMPNS) and records the receive-buffer
// drop counter (SO_RXQ_OVFL) from a message's control data.
func (s *sock) parseOOB(oob []byte) (time.Time, bool) {
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
					old := s.drops.Load()
					if drops <= old || s.drops.CompareAndSwap(old, drops) {
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

package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/internal/usm"
	"github.com/wardops/wardops/model"
)

// session is one device's SNMP conversation for one poll: a connected UDP socket, closed when
// the poll ends. A socket per poll, not per device, because idle devices then hold no file
// descriptor (100,000 devices would otherwise need 100,000 fds) and no state can go stale between
// polls; the cost is one socket() and connect() per poll and, for v3, one engine-discovery round
// trip, both measured in the package benchmark.
type session struct {
	g      *gosnmp.GoSNMP
	m      *selfMetrics
	noBulk bool // v1, or an agent that mishandles GETBULK
	// maxVarbinds bounds the varbinds one request asks for (columns × max-repetitions): 500 to
	// start, halved on every tooBig and remembered per device.
	maxVarbinds int
	shells      *sync.Pool // where g goes back after the poll; nil: g is the poll's own (v3)

	closeOnce sync.Once
}

// defaultMaxVarbinds keeps a response to some 500 varbinds, about 20 KB of if-mib values: well
// inside a UDP datagram and net-snmp's default message size.
const defaultMaxVarbinds = 500

// newShell returns a GoSNMP whose receive buffer is allocated, for v1/v2c sessions to reuse:
// gosnmp's Connect allocates and zeroes a 64 KiB buffer and draws a crypto/rand request id on
// every call, which at one socket per poll was a fifth of the poller's allocation by bytes. A
// shell is connected once, to the discard port on 127.0.0.1 (UDP connect sends nothing), and
// then given each poll's own socket as Conn; request ids keep counting from its random start.
func newShell() any {
	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: 9, Transport: "udp", Version: gosnmp.Version2c, Community: "-",
		Timeout: time.Second, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		return nil // the caller falls back to a GoSNMP of its own
	}
	g.Conn.Close()
	g.Conn = nil
	return g
}

// dial prepares and connects a session. It never logs and its errors never contain secrets:
// gosnmp's Logger stays unset because its debug output prints communities.
func dial(ctx context.Context, dev model.Device, timeout time.Duration, retries int, maxReps uint32, m *selfMetrics, shells *sync.Pool) (*session, error) {
	port := dev.SNMP.Port
	if port == 0 {
		port = 161
	}
	if !dev.IP.IsValid() || port < 1 || port > 65535 {
		return nil, &PollError{Reason: ReasonConfig, Err: fmt.Errorf("cannot poll %s: bad address or port %d", dev.IP, port)}
	}
	g := &gosnmp.GoSNMP{
		Target:         dev.IP.String(),
		Port:           uint16(port),
		Transport:      "udp",
		Timeout:        timeout,
		Retries:        retries,
		Context:        ctx,
		MaxOids:        gosnmp.MaxOids,
		MaxRepetitions: maxReps,
	}
	s := &session{g: g, m: m, maxVarbinds: defaultMaxVarbinds}
	switch dev.SNMP.Version {
	case "1", "2c", "2":
		g.Version, g.Community = gosnmp.Version2c, dev.SNMP.Community.Reveal()
		if dev.SNMP.Version == "1" {
			g.Version, s.noBulk = gosnmp.Version1, true
		}
		if shell, _ := shells.Get().(*gosnmp.GoSNMP); shell != nil {
			conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dev.IP, uint16(port))))
			if err != nil {
				shells.Put(shell)
				return nil, fmt.Errorf("cannot open SNMP socket to %s: %w", dev.IP, err)
			}
			shell.Target, shell.Port, shell.Version, shell.Community = g.Target, g.Port, g.Version, g.Community
			shell.Timeout, shell.Retries, shell.Context, shell.MaxOids, shell.MaxRepetitions = timeout, retries, ctx, g.MaxOids, maxReps
			shell.Conn = conn
			s.g, s.shells = shell, shells
			return s, nil
		}
	case "3":
		sp, flags, err := usmParams(dev.SNMP)
		if err != nil {
			return nil, &PollError{Reason: ReasonConfig, Err: fmt.Errorf("cannot poll %s: %w", dev.IP, err)}
		}
		g.Version, g.SecurityModel, g.MsgFlags, g.SecurityParameters = gosnmp.Version3, gosnmp.UserSecurityModel, flags, sp
	default:
		return nil, &PollError{Reason: ReasonConfig, Err: fmt.Errorf("cannot poll %s: unsupported SNMP version %q", dev.IP, dev.SNMP.Version)}
	}
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("cannot open SNMP socket to %s: %w", dev.IP, err)
	}
	return s, nil
}

// usmParams builds the v3 security parameters: authPriv with a privacy protocol, authNoPriv with only
// an auth protocol, noAuthNoPriv with neither.
func usmParams(c model.SNMP) (*gosnmp.UsmSecurityParameters, gosnmp.SnmpV3MsgFlags, error) {
	if c.Username == "" {
		return nil, 0, errors.New("SNMPv3 needs a user name")
	}
	auth, err := usm.AuthProtocol(c.AuthProtocol)
	if err != nil {
		return nil, 0, err
	}
	priv, err := usm.PrivProtocol(c.PrivProtocol)
	if err != nil {
		return nil, 0, err
	}
	flags := gosnmp.NoAuthNoPriv
	switch {
	case priv != gosnmp.NoPriv && auth == gosnmp.NoAuth:
		return nil, 0, errors.New("SNMPv3 privacy needs an auth protocol")
	case priv != gosnmp.NoPriv:
		flags = gosnmp.AuthPriv
	case auth != gosnmp.NoAuth:
		flags = gosnmp.AuthNoPriv
	}
	if auth != gosnmp.NoAuth && len(c.AuthKey) < 8 || priv != gosnmp.NoPriv && len(c.PrivKey) < 8 {
		return nil, 0, errors.New("SNMPv3 passphrases must have at least 8 characters (RFC 3414 11.2)")
	}
	return &gosnmp.UsmSecurityParameters{
		UserName: c.Username, AuthenticationProtocol: auth, AuthenticationPassphrase: c.AuthKey.Reveal(),
		PrivacyProtocol: priv, PrivacyPassphrase: c.PrivKey.Reveal(),
	}, flags, nil
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		if s.g.Conn != nil {
			s.g.Conn.Close()
		}
	})
}

// release closes the session and returns a shell to its pool. Only the poll's own goroutine
// calls it, after the context's close callback is stopped or has run (closeOnce waits for it).
func (s *session) release() {
	s.close()
	if s.shells != nil {
		s.g.Conn, s.g.Context, s.g.Community = nil, nil, ""
		s.shells.Put(s.g)
		s.shells = nil
	}
}

func (s *session) get(oids []string) (*gosnmp.SnmpPacket, error) {
	s.m.requests["get"].Inc()
	return s.g.Get(oids)
}

func (s *session) getNext(oids []string) (*gosnmp.SnmpPacket, error) {
	s.m.requests["getnext"].Inc()
	return s.g.GetNext(oids)
}

func (s *session) getBulk(oids []string, reps uint32) (*gosnmp.SnmpPacket, error) {
	s.m.requests["getbulk"].Inc()
	return s.g.GetBulk(oids, 0, reps)
}

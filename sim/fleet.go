// Package sim is the fleet simulator: SNMP agents (v1, v2c, v3 USM) on any number of 127.0.0.0/8
// addresses, with a system group, IF-MIB ifTable/ifXTable and HOST-RESOURCES CPU and storage whose
// counters move realistically. A device can be rebooted (uptime and counters restart) or silenced
// (requests dropped) at run time. Tests, demos and benchmarks use it instead of real gear.
//
// Limits: one UDP socket and one goroutine per address, so the open-file limit (ulimit -n) bounds
// the fleet size; about 10,000 addresses work with a raised limit. Larger fleets (or
// Options.SharedSocket) share one wildcard socket and a few goroutines instead. Only loopback
// addresses are accepted, so the simulator can never answer for, or send to, a real network.
package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"
	"golang.org/x/net/ipv4"
)

// V3User is the single USM user every simulated device accepts. An empty PrivProtocol means
// authNoPriv; protocol names are those of the collector (SHA, SHA256, AES, AES256C, ...).
type V3User struct {
	Username     string
	AuthProtocol string
	AuthKey      string
	PrivProtocol string
	PrivKey      string
}

// Options configure a fleet.
type Options struct {
	Addrs      []netip.Addr // each must be in 127.0.0.0/8
	Port       int          // UDP port on every address; 0 picks a free one (see Fleet.Port)
	Community  string       // v1/v2c community; empty disables v1/v2c
	V3         *V3User      // nil disables v3
	Interfaces int          // interfaces per device; default 8
	// Omit leaves tables out of every device's view, as agents that lack them answer:
	// "ifXTable" (an RFC 1213 agent), "ifTable", "hrProcessorTable", "hrStorageTable".
	Omit []string
	// NoIfXRows lists the ifIndexes (from 1) without an ifXTable row, as on agents that extend only
	// some interfaces; their counters exist only in ifTable.
	NoIfXRows []int
	// SharedSocket answers every device on one socket bound to the wildcard address on Port,
	// telling devices apart by each request's destination address (IP_PKTINFO) and answering from
	// it, instead of one socket per address. Fleets larger than the open-file limit allows
	// (100,000 devices) get it whatever this says. Only loopback traffic reaches the fleet's
	// addresses, and requests to any other address are dropped.
	SharedSocket bool
	// TooBigAbove, when positive, answers a request whose response would carry more varbinds
	// with error-status tooBig and no varbinds, as an agent whose message size is small does
	// (RFC 3416 4.2.1), instead of truncating a GETBULK.
	TooBigAbove int
	// Clock is the agents' time, from which uptime and every counter follow; default time.Now.
	// A test that stops it gets the same values from every request, to compare them exactly.
	Clock func() time.Time
	Log   *slog.Logger
}

// Fleet is a running set of simulated devices. It is safe for concurrent use.
type Fleet struct {
	port    int
	log     *slog.Logger
	layout  *layout
	devices map[netip.Addr]*device
	order   []netip.Addr
	wg      sync.WaitGroup
	served  atomic.Uint64
	closeMu sync.Once
	shared  *ipv4.PacketConn // SharedSocket: every device's requests; nil with a socket per device
}

// device is one simulated agent and its socket.
type device struct {
	addr   netip.Addr
	name   string
	ifaces int
	conn   *net.UDPConn
	silent atomic.Bool
	clock  func() time.Time

	tooBigAbove int // see Options.TooBigAbove

	mu    sync.Mutex
	boot  time.Time
	boots uint32 // snmpEngineBoots: incremented on every reboot (RFC 3414 2.2.2)

	engineID string
	v3       *v3Agent

	ifState map[int]ifaceState // by ifIndex; set by SetAdminDown and SetInErrors, under mu
}

// ifaceState is what a test changed on one interface.
type ifaceState struct {
	down      bool      // ifAdminStatus down(2), and so ifOperStatus down
	errPerSec float64   // ifInErrors grows this much faster than usual...
	errSince  time.Time // ...since then
}

func (d *device) adminState(ifIndex int) ifaceState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ifState[ifIndex]
}

func (f *Fleet) setIface(addr netip.Addr, ifIndex int, fn func(*ifaceState)) error {
	d, ok := f.devices[addr]
	if !ok {
		return fmt.Errorf("sim: no device %s", addr)
	}
	if ifIndex < 1 || ifIndex > d.ifaces {
		return fmt.Errorf("sim: device %s has no ifIndex %d", addr, ifIndex)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ifState == nil {
		d.ifState = map[int]ifaceState{}
	}
	st := d.ifState[ifIndex]
	fn(&st)
	d.ifState[ifIndex] = st
	return nil
}

// SetAdminDown shuts an interface down (ifAdminStatus down, and ifOperStatus with it) or brings
// it back. Every device's last interface is otherwise admin-up and oper-down, a cable pulled.
func (f *Fleet) SetAdminDown(addr netip.Addr, ifIndex int, down bool) error {
	return f.setIface(addr, ifIndex, func(s *ifaceState) { s.down = down })
}

// SetInErrors makes an interface's ifInErrors grow perSecond faster than usual from now on, an
// interface taking errors; a test calls it once per interface.
func (f *Fleet) SetInErrors(addr netip.Addr, ifIndex int, perSecond float64) error {
	d, ok := f.devices[addr]
	if !ok {
		return fmt.Errorf("sim: no device %s", addr)
	}
	now := d.clock()
	return f.setIface(addr, ifIndex, func(s *ifaceState) { s.errPerSec, s.errSince = perSecond, now })
}

// Start binds every address and starts answering. Close stops it.
func Start(opts Options) (*Fleet, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("sim: no addresses")
	}
	if opts.Interfaces <= 0 {
		opts.Interfaces = 8
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Community == "" && opts.V3 == nil {
		return nil, errors.New("sim: neither a community nor a v3 user configured")
	}
	omit := map[string]bool{}
	for _, t := range opts.Omit {
		if !tableNames[t] {
			return nil, fmt.Errorf("sim: cannot omit unknown table %q", t)
		}
		omit[t] = true
	}
	noIfX := map[int]bool{}
	for _, i := range opts.NoIfXRows {
		noIfX[i] = true
	}
	f := &Fleet{port: opts.Port, log: opts.Log, layout: newLayout(opts.Interfaces, omit, noIfX), devices: make(map[netip.Addr]*device, len(opts.Addrs))}
	now := opts.Clock()
	shared := opts.SharedSocket || len(opts.Addrs)+1000 > openFileLimit()
	if shared {
		if err := f.listenShared(); err != nil {
			return nil, err
		}
	}
	for _, a := range opts.Addrs {
		a = a.Unmap()
		if !a.Is4() || !netip.MustParsePrefix("127.0.0.0/8").Contains(a) {
			f.Close()
			return nil, fmt.Errorf("sim: %s is not a 127.0.0.0/8 address", a)
		}
		if _, dup := f.devices[a]; dup {
			continue
		}
		var conn *net.UDPConn
		if !shared {
			var err error
			conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(f.port))))
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("sim: cannot listen on %s:%d: %w", a, f.port, err)
			}
			if f.port == 0 {
				f.port = conn.LocalAddr().(*net.UDPAddr).Port
			}
		}
		b4 := a.As4()
		d := &device{
			addr: a, name: fmt.Sprintf("sim-%d-%d-%d-%d", b4[0], b4[1], b4[2], b4[3]), ifaces: opts.Interfaces, conn: conn, clock: opts.Clock,
			tooBigAbove: opts.TooBigAbove,
			// Devices booted at staggered times in the past, so uptimes and counters differ.
			boot:  now.Add(-time.Duration(1+int(b4[2])*256+int(b4[3])) * time.Minute),
			boots: 1,
			// RFC 3411 SnmpEngineID: enterprise 8072 (net-snmp) with the text format, then the address.
			engineID: "\x80\x00\x1f\x88\x04wardops-sim" + string(b4[:]),
		}
		if opts.V3 != nil {
			v, err := newV3Agent(*opts.V3, d.engineID)
			if err != nil {
				if conn != nil {
					conn.Close()
				}
				f.Close()
				return nil, err
			}
			d.v3 = v
		}
		f.devices[a] = d
		f.order = append(f.order, a)
		if !shared {
			f.wg.Add(1)
			go f.serve(d, opts.Community)
		}
	}
	if shared {
		// A few readers: one socket's requests are then answered on both cores.
		for range sharedReaders {
			f.wg.Add(1)
			go f.serveShared(opts.Community)
		}
	}
	f.log.Info("simulator listening", "devices", len(f.order), "port", f.port, "interfaces", opts.Interfaces, "v3", opts.V3 != nil)
	return f, nil
}

// Port is the UDP port every device answers on.
func (f *Fleet) Port() int { return f.port }

// Addrs lists the devices in start order.
func (f *Fleet) Addrs() []netip.Addr { return append([]netip.Addr(nil), f.order...) }

// Served counts the requests answered so far.
func (f *Fleet) Served() uint64 { return f.served.Load() }

// Reboot restarts a device: sysUpTime and every counter start again from zero and the v3
// engine boots counter goes up.
func (f *Fleet) Reboot(addr netip.Addr) error {
	d, ok := f.devices[addr]
	if !ok {
		return fmt.Errorf("sim: no device %s", addr)
	}
	d.mu.Lock()
	d.boot = d.clock()
	d.boots++
	d.mu.Unlock()
	return nil
}

// SetSilent makes a device drop every request (true) or answer again (false).
func (f *Fleet) SetSilent(addr netip.Addr, silent bool) error {
	d, ok := f.devices[addr]
	if !ok {
		return fmt.Errorf("sim: no device %s", addr)
	}
	d.silent.Store(silent)
	return nil
}

// Close stops every device and waits for their goroutines.
func (f *Fleet) Close() error {
	f.closeMu.Do(func() {
		for _, d := range f.devices {
			if d.conn != nil {
				d.conn.Close()
			}
		}
		if f.shared != nil {
			f.shared.Close()
		}
		f.wg.Wait()
	})
	return nil
}

func (d *device) bootState() (time.Time, uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.boot, d.boots
}

// serve answers one device's requests until its socket is closed.
func (f *Fleet) serve(d *device, community string) {
	defer f.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Warn("simulator read failed", "addr", d.addr, "err", err)
			}
			return
		}
		if d.silent.Load() {
			continue
		}
		out := f.handle(d, community, buf[:n])
		if out == nil {
			continue
		}
		if _, err := d.conn.WriteToUDPAddrPort(out, from); err != nil {
			f.log.Debug("simulator write failed", "addr", d.addr, "err", err)
			continue
		}
		f.served.Add(1)
	}
}

// handle decodes one request and returns the encoded answer, or nil to drop it (bad community,
// undecodable packet), as real agents do.
func (f *Fleet) handle(d *device, community string, msg []byte) []byte {
	if len(msg) < 5 {
		return nil
	}
	// Every SNMP message starts SEQUENCE, INTEGER version; the version byte picks the decoder.
	hdr := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	version, ok := messageVersion(msg)
	if !ok {
		return nil
	}
	if version == gosnmp.Version3 {
		if d.v3 == nil {
			return nil
		}
		return d.v3.handle(d, f.layout, msg)
	}
	if community == "" {
		return nil
	}
	hdr.Version = version
	req, err := hdr.SnmpDecodePacket(append([]byte(nil), msg...))
	if err != nil || req.Community != community {
		return nil
	}
	resp := respond(d, f.layout, req)
	if resp == nil {
		return nil
	}
	resp.Version, resp.Community = req.Version, req.Community
	out, err := resp.MarshalMsg()
	if err != nil {
		f.log.Warn("simulator cannot encode a response", "addr", d.addr, "err", err)
		return nil
	}
	return out
}

// messageVersion reads the version INTEGER of a message without decoding the rest.
func messageVersion(msg []byte) (gosnmp.SnmpVersion, bool) {
	if msg[0] != 0x30 {
		return 0, false
	}
	i := 2
	if msg[1]&0x80 != 0 {
		i += int(msg[1] & 0x7f)
	}
	if i+2 >= len(msg) || msg[i] != 0x02 || msg[i+1] != 1 {
		return 0, false
	}
	switch v := gosnmp.SnmpVersion(msg[i+2]); v {
	case gosnmp.Version1, gosnmp.Version2c, gosnmp.Version3:
		return v, true
	}
	return 0, false
}

// sharedReaders is how many goroutines read the shared socket.
const sharedReaders = 4

// openFileLimit is the soft open-file limit, which bounds a socket-per-device fleet.
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	return int(min(rl.Cur, 1<<30))
}

// listenShared binds the wildcard socket of a SharedSocket fleet and asks for each datagram's
// destination address.
func (f *Fleet) listenShared() error {
	pc, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", f.port))
	if err != nil {
		return fmt.Errorf("sim: cannot listen on port %d: %w", f.port, err)
	}
	p := ipv4.NewPacketConn(pc)
	if err := p.SetControlMessage(ipv4.FlagDst, true); err != nil {
		pc.Close()
		return fmt.Errorf("sim: cannot ask for destination addresses: %w", err)
	}
	f.shared = p
	f.port = pc.LocalAddr().(*net.UDPAddr).Port
	return nil
}

// serveShared answers requests on the shared socket until it is closed: the device is the one
// the request was addressed to, and the answer leaves from that address.
func (f *Fleet) serveShared(community string) {
	defer f.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, cm, from, err := f.shared.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Warn("simulator read failed", "err", err)
			}
			return
		}
		if cm == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(cm.Dst.To4())
		if !ok {
			continue
		}
		d := f.devices[dst]
		if d == nil || d.silent.Load() {
			continue
		}
		out := f.handle(d, community, buf[:n])
		if out == nil {
			continue
		}
		if _, err := f.shared.WriteTo(out, &ipv4.ControlMessage{Src: cm.Dst}, from); err != nil {
			f.log.Debug("simulator write failed", "addr", d.addr, "err", err)
			continue
		}
		f.served.Add(1)
	}
}

package sim

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/gosnmp/gosnmp"
)

// column names one object the simulator serves; rows are interfaces, CPUs or storage entries.
type column int

const (
	colSysDescr column = iota
	colSysObjectID
	colSysUpTime
	colSysName
	colIfNumber
	colIfIndex
	colIfDescr
	colIfType
	colIfSpeed
	colIfOperStatus
	colIfInOctets
	colIfInUcastPkts
	colIfOutOctets
	colIfOutUcastPkts
	colIfInDiscards
	colIfInErrors
	colIfOutErrors
	colIfName
	colIfHCInOctets
	colIfHCInUcastPkts
	colIfHCOutOctets
	colIfHCOutUcastPkts
	colIfHighSpeed
	colIfAlias
	// The rest of ifTable and ifXTable, so a walk of the whole tables (snmp_exporter's stock
	// if_mib module, the if-mib-full profile) does the work it does on a real agent.
	colIfMtu
	colIfPhysAddress
	colIfAdminStatus
	colIfLastChange
	colIfInNUcastPkts
	colIfInUnknownProtos
	colIfOutNUcastPkts
	colIfOutDiscards
	colIfOutQLen
	colIfSpecific
	colIfInMulticastPkts
	colIfInBroadcastPkts
	colIfOutMulticastPkts
	colIfOutBroadcastPkts
	colIfHCInMulticastPkts
	colIfHCInBroadcastPkts
	colIfHCOutMulticastPkts
	colIfHCOutBroadcastPkts
	colIfLinkUpDownTrapEnable
	colIfPromiscuousMode
	colIfConnectorPresent
	colIfCounterDiscontinuityTime
	colHrProcessorLoad
	colHrStorageIndex
	colHrStorageDescr
	colHrStorageUnits
	colHrStorageSize
	colHrStorageUsed
)

// entry is one instance OID of the simulated MIB view.
type entry struct {
	oid oid
	col column
	row int // 0-based row of a table column
}

// layout is the sorted MIB view shared by every device of a fleet; values come from each
// device's own state, so 10,000 devices share one layout.
type layout struct {
	entries []entry
}

const (
	cpus = 2
)

var storageNames = []string{"Physical memory", "Swap space", "/"}

// Tables the simulator can leave out of its view (Options.Omit).
var tableNames = map[string]bool{"ifTable": true, "ifXTable": true, "hrProcessorTable": true, "hrStorageTable": true}

// newLayout builds the view of ifaces interfaces without the omitted tables; noIfX lists the
// ifIndexes that have no ifXTable row.
func newLayout(ifaces int, omit map[string]bool, noIfX map[int]bool) *layout {
	var es []entry
	add := func(o oid, c column, row int) { es = append(es, entry{oid: o, col: c, row: row}) }
	sys := mustOID("1.3.6.1.2.1.1")
	add(sys.append(1, 0), colSysDescr, 0)
	add(sys.append(2, 0), colSysObjectID, 0)
	add(sys.append(3, 0), colSysUpTime, 0)
	add(sys.append(5, 0), colSysName, 0)
	add(mustOID("1.3.6.1.2.1.2.1.0"), colIfNumber, 0)
	ifEntry := mustOID("1.3.6.1.2.1.2.2.1")
	ifX := mustOID("1.3.6.1.2.1.31.1.1.1")
	for _, c := range []struct {
		base oid
		arc  uint32
		col  column
	}{
		{ifEntry, 1, colIfIndex}, {ifEntry, 2, colIfDescr}, {ifEntry, 3, colIfType}, {ifEntry, 5, colIfSpeed},
		{ifEntry, 8, colIfOperStatus}, {ifEntry, 10, colIfInOctets}, {ifEntry, 11, colIfInUcastPkts},
		{ifEntry, 13, colIfInDiscards}, {ifEntry, 14, colIfInErrors}, {ifEntry, 16, colIfOutOctets},
		{ifEntry, 17, colIfOutUcastPkts}, {ifEntry, 20, colIfOutErrors},
		{ifX, 1, colIfName}, {ifX, 6, colIfHCInOctets}, {ifX, 7, colIfHCInUcastPkts}, {ifX, 10, colIfHCOutOctets},
		{ifX, 11, colIfHCOutUcastPkts}, {ifX, 15, colIfHighSpeed}, {ifX, 18, colIfAlias},
		{ifEntry, 4, colIfMtu}, {ifEntry, 6, colIfPhysAddress}, {ifEntry, 7, colIfAdminStatus},
		{ifEntry, 9, colIfLastChange}, {ifEntry, 12, colIfInNUcastPkts}, {ifEntry, 15, colIfInUnknownProtos},
		{ifEntry, 18, colIfOutNUcastPkts}, {ifEntry, 19, colIfOutDiscards}, {ifEntry, 21, colIfOutQLen},
		{ifEntry, 22, colIfSpecific},
		{ifX, 2, colIfInMulticastPkts}, {ifX, 3, colIfInBroadcastPkts}, {ifX, 4, colIfOutMulticastPkts},
		{ifX, 5, colIfOutBroadcastPkts}, {ifX, 8, colIfHCInMulticastPkts}, {ifX, 9, colIfHCInBroadcastPkts},
		{ifX, 12, colIfHCOutMulticastPkts}, {ifX, 13, colIfHCOutBroadcastPkts}, {ifX, 14, colIfLinkUpDownTrapEnable},
		{ifX, 16, colIfPromiscuousMode}, {ifX, 17, colIfConnectorPresent}, {ifX, 19, colIfCounterDiscontinuityTime},
	} {
		isX := c.base.compare(ifX) == 0
		if isX && omit["ifXTable"] || !isX && omit["ifTable"] {
			continue
		}
		for i := 0; i < ifaces; i++ {
			if isX && noIfX[i+1] {
				continue
			}
			add(c.base.append(c.arc, uint32(i+1)), c.col, i)
		}
	}
	// hrProcessorTable is indexed by hrDeviceIndex; net-snmp numbers CPUs from 196608.
	for i := 0; i < cpus && !omit["hrProcessorTable"]; i++ {
		add(mustOID("1.3.6.1.2.1.25.3.3.1.2").append(uint32(196608+i)), colHrProcessorLoad, i)
	}
	hrs := mustOID("1.3.6.1.2.1.25.2.3.1")
	for arc, col := range map[uint32]column{1: colHrStorageIndex, 3: colHrStorageDescr, 4: colHrStorageUnits, 5: colHrStorageSize, 6: colHrStorageUsed} {
		for i := 0; i < len(storageNames) && !omit["hrStorageTable"]; i++ {
			add(hrs.append(arc, uint32(i+1)), col, i)
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].oid.compare(es[j].oid) < 0 })
	return &layout{entries: es}
}

// find returns the index of o, or -1.
func (l *layout) find(o oid) int {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].oid.compare(o) >= 0 })
	if i < len(l.entries) && l.entries[i].oid.compare(o) == 0 {
		return i
	}
	return -1
}

// next returns the index of the first entry after o, or -1 at the end of the MIB view.
func (l *layout) next(o oid) int {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].oid.compare(o) > 0 })
	if i < len(l.entries) {
		return i
	}
	return -1
}

// objectExists tells noSuchInstance (the object is known, the instance is not) from noSuchObject.
func (l *layout) objectExists(o oid) bool {
	if len(o) < 2 {
		return false
	}
	parent := o[:len(o)-1]
	i := l.next(parent)
	return i >= 0 && l.entries[i].oid.hasPrefix(parent)
}

// value renders entry e of device d at time now.
func (d *device) value(e entry, now time.Time) gosnmp.SnmpPDU {
	boot, _ := d.bootState()
	up := now.Sub(boot)
	if up < 0 {
		up = 0
	}
	secs := up.Seconds()
	name := e.oid.String()
	str := func(s string) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.OctetString, Value: []byte(s)}
	}
	integer := func(v int) gosnmp.SnmpPDU { return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Integer, Value: v} }
	gauge := func(v uint64) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Gauge32, Value: uint32(v)}
	}
	c32 := func(v float64) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Counter32, Value: uint32(uint64(v))} // wraps like a real Counter32
	}
	ifaceDown := e.row == d.ifaces-1 && d.ifaces > 1 // the last interface is down, as on most real gear
	admin := d.adminState(e.row + 1)
	ifaceDown = ifaceDown || admin.down // an interface shut down is down (RFC 2863 3.1.13)
	switch e.col {
	case colSysDescr:
		return str("wardops-sim router, " + d.addr.String())
	case colSysObjectID:
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072.3.2.10"}
	case colSysUpTime:
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.TimeTicks, Value: uint32(up / (10 * time.Millisecond))}
	case colSysName:
		return str(d.name)
	case colIfNumber:
		return integer(d.ifaces)
	case colIfIndex:
		return integer(e.row + 1)
	case colIfDescr:
		return str("GigabitEthernet0/" + strconv.Itoa(e.row))
	case colIfType:
		return integer(6) // ethernetCsmacd
	case colIfOperStatus:
		if ifaceDown {
			return integer(2)
		}
		return integer(1)
	case colIfInDiscards:
		return c32(secs * d.rate(e.row, 3) * 1e-6)
	case colIfInErrors:
		extra := 0.0
		if admin.errPerSec > 0 && now.After(admin.errSince) {
			extra = now.Sub(admin.errSince).Seconds() * admin.errPerSec
		}
		return c32(secs*d.rate(e.row, 4)*2e-7 + extra)
	case colIfOutErrors:
		return c32(secs * d.rate(e.row, 5) * 1e-7)
	case colIfName:
		return str("Gi0/" + strconv.Itoa(e.row))
	case colIfHCInOctets, colIfHCOutOctets, colIfHCInUcastPkts, colIfHCOutUcastPkts:
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Counter64, Value: d.traffic(e, secs, ifaceDown)}
	case colIfInOctets, colIfOutOctets, colIfInUcastPkts, colIfOutUcastPkts:
		// The 32-bit ifTable counters are the low 32 bits of the same count (RFC 2863 3.1.6).
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Counter32, Value: uint32(d.traffic(e, secs, ifaceDown))}
	case colIfHighSpeed:
		return gauge(HighSpeed(e.row + 1))
	case colIfSpeed:
		return gauge(Speed(e.row + 1))
	case colIfAlias:
		if e.row%3 == 2 {
			return str("") // unlabelled ports are normal
		}
		return str("link-" + strconv.Itoa(e.row) + " to " + d.name)
	case colIfMtu:
		return integer(1500)
	case colIfPhysAddress:
		a := d.addr.As4()
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.OctetString, Value: []byte{0x52, 0x54, a[1], a[2], a[3], byte(e.row)}}
	case colIfAdminStatus:
		if admin.down {
			return integer(2)
		}
		return integer(1)
	case colIfLinkUpDownTrapEnable, colIfConnectorPresent:
		return integer(1) // enabled; true
	case colIfPromiscuousMode:
		return integer(2) // false
	case colIfLastChange, colIfCounterDiscontinuityTime:
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.TimeTicks, Value: uint32(0)}
	case colIfOutQLen:
		return gauge(0)
	case colIfSpecific:
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.ObjectIdentifier, Value: ".0.0"}
	case colIfInUnknownProtos:
		return c32(secs * d.rate(e.row, 6) * 1e-7)
	case colIfOutDiscards:
		return c32(secs * d.rate(e.row, 7) * 1e-6)
	case colIfInMulticastPkts, colIfHCInMulticastPkts:
		return d.nonUnicast(name, e, secs, ifaceDown, 1, 50)
	case colIfInBroadcastPkts, colIfHCInBroadcastPkts:
		return d.nonUnicast(name, e, secs, ifaceDown, 1, 200)
	case colIfOutMulticastPkts, colIfHCOutMulticastPkts:
		return d.nonUnicast(name, e, secs, ifaceDown, 2, 50)
	case colIfOutBroadcastPkts, colIfHCOutBroadcastPkts:
		return d.nonUnicast(name, e, secs, ifaceDown, 2, 200)
	case colIfInNUcastPkts:
		return c32(float64(d.nonUnicastCount(e.row, secs, ifaceDown, 1, 50) + d.nonUnicastCount(e.row, secs, ifaceDown, 1, 200)))
	case colIfOutNUcastPkts:
		return c32(float64(d.nonUnicastCount(e.row, secs, ifaceDown, 2, 50) + d.nonUnicastCount(e.row, secs, ifaceDown, 2, 200)))
	case colHrProcessorLoad:
		base := 10 + float64(d.hash(uint64(e.row), 7)%50)
		return integer(int(base + 20*math.Sin(secs/120+float64(e.row))))
	case colHrStorageIndex:
		return integer(e.row + 1)
	case colHrStorageDescr:
		return str(storageNames[e.row])
	case colHrStorageUnits:
		return integer([]int{1024, 1024, 4096}[e.row])
	case colHrStorageSize:
		return integer([]int{8388608, 2097152, 26214400}[e.row])
	case colHrStorageUsed:
		size := []float64{8388608, 2097152, 26214400}[e.row]
		frac := 0.3 + 0.2*math.Sin(secs/600+float64(e.row)) + float64(d.hash(uint64(e.row), 9)%20)/100
		return integer(int(size * frac))
	}
	return gosnmp.SnmpPDU{Name: name, Type: gosnmp.NoSuchObject}
}

// HighSpeed is the ifHighSpeed (Mbit/s) the simulator serves for interface ifIndex: the first
// two interfaces are 10 Gbit/s, the others 1 Gbit/s.
func HighSpeed(ifIndex int) uint64 {
	if ifIndex <= 2 {
		return 10000
	}
	return 1000
}

// Speed is the ifSpeed (bit/s) for interface ifIndex: HighSpeed × 10^6, saturated at 2^32−1 as
// RFC 2863 prescribes for links faster than a Gauge32 can say.
func Speed(ifIndex int) uint64 {
	return min(HighSpeed(ifIndex)*1_000_000, math.MaxUint32)
}

// traffic is the 64-bit octet or unicast-packet count of an interface column; packets are
// octets over a stable per-interface mean packet size of 200 to 1,399 bytes.
func (d *device) traffic(e entry, secs float64, down bool) uint64 {
	if down {
		return 0
	}
	salt := uint64(1)
	if e.col == colIfHCOutOctets || e.col == colIfHCOutUcastPkts || e.col == colIfOutOctets || e.col == colIfOutUcastPkts {
		salt = 2
	}
	n := uint64(octets(d.rate(e.row, salt), secs, float64(e.row)))
	switch e.col {
	case colIfHCInUcastPkts, colIfHCOutUcastPkts, colIfInUcastPkts, colIfOutUcastPkts:
		n /= 200 + d.hash(uint64(e.row), salt+10)%1200
	}
	return n
}

// nonUnicastCount is a multicast (div 50) or broadcast (div 200) packet count: a fixed share of
// the interface's packets in one direction (salt 1 in, 2 out).
func (d *device) nonUnicastCount(row int, secs float64, down bool, salt, div uint64) uint64 {
	if down {
		return 0
	}
	n := uint64(octets(d.rate(row, salt), secs, float64(row)))
	return n / (200 + d.hash(uint64(row), salt+10)%1200) / div
}

// nonUnicast serves a multicast or broadcast column: Counter64 in ifXTable's HC columns, else
// the low 32 bits of the same count as Counter32.
func (d *device) nonUnicast(name string, e entry, secs float64, down bool, salt, div uint64) gosnmp.SnmpPDU {
	n := d.nonUnicastCount(e.row, secs, down, salt, div)
	switch e.col {
	case colIfHCInMulticastPkts, colIfHCInBroadcastPkts, colIfHCOutMulticastPkts, colIfHCOutBroadcastPkts:
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Counter64, Value: n}
	}
	return gosnmp.SnmpPDU{Name: name, Type: gosnmp.Counter32, Value: uint32(n)}
}

// octets integrates a traffic rate that swings ±50% around r bytes/s with a five-minute period:
// always increasing (the derivative never drops below r/2) and zero at boot, so a reboot resets it.
func octets(r, secs, phase float64) float64 {
	const w = 2 * math.Pi / 300
	return r*secs + r/2*(math.Sin(w*secs+phase)-math.Sin(phase))/w
}

// rate is a stable per-device, per-interface base traffic rate in bytes/s (50 kB/s to 20 MB/s).
func (d *device) rate(row int, salt uint64) float64 {
	return 50e3 + float64(d.hash(uint64(row), salt)%20_000)*1e3
}

// hash is FNV-1a over the address and two small numbers: stable across restarts of the simulator.
func (d *device) hash(a, b uint64) uint64 {
	h := uint64(14695981039346656037)
	for _, x := range d.addr.As4() {
		h = (h ^ uint64(x)) * 1099511628211
	}
	h = (h ^ a) * 1099511628211
	h = (h ^ b) * 1099511628211
	return h
}

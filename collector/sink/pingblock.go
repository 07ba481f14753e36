package sink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/wardops/wardops/model"
)

// A ping block is one batch of ping_results rows as it waits in the spool while PostgreSQL is down.
// Version 1:
//
//	byte     version (1)
//	uvarint  rows
//	per row:
//	  varint   device_id minus the previous row's (zig-zag; rows of a batch are near in id)
//	  byte     address length (0, 4 or 16), then the address bytes
//	  varint   timestamp in Unix microseconds minus the previous row's (PostgreSQL keeps µs)
//	  byte     flags: 1 reachable, 2..16 rtt avg/min/max/stddev present, 32 loss 0, 64 loss 1
//	  float64  each present RTT (ms), little-endian, in that order
//	  float64  packet loss, unless a flag says 0 or 1
//	  uvarint  sent, received
//
// A hand-written format rather than gob: about 40 bytes per reachable row against several hundred,
// stable across releases (a spool outlives the binary that wrote it), and a version byte so a
// future format can be told apart instead of misread. The spool's frames carry a CRC, so damage
// is caught before decoding; the decoder still checks every length and refuses leftovers.
const pingBlockV1 = 1

const (
	pfReachable = 1 << iota
	pfAvg
	pfMin
	pfMax
	pfStdDev
	pfLoss0
	pfLoss1
)

// errPingBlock marks a block that cannot be decoded; it is skipped with a log line.
var errPingBlock = errors.New("corrupt ping_results block")

// encodePingBlock appends rs in the version 1 format to dst.
func encodePingBlock(dst []byte, rs []model.PingResult) []byte {
	dst = append(dst, pingBlockV1)
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	var prevID, prevTS int64
	for _, r := range rs {
		dst = binary.AppendVarint(dst, r.DeviceID-prevID)
		prevID = r.DeviceID
		ip := r.DeviceIP.AsSlice()
		dst = append(dst, byte(len(ip)))
		dst = append(dst, ip...)
		ts := r.Timestamp.UnixMicro()
		dst = binary.AppendVarint(dst, ts-prevTS)
		prevTS = ts
		var flags byte
		if r.IsReachable {
			flags |= pfReachable
		}
		rtts := [4]*float64{r.RTTAvgMs, r.RTTMinMs, r.RTTMaxMs, r.RTTStddevMs}
		for i, p := range rtts {
			if p != nil {
				flags |= pfAvg << i
			}
		}
		switch r.PacketLoss {
		case 0:
			flags |= pfLoss0
		case 1:
			flags |= pfLoss1
		}
		dst = append(dst, flags)
		for _, p := range rtts {
			if p != nil {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(*p))
			}
		}
		if flags&(pfLoss0|pfLoss1) == 0 {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.PacketLoss))
		}
		dst = binary.AppendUvarint(dst, uint64(uint16(r.Sent)))
		dst = binary.AppendUvarint(dst, uint64(uint16(r.Received)))
	}
	return dst
}

// decodePingBlock parses a block written by encodePingBlock.
func decodePingBlock(b []byte) ([]model.PingResult, error) {
	d := pingDecoder{b: b}
	if v := d.byte(); v != pingBlockV1 {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("%w: unknown version %d", errPingBlock, v)
	}
	n := d.uvarint()
	// Every row takes at least 6 bytes: a count beyond that is damage, not an allocation to make.
	if d.err == nil && n > uint64(len(b))/6 {
		return nil, fmt.Errorf("%w: %d rows in %d bytes", errPingBlock, n, len(b))
	}
	rs := make([]model.PingResult, 0, n)
	var id, ts int64
	for i := uint64(0); i < n && d.err == nil; i++ {
		var r model.PingResult
		id += d.varint()
		r.DeviceID = id
		switch l := d.byte(); l {
		case 0:
		case 4, 16:
			r.DeviceIP, _ = netip.AddrFromSlice(d.bytes(int(l)))
		default:
			d.fail(fmt.Sprintf("address length %d", l))
		}
		ts += d.varint()
		r.Timestamp = time.UnixMicro(ts).UTC()
		flags := d.byte()
		if flags&^(pfReachable|pfAvg|pfMin|pfMax|pfStdDev|pfLoss0|pfLoss1) != 0 || flags&(pfLoss0|pfLoss1) == pfLoss0|pfLoss1 {
			d.fail(fmt.Sprintf("flags %#x", flags))
		}
		r.IsReachable = flags&pfReachable != 0
		for j, p := range []**float64{&r.RTTAvgMs, &r.RTTMinMs, &r.RTTMaxMs, &r.RTTStddevMs} {
			if flags&(pfAvg<<j) != 0 {
				v := d.float()
				*p = &v
			}
		}
		switch {
		case flags&pfLoss0 != 0:
		case flags&pfLoss1 != 0:
			r.PacketLoss = 1
		default:
			r.PacketLoss = d.float()
		}
		r.Sent = d.int16()
		r.Received = d.int16()
		rs = append(rs, r)
	}
	if d.err == nil && d.off != len(b) {
		d.fail(fmt.Sprintf("%d bytes left over", len(b)-d.off))
	}
	if d.err != nil {
		return nil, d.err
	}
	return rs, nil
}

// pingDecoder reads fields, remembering the first error so the loop above stays readable.
type pingDecoder struct {
	b   []byte
	off int
	err error
}

func (d *pingDecoder) fail(why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", errPingBlock, why, d.off)
	}
}

func (d *pingDecoder) bytes(n int) []byte {
	if d.err != nil || len(d.b)-d.off < n {
		d.fail("truncated")
		return nil
	}
	out := d.b[d.off : d.off+n]
	d.off += n
	return out
}

func (d *pingDecoder) byte() byte {
	if p := d.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *pingDecoder) float() float64 {
	if p := d.bytes(8); p != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(p))
	}
	return 0
}

func (d *pingDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

// int16 reads a uvarint holding the 16 bits of an int16.
func (d *pingDecoder) int16() int16 {
	v := d.uvarint()
	if v > math.MaxUint16 {
		d.fail("count out of range")
	}
	return int16(uint16(v))
}

func (d *pingDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

package sim

import (
	"time"

	"github.com/gosnmp/gosnmp"
)

// maxVarbinds caps a GETBULK answer (RFC 3416 4.2.3 lets an agent return fewer repetitions)
// so a response stays well inside one UDP datagram.
const maxVarbinds = 400

// respond computes the Response-PDU for a GET, GETNEXT or GETBULK request; nil drops it.
// SNMPv1 reports a missing object with error-status noSuchName, v2c and v3 with exception values.
func respond(d *device, l *layout, req *gosnmp.SnmpPacket) *gosnmp.SnmpPacket {
	now := d.clock()
	v1 := req.Version == gosnmp.Version1
	resp := &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
	noSuchName := func(i int) *gosnmp.SnmpPacket {
		resp.Error, resp.ErrorIndex = gosnmp.NoSuchName, uint8(i+1)
		resp.Variables = req.Variables
		return resp
	}
	switch req.PDUType {
	case gosnmp.GetRequest:
		for i, v := range req.Variables {
			o, err := parseOID(v.Name)
			if err != nil {
				return nil
			}
			if k := l.find(o); k >= 0 {
				resp.Variables = append(resp.Variables, d.value(l.entries[k], now))
				continue
			}
			if v1 {
				return noSuchName(i)
			}
			t := gosnmp.NoSuchObject
			if l.objectExists(o) {
				t = gosnmp.NoSuchInstance
			}
			resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: o.String(), Type: t})
		}
	case gosnmp.GetNextRequest:
		for i, v := range req.Variables {
			o, err := parseOID(v.Name)
			if err != nil {
				return nil
			}
			k := l.next(o)
			if k < 0 {
				if v1 {
					return noSuchName(i)
				}
				resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: o.String(), Type: gosnmp.EndOfMibView})
				continue
			}
			resp.Variables = append(resp.Variables, d.value(l.entries[k], now))
		}
	case gosnmp.GetBulkRequest:
		if v1 {
			return nil // GETBULK does not exist in SNMPv1
		}
		resp.Variables = bulk(d, l, req, now)
	default:
		return nil
	}
	if d.tooBigAbove > 0 && len(resp.Variables) > d.tooBigAbove {
		resp.Error, resp.ErrorIndex, resp.Variables = gosnmp.TooBig, 0, nil
	}
	return resp
}

// bulk follows RFC 3416 4.2.3: one GETNEXT for each non-repeater, then max-repetitions rounds of
// GETNEXT over the repeaters, each round continuing from the previous one.
func bulk(d *device, l *layout, req *gosnmp.SnmpPacket, now time.Time) []gosnmp.SnmpPDU {
	nonRep := int(req.NonRepeaters)
	if nonRep > len(req.Variables) {
		nonRep = len(req.Variables)
	}
	var out []gosnmp.SnmpPDU
	cursor := make([]oid, 0, len(req.Variables))
	for _, v := range req.Variables {
		o, err := parseOID(v.Name)
		if err != nil {
			return nil
		}
		cursor = append(cursor, o)
	}
	nextOf := func(o oid) (gosnmp.SnmpPDU, oid) {
		k := l.next(o)
		if k < 0 {
			return gosnmp.SnmpPDU{Name: o.String(), Type: gosnmp.EndOfMibView}, o
		}
		return d.value(l.entries[k], now), l.entries[k].oid
	}
	for i := 0; i < nonRep; i++ {
		pdu, _ := nextOf(cursor[i])
		out = append(out, pdu)
	}
	reps := cursor[nonRep:]
	if len(reps) == 0 {
		return out
	}
	for r := 0; r < int(req.MaxRepetitions) && len(out)+len(reps) <= maxVarbinds; r++ {
		allEnd := true
		for i, o := range reps {
			pdu, next := nextOf(o)
			reps[i] = next
			if pdu.Type != gosnmp.EndOfMibView {
				allEnd = false
			}
			out = append(out, pdu)
		}
		if allEnd {
			break // RFC 3416: an agent may stop once every repeater reached the end of the view
		}
	}
	return out
}

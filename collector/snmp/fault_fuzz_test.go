package snmp

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/model"
)

// faultAgent is the one fake of these tests, a narrow fault injector: a UDP responder on
// 127.0.0.1 that decodes each request with gosnmp and answers it through gosnmp's own packet
// marshalling, bent by a plan drawn from the fuzz input: wrong value types, tables that never
// end, OIDs that do not increase, duplicate OIDs, truncated packets and huge strings. The real
// agents (sim, snmpd) are what the rest of the package tests against; no real agent can be made
// to misbehave on demand.
type faultAgent struct {
	conn *net.UDPConn
	plan []byte
	wg   sync.WaitGroup
}

const (
	faultWrongTypes = iota
	faultEndlessTable
	faultNonIncreasing
	faultDuplicates
	faultTruncated
	faultHugeStrings
	faultGarbage
	faultModes
)

func startFaultAgent(t testing.TB, plan []byte) *faultAgent {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := &faultAgent{conn: c, plan: append([]byte{0}, plan...)}
	a.wg.Add(1)
	go a.serve()
	t.Cleanup(func() { c.Close(); a.wg.Wait() })
	return a
}

func (a *faultAgent) port() int { return a.conn.LocalAddr().(*net.UDPAddr).Port }

// at returns plan byte i (cycling), so every fuzz input is a complete plan.
func (a *faultAgent) at(i int) byte { return a.plan[i%len(a.plan)] }

func (a *faultAgent) serve() {
	defer a.wg.Done()
	buf := make([]byte, 65536)
	for n := 0; ; n++ {
		k, from, err := a.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		out := a.answer(buf[:k], n)
		if out != nil {
			_, _ = a.conn.WriteToUDP(out, from)
		}
	}
}

func (a *faultAgent) answer(msg []byte, n int) []byte {
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	req, err := g.SnmpDecodePacket(append([]byte(nil), msg...))
	if err != nil {
		return nil
	}
	mode := int(a.at(1)) % faultModes
	if mode == faultGarbage {
		out := make([]byte, int(a.at(2))+1)
		for i := range out {
			out[i] = a.at(3 + i + n)
		}
		return out
	}
	resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse,
		RequestID: req.RequestID, MsgID: req.MsgID}
	for i, v := range req.Variables {
		resp.Variables = append(resp.Variables, a.pdus(mode, req.PDUType, v.Name, n+i)...)
	}
	if len(resp.Variables) > 200 {
		resp.Variables = resp.Variables[:200]
	}
	out, err := resp.MarshalMsg()
	if err != nil {
		return nil
	}
	if mode == faultTruncated {
		out = out[:int(a.at(4+n))%len(out)]
	}
	return out
}

// pdus is the plan's answer to one requested OID.
func (a *faultAgent) pdus(mode int, op gosnmp.PDUType, oid string, n int) []gosnmp.SnmpPDU {
	next := oid
	if op != gosnmp.GetRequest {
		next = oid + ".1"
	}
	value := func(i int) gosnmp.SnmpPDU {
		switch a.at(5+i) % 9 {
		case 0:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.OctetString, Value: []byte{a.at(6 + i), 0xff, 0x00}}
		case 1:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.Null}
		case 2:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.NoSuchObject}
		case 3:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.Counter64, Value: uint64(math.MaxUint64 - uint64(a.at(7+i)))}
		case 4:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.IPAddress, Value: "127.0.0.9"}
		case 5:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1"}
		case 6:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.Integer, Value: -int(a.at(8 + i))}
		case 7:
			return gosnmp.SnmpPDU{Name: next, Type: gosnmp.EndOfMibView}
		}
		return gosnmp.SnmpPDU{Name: next, Type: gosnmp.TimeTicks, Value: uint32(a.at(9+i)) << 24}
	}
	switch mode {
	case faultEndlessTable:
		// Always one more row under the asked-for root, increasing, never the end of the table.
		var out []gosnmp.SnmpPDU
		for i := range 10 {
			out = append(out, gosnmp.SnmpPDU{Name: oid + "." + itoa(n*10+i+1), Type: gosnmp.Counter32, Value: uint(i)})
		}
		return out
	case faultNonIncreasing:
		return []gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Counter32, Value: uint(n)}} // the same OID back
	case faultDuplicates:
		p := value(n)
		return []gosnmp.SnmpPDU{p, p, p}
	case faultHugeStrings:
		return []gosnmp.SnmpPDU{{Name: next, Type: gosnmp.OctetString, Value: []byte(strings.Repeat("x", 1000+int(a.at(10))*200))}}
	}
	return []gosnmp.SnmpPDU{value(n)}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

var knownReasons = map[string]bool{ReasonTimeout: true, ReasonRefused: true, ReasonAuth: true, ReasonNoSuchObject: true,
	ReasonNoSuchInstance: true, ReasonErrorStatus: true, ReasonBadValue: true, ReasonEmptyTable: true, ReasonConfig: true,
	ReasonCanceled: true, ReasonOther: true}

// FuzzPollFaultyAgent polls a faultAgent with the system and if-mib profiles: whatever the agent
// sends, the poll ends within its budget, fails (if it fails) with a classified *PollError, and
// every sample it returns is well-formed.
func FuzzPollFaultyAgent(f *testing.F) {
	for m := range faultModes {
		f.Add([]byte{byte(m), 7, 3, 250, 1, 2})
	}
	items := profileItems(f, "system", "if-mib")
	f.Fuzz(func(t *testing.T, plan []byte) {
		a := startFaultAgent(t, plan)
		p, err := NewPoller(Options{Timeout: 50 * time.Millisecond, Retries: 0, PollTimeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		d := model.Device{DeviceSummary: model.DeviceSummary{ID: 1, Name: "faulty", IP: netip.MustParseAddr("127.0.0.1"), Enabled: true},
			SNMP: model.SNMP{Version: "2c", Port: a.port(), Community: "fuzz-community"}}
		start := time.Now()
		out, err := p.Poll(context.Background(), d, items)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("poll took %s, budget 500ms", took)
		}
		if err != nil {
			var pe *PollError
			if !errors.As(err, &pe) || !knownReasons[pe.Reason] || err.Error() == "" {
				t.Fatalf("unclassified poll error %T %v", err, err)
			}
			if strings.Contains(err.Error(), "fuzz-community") {
				t.Fatalf("poll error carries the community: %v", err)
			}
		}
		for _, s := range out {
			if !strings.HasPrefix(s.Name, "wardops_snmp_") || math.IsInf(s.Value, 0) {
				t.Fatalf("bad sample %+v", s)
			}
			for _, l := range s.Labels {
				if !utf8.ValidString(l.Value) || l.Name == "" {
					t.Fatalf("bad label %+v in %s", l, s.Name)
				}
			}
		}
	})
}

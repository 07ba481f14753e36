package sim

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardops/wardops/internal/usm"
)

// USM statistics OIDs carried by Report PDUs (RFC 3414 section 5, usmStats).
const (
	usmStatsUnknownEngineIDs = ".1.3.6.1.6.3.15.1.1.4.0"
	usmStatsWrongDigests     = ".1.3.6.1.6.3.15.1.1.5.0"
)

// v3Agent is the authoritative USM side of one device: it decodes and authenticates requests with
// gosnmp's own trap-receiver path (UnmarshalTrap verifies the HMAC and decrypts) and encrypts and
// signs responses with SnmpPacket.MarshalMsg. gosnmp has no agent API, so this is the glue.
// Time-window checks (RFC 3414 3.2.7) are not enforced: the simulator trusts its clients.
type v3Agent struct {
	user      string
	auth      gosnmp.SnmpV3AuthProtocol
	priv      gosnmp.SnmpV3PrivProtocol
	engineID  string
	decoder   *gosnmp.GoSNMP
	secretKey []byte
	privKey   []byte
	salt      atomic.Uint64
	reports   atomic.Uint32
}

func newV3Agent(u V3User, engineID string) (*v3Agent, error) {
	auth, err := usm.AuthProtocol(u.AuthProtocol)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	priv, err := usm.PrivProtocol(u.PrivProtocol)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if u.Username == "" || auth == gosnmp.NoAuth {
		return nil, fmt.Errorf("sim: a v3 user needs a name and an auth protocol")
	}
	flags := gosnmp.AuthNoPriv
	if priv != gosnmp.NoPriv {
		flags = gosnmp.AuthPriv
	}
	sp := &gosnmp.UsmSecurityParameters{
		UserName: u.Username, AuthenticationProtocol: auth, AuthenticationPassphrase: u.AuthKey,
		PrivacyProtocol: priv, PrivacyPassphrase: u.PrivKey, AuthoritativeEngineID: engineID,
	}
	// Localise the keys once per device (RFC 3414 2.6) rather than on every request.
	if err := sp.InitSecurityKeys(); err != nil {
		return nil, fmt.Errorf("sim: cannot localise v3 keys: %w", err)
	}
	a := &v3Agent{
		user: u.Username, auth: auth, priv: priv, engineID: engineID, secretKey: sp.SecretKey, privKey: sp.PrivacyKey,
		decoder: &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: flags, SecurityParameters: sp},
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	a.salt.Store(binary.BigEndian.Uint64(seed[:]))
	return a, nil
}

// handle answers one v3 message: engine discovery gets a usmStatsUnknownEngineIDs Report, a
// message that fails authentication or decryption an unauthenticated Report, anything else a
// Response at the request's security level.
func (a *v3Agent) handle(d *device, l *layout, msg []byte) []byte {
	req, err := a.decoder.UnmarshalTrap(append([]byte(nil), msg...), false)
	if err != nil {
		// Authentication failed or decryption produced garbage (gosnmp does not tell which).
		// Without a trusted header there is no msgID to echo, so the Report carries zero, as
		// net-snmp's do; a client that drops unauthenticated Reports will time out instead.
		return a.report(d, 0, 0, usmStatsWrongDigests)
	}
	usp, _ := req.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if usp == nil {
		return nil
	}
	if usp.AuthoritativeEngineID != a.engineID || req.MsgFlags&gosnmp.AuthNoPriv == 0 {
		// Discovery (RFC 3414 4): empty engine ID and user, noAuthNoPriv.
		return a.report(d, req.MsgID, req.RequestID, usmStatsUnknownEngineIDs)
	}
	resp := respond(d, l, req)
	if resp == nil {
		return nil
	}
	return a.encode(d, req.MsgFlags&gosnmp.AuthPriv, req.MsgID, req.ContextName, resp)
}

func (a *v3Agent) report(d *device, msgID, reqID uint32, stat string) []byte {
	n := a.reports.Add(1)
	pkt := &gosnmp.SnmpPacket{
		PDUType: gosnmp.Report, RequestID: reqID,
		Variables: []gosnmp.SnmpPDU{{Name: stat, Type: gosnmp.Counter32, Value: n}},
	}
	return a.encode(d, gosnmp.NoAuthNoPriv, msgID, "", pkt)
}

func (a *v3Agent) encode(d *device, level gosnmp.SnmpV3MsgFlags, msgID uint32, contextName string, pdu *gosnmp.SnmpPacket) []byte {
	boot, boots := d.bootState()
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    a.engineID,
		AuthoritativeEngineBoots: boots,
		AuthoritativeEngineTime:  uint32(d.clock().Sub(boot) / time.Second),
		UserName:                 a.user,
		AuthenticationProtocol:   a.auth,
		PrivacyProtocol:          a.priv,
		SecretKey:                a.secretKey,
		PrivacyKey:               a.privKey,
	}
	if level == gosnmp.NoAuthNoPriv {
		sp.UserName = ""
	}
	if level&gosnmp.AuthPriv == gosnmp.AuthPriv {
		// RFC 3826 3.1.2.1: a 64-bit salt that never repeats under one key.
		sp.PrivacyParameters = binary.BigEndian.AppendUint64(nil, a.salt.Add(1))
	}
	pdu.Version = gosnmp.Version3
	pdu.MsgFlags = level
	pdu.SecurityModel = gosnmp.UserSecurityModel
	pdu.SecurityParameters = sp
	pdu.MsgID = msgID
	pdu.ContextEngineID = a.engineID
	pdu.ContextName = contextName
	out, err := pdu.MarshalMsg()
	if err != nil {
		return nil
	}
	return out
}

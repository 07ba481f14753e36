// Package usm is the one table of SNMPv3 User-based Security Model protocols: the names the
// inventory accepts (with their aliases), the canonical name stored, and gosnmp's constant. The
// inventory validates against it, the poller and the simulator dial with it, so a protocol the
// importer accepts is always one the poller can speak.
package usm

import (
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

type protocol[P any] struct {
	name    string   // canonical, as stored (the migrations' CHECK constraints list the same)
	aliases []string // accepted on input too
	p       P
}

var authProtocols = []protocol[gosnmp.SnmpV3AuthProtocol]{
	{"", []string{"NONE", "NOAUTH"}, gosnmp.NoAuth},
	{"MD5", nil, gosnmp.MD5},
	{"SHA", []string{"SHA1"}, gosnmp.SHA},
	{"SHA224", nil, gosnmp.SHA224},
	{"SHA256", nil, gosnmp.SHA256},
	{"SHA384", nil, gosnmp.SHA384},
	{"SHA512", nil, gosnmp.SHA512},
}

// The C variants are the Cisco (Reeder) key extension, the others Blumenthal's.
var privProtocols = []protocol[gosnmp.SnmpV3PrivProtocol]{
	{"", []string{"NONE", "NOPRIV"}, gosnmp.NoPriv},
	{"DES", nil, gosnmp.DES},
	{"AES", []string{"AES128"}, gosnmp.AES},
	{"AES192", nil, gosnmp.AES192},
	{"AES256", nil, gosnmp.AES256},
	{"AES192C", nil, gosnmp.AES192C},
	{"AES256C", nil, gosnmp.AES256C},
}

func lookup[P any](table []protocol[P], kind, name string) (protocol[P], error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	for _, p := range table {
		if p.name == n {
			return p, nil
		}
		for _, a := range p.aliases {
			if a == n {
				return p, nil
			}
		}
	}
	return protocol[P]{}, fmt.Errorf("unknown SNMPv3 %s protocol %q (want one of %s)", kind, name, names(table))
}

func names[P any](table []protocol[P]) string {
	var ns []string
	for _, p := range table[1:] {
		ns = append(ns, p.name)
	}
	return strings.Join(ns, ", ")
}

// AuthProtocol maps an authentication protocol name (MD5, SHA, SHA224, SHA256, SHA384, SHA512;
// empty or NONE for none; case-insensitive) to gosnmp's constant.
func AuthProtocol(name string) (gosnmp.SnmpV3AuthProtocol, error) {
	p, err := lookup(authProtocols, "auth", name)
	return p.p, err
}

// PrivProtocol maps a privacy protocol name (DES, AES, AES192, AES256, AES192C, AES256C; empty
// or NONE for none; case-insensitive) to gosnmp's constant.
func PrivProtocol(name string) (gosnmp.SnmpV3PrivProtocol, error) {
	p, err := lookup(privProtocols, "privacy", name)
	return p.p, err
}

// CanonicalAuth returns the stored name of an authentication protocol given by any accepted name.
func CanonicalAuth(name string) (string, error) {
	p, err := lookup(authProtocols, "auth", name)
	return p.name, err
}

// CanonicalPriv returns the stored name of a privacy protocol given by any accepted name.
func CanonicalPriv(name string) (string, error) {
	p, err := lookup(privProtocols, "privacy", name)
	return p.name, err
}

// Package usm maps SNMPv3 User-based Security Model protocol names, as written in the inventory,
// to gosnmp's constants. It is shared by the poller and the simulator (which the poller's tests
// use, so it cannot import the poller).
package usm

import (
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// AuthProtocol maps a USM authentication protocol name (MD5, SHA, SHA224, SHA256, SHA384, SHA512;
// empty or NONE for none) to gosnmp's constant. Names are case-insensitive.
func AuthProtocol(name string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "", "NONE", "NOAUTH":
		return gosnmp.NoAuth, nil
	case "MD5":
		return gosnmp.MD5, nil
	case "SHA", "SHA1":
		return gosnmp.SHA, nil
	case "SHA224":
		return gosnmp.SHA224, nil
	case "SHA256":
		return gosnmp.SHA256, nil
	case "SHA384":
		return gosnmp.SHA384, nil
	case "SHA512":
		return gosnmp.SHA512, nil
	}
	return 0, fmt.Errorf("unknown SNMPv3 auth protocol %q", name)
}

// PrivProtocol maps a USM privacy protocol name (DES, AES, AES192, AES256, AES192C, AES256C;
// empty or NONE for none) to gosnmp's constant. The C variants are the Cisco (Reeder) key
// extension, the others Blumenthal's.
func PrivProtocol(name string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "", "NONE", "NOPRIV":
		return gosnmp.NoPriv, nil
	case "DES":
		return gosnmp.DES, nil
	case "AES", "AES128":
		return gosnmp.AES, nil
	case "AES192":
		return gosnmp.AES192, nil
	case "AES256":
		return gosnmp.AES256, nil
	case "AES192C":
		return gosnmp.AES192C, nil
	case "AES256C":
		return gosnmp.AES256C, nil
	}
	return 0, fmt.Errorf("unknown SNMPv3 privacy protocol %q", name)
}

package model

import (
	"fmt"
	"net/netip"
)

// TargetPolicy says which addresses SNMP and ICMP may be sent to. Deny wins over Allow; an empty
// Allow allows every address Deny does not name. Unspecified, multicast and broadcast addresses
// are refused whatever the lists say: a probe to them reaches many hosts or none.
type TargetPolicy struct {
	Allow []netip.Prefix
	Deny  []netip.Prefix
}

// TargetRefusedError is a probe target the policy refuses, with the rule that refused it.
type TargetRefusedError struct {
	Addr netip.Addr
	Rule string // "deny 169.254.0.0/16", "not in the allow list", "multicast"
}

func (e *TargetRefusedError) Error() string {
	return fmt.Sprintf("%s is refused by the probe target policy (%s)", e.Addr, e.Rule)
}

// Check returns a *TargetRefusedError when a may not be probed.
func (p TargetPolicy) Check(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return &TargetRefusedError{Addr: a, Rule: "not an address"}
	case a.IsUnspecified():
		return &TargetRefusedError{Addr: a, Rule: "unspecified address"}
	case a.IsMulticast():
		return &TargetRefusedError{Addr: a, Rule: "multicast"}
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return &TargetRefusedError{Addr: a, Rule: "broadcast"}
	}
	for _, d := range p.Deny {
		if d.Contains(a) {
			return &TargetRefusedError{Addr: a, Rule: "deny " + d.String()}
		}
	}
	if len(p.Allow) == 0 {
		return nil
	}
	for _, al := range p.Allow {
		if al.Contains(a) {
			return nil
		}
	}
	return &TargetRefusedError{Addr: a, Rule: "not in the allow list"}
}

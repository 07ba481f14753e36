package sim

import (
	"fmt"
	"net/netip"
	"strings"
)

// maxAddrs bounds one address list so a typo cannot ask for millions of sockets.
const maxAddrs = 100_000

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// ParseAddrs reads a comma-separated list of loopback addresses and inclusive ranges,
// e.g. "127.20.0.1-127.20.3.90,127.21.0.1".
func ParseAddrs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("bad address %q: %w", lo, err)
		}
		last := first
		if isRange {
			if last, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("bad address %q: %w", hi, err)
			}
		}
		if !loopback.Contains(first) || !loopback.Contains(last) {
			return nil, fmt.Errorf("%q: only 127.0.0.0/8 addresses may be simulated", part)
		}
		if last.Less(first) {
			return nil, fmt.Errorf("%q: range ends before it starts", part)
		}
		for a := first; ; a = a.Next() {
			if len(out) >= maxAddrs {
				return nil, fmt.Errorf("more than %d addresses", maxAddrs)
			}
			out = append(out, a)
			if a == last {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no addresses in %q", s)
	}
	return out, nil
}

// Range returns count consecutive addresses from base, all inside 127.0.0.0/8.
func Range(base netip.Addr, count int) ([]netip.Addr, error) {
	if count < 1 || count > maxAddrs {
		return nil, fmt.Errorf("count %d out of range 1..%d", count, maxAddrs)
	}
	out := make([]netip.Addr, 0, count)
	for a := base; len(out) < count; a = a.Next() {
		if !loopback.Contains(a) {
			return nil, fmt.Errorf("%d addresses from %s leave 127.0.0.0/8", count, base)
		}
		out = append(out, a)
	}
	return out, nil
}

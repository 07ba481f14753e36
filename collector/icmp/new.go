package icmp

import (
	"fmt"
	"log/slog"
)

// New builds the engine named by WARDOPS_ICMP_ENGINE: "probing" (pro-bing, one Pinger per probe)
// or "shared" (one socket per address family).
func New(name string, log *slog.Logger, mode string) (Engine, error) {
	switch name {
	case "probing":
		return NewProbing(log, mode)
	case "shared":
		return NewShared(log, mode)
	}
	return nil, fmt.Errorf("unknown icmp engine %q: want probing or shared", name)
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/sim"
)

// runSim answers SNMP for a simulated fleet on loopback addresses until ctx ends (Ctrl-C).
func runSim(ctx context.Context, cfg *config.Config, _ []string, log *slog.Logger) error {
	addrs, err := simAddrs(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	opts := sim.Options{Addrs: addrs, Port: cfg.SimPort, Community: string(cfg.SimCommunity), Interfaces: cfg.SimInterfaces, Log: log}
	if cfg.SimV3User != "" {
		opts.V3 = &sim.V3User{Username: cfg.SimV3User, AuthProtocol: cfg.SimV3Auth, AuthKey: string(cfg.SimV3AuthKey),
			PrivProtocol: cfg.SimV3Priv, PrivKey: string(cfg.SimV3PrivKey)}
	}
	f, err := sim.Start(opts)
	if err != nil {
		return err
	}
	defer f.Close()
	log.Info("simulating devices until interrupted", "first", addrs[0], "last", addrs[len(addrs)-1], "count", len(addrs), "port", f.Port())
	<-ctx.Done()
	log.Info("simulator stopping", "requests_served", f.Served())
	return nil
}

func simAddrs(cfg *config.Config) ([]netip.Addr, error) {
	if cfg.SimAddrs != "" {
		return sim.ParseAddrs(cfg.SimAddrs)
	}
	base, err := netip.ParseAddr(cfg.SimBase)
	if err != nil {
		return nil, fmt.Errorf("--sim-base: %w", err)
	}
	return sim.Range(base, cfg.SimCount)
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/devenv"
	"github.com/wardops/wardops/inventory"
	"github.com/wardops/wardops/sim"
)

// runDev is `make run`: private PostgreSQL and VictoriaMetrics under ./var unless
// WARDOPS_DATABASE_URL / WARDOPS_VM_URL point elsewhere, a demo fleet on 127.20.0.0/16 answered by
// the simulator, and every component, until Ctrl-C.
func runDev(ctx context.Context, cfg *config.Config, _ []string, log *slog.Logger) error {
	b, err := devenv.Start(ctx, devenv.Options{Dir: "./var", PGPort: cfg.DevPGPort, VMPort: cfg.DevVMPort,
		StartPG: cfg.DatabaseURL == "", StartVM: cfg.VMURL == "", Log: log})
	if err != nil {
		return err
	}
	defer b.Stop()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = config.Secret(b.DatabaseURL)
	}
	if cfg.VMURL == "" {
		cfg.VMURL, cfg.VMQueryURL = b.VMURL, b.VMURL
	}
	if cfg.SecretKey == "" && cfg.SecretKeyFile == "" {
		if cfg.SecretKeyFile, err = devSecretKeyFile("./var", log); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	base := netip.MustParseAddr("127.20.0.1")
	doc, err := inventory.Demo(inventory.DemoOptions{Devices: cfg.DevDevices, Branches: max(1, cfg.DevDevices*60/875), Base: base, SNMPPort: cfg.SimPort, Community: "public"})
	if err != nil {
		return err
	}
	profiles, err := inventory.LoadProfiles(cfg.ProfilesDir)
	if err != nil {
		return err
	}
	creds, devs, err := inventory.Build(doc, profiles)
	if err != nil {
		return err
	}
	stats, err := st.ImportInventory(ctx, creds, devs, false)
	if err != nil {
		return err
	}
	log.Info("demo fleet imported", "devices", cfg.DevDevices, "created", stats.DevicesCreated, "unchanged", stats.DevicesUnchanged)
	stopSim, err := startDemoSim(base, cfg.DevDevices, cfg.SimPort, log)
	if err != nil {
		return err
	}
	defer stopSim()
	host := func(listen string) string {
		h, p, _ := net.SplitHostPort(listen)
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, p)
	}
	fmt.Printf(`
wardops is running (Ctrl-C stops everything):
  NOC page            http://%[1]s/
  health              http://%[1]s/api/v1/health
  query /metrics      http://%[1]s/metrics
  collector /metrics  http://%[2]s/metrics
  VictoriaMetrics     %[3]s/vmui
  PostgreSQL          %[4]s
  demo fleet          %[5]d devices on 127.20.0.1-…, SNMP simulator on port %[6]d

`, host(cfg.Listen), host(cfg.CollectorListen), cfg.VMURL, redactURL(string(cfg.DatabaseURL)), cfg.DevDevices, cfg.SimPort)
	return serveAll(ctx, cfg, st, log)
}

// startDemoSim answers SNMP v2c for the demo addresses, so the if-mib and host-resources items of
// the demo fleet have something to poll.
func startDemoSim(base netip.Addr, n, port int, log *slog.Logger) (func(), error) {
	addrs, err := sim.Range(base, n)
	if err != nil {
		return nil, err
	}
	f, err := sim.Start(sim.Options{Addrs: addrs, Port: port, Community: "public", Log: log.With("component", "sim")})
	if err != nil {
		return nil, fmt.Errorf("cannot start the fleet simulator: %w", err)
	}
	return func() { _ = f.Close() }, nil
}

// Package bench is the collector benchmark behind `make bench-collector`, `make bench-soak` and
// `make bench-scale` (one collector, then several sharing the fleet, one of them SIGKILLed).
// It is a benchmark, not a test: it starts its own VictoriaMetrics, uses the
// machine's PostgreSQL, imports fleets of loopback devices (127.30.0.0/15, nothing outside
// 127.0.0.0/8 is ever targeted), runs `wardops collector` with each ICMP engine and, on the same
// fleet in the same run, the pipelines operators would otherwise run: fping (the ICMP floor),
// blackbox_exporter and snmp_exporter scraped by vmagent. Every figure comes from the kernel
// (/proc utime+stime, VmHWM, rusage) or from the pipelines' own counters, over whole cycles after
// a warm-up cycle. Every child process is stopped when Run returns, whatever the reason.
package bench

# wardops — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/wardops
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Tests share two cores and start real servers: one package at a time keeps timings honest.
TESTFLAGS ?= -count=1 -p 1 -timeout 20m

.PHONY: build run test vet bench-collector bench-query clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/wardops

# The embedded default: private PostgreSQL and VictoriaMetrics under ./var, a demo fleet on
# 127.20.0.0/16, every component. Ctrl-C stops it all.
run: build
	@scripts/deps.sh run
	./$(BIN) dev

vet:
	$(GO) vet ./...

test: vet
	@scripts/deps.sh test
	$(GO) test $(TESTFLAGS) ./...

clean:
	rm -rf bin

# Collector benchmark: wardops' engines against fping, blackbox_exporter and
# snmp_exporter scraped by vmagent, on 875 / 10,000 / 100,000 loopback devices. A benchmark, not a
# test: one measured 30 s cycle after a warm-up cycle per pipeline, about 18 minutes (each extra
# cycle adds about 7), tables printed and written to var/bench/. BENCHFLAGS adds flags, e.g.
# BENCHFLAGS="--cycles 3" or BENCHFLAGS="--collector-env WARDOPS_PROBE_WORKERS=2048".
# SNMP: wardops if-mib and if-mib-full beside snmp_exporter's stock if_mib module, per poll and per
# sample. Two cores keep neither the peer nor VictoriaMetrics up with 10,000 full interface tables
# every 30 s; the README's 10,000-device figures come from --sizes 10000 --interval 300s.
BENCHFLAGS ?=
bench-collector:
	$(GO) build -o bin/wardops-bench ./cmd/wardops-bench
	./bin/wardops-bench --sizes 875,10000,100000 --cycles 1 $(BENCHFLAGS)

# Soak: one collector on 10,000 devices for 30 minutes; RSS, goroutines and open fds every minute
# and whether they stayed flat. BENCHFLAGS="--soak 2m" for a quick check.
.PHONY: bench-soak
bench-soak:
	$(GO) build -o bin/wardops-bench ./cmd/wardops-bench
	./bin/wardops-bench --soak 30m --soak-size 10000 --soak-engine shared $(BENCHFLAGS)

# Query benchmark: wrk with 64 connections against /api/v1/dashboard and
# /api/v1/devices?limit=100 with 875 and 100,000 devices in the inventory and live data in
# VictoriaMetrics; p50/p99, requests/s and backend queries per request. A benchmark, not a test.
.PHONY: bench-query
bench-query:
	@scripts/deps.sh bench
	$(GO) test -tags bench -count=1 -timeout 30m -run TestBenchQuery -v ./query/bench/

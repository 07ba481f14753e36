# wardops — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/wardops
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Tests share two cores and start real servers: one package at a time keeps timings honest.
TESTFLAGS ?= -count=1 -p 1 -timeout 20m

.PHONY: build run test vet fuzz bench-collector bench-scale bench-query clean

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
	@$(MAKE) --no-print-directory fuzz

# A short run of every fuzz target, one after another (go test -fuzz takes one target at a time),
# about 90 s in all with the instrumented builds. Budgets are execution counts, not durations: on
# Go 1.26 a duration -fuzztime can end in a bare "context deadline exceeded" with no crasher, a race
# in the fuzz coordinator at the deadline. Each count is a few seconds of that target on two cores; seeds
# are committed under each package's testdata/fuzz/, and a failure writes its input there too.
FUZZ_TARGETS := \
	./collector/spool:FuzzReadSegment:20000 \
	./collector/sink:FuzzDecodePingBlock:20000 \
	./collector/snmp:FuzzPollFaultyAgent:700 \
	./inventory:FuzzParseCSV:20000 \
	./inventory:FuzzParseYAML:5000 \
	./query:FuzzParseTime:10000 \
	./query:FuzzQueryString:5000 \
	./query:FuzzPathID:5000 \
	./query:FuzzDeviceBody:5000
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; n=$${rest##*:}; \
		echo "fuzz $$name ($$pkg, $${n} runs)"; \
		$(GO) test -count=1 -run='^$$' -fuzz="^$$name\$$" -fuzztime=$${n}x $$pkg; \
	done

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

# Scale: 100,000 loopback devices, ping every 30 s and if-mib SNMP every 300 s (simulated agents),
# first on one collector, then shared by three on the same database; one 300 s window each after a
# 30 s warm-up: probes and polls done, devices probed every interval, double-probes and missed
# slots (from ping_results), lag, CPU, peak RSS per collector. Then one of the three is SIGKILLed:
# time to rebalance, until every device is fresh again, double-probes and slots missed around the
# kill. About 16 minutes; bounded by --timeout. Small: BENCHFLAGS="--scale-size 3000 --scale-duration 2m".
.PHONY: bench-scale
bench-scale:
	$(GO) build -o bin/wardops-bench ./cmd/wardops-bench
	./bin/wardops-bench --scale-size 100000 --scale-duration 300s --scale-snmp-interval 300s --interval 30s --timeout 30m $(BENCHFLAGS)

# Query benchmark: wrk with 64 connections against /api/v1/dashboard and
# /api/v1/devices?limit=100 with 875 and 100,000 devices in the inventory and live data in
# VictoriaMetrics; p50/p99, requests/s, backend queries per request, and both as ratios to a bare
# net/http handler serving the same bytes in the same run (three alternating rounds, medians). A
# benchmark, not a test.
.PHONY: bench-query
bench-query:
	@scripts/deps.sh bench
	$(GO) test -tags bench -count=1 -timeout 30m -run TestBenchQuery -v ./bench/query/

# Alerting benchmark: one evaluation cycle of every default rule on 875 / 10,000 / 100,000 devices
# with live data (PostgreSQL ping_results, VictoriaMetrics samples), and a 10 % branch-outage storm
# from the rows landing to the last page queued. A benchmark, not a test; bounded by --timeout.
.PHONY: bench-alerting
bench-alerting:
	$(GO) build -o bin/wardops-bench ./cmd/wardops-bench
	./bin/wardops-bench alerting --sizes 875,10000,100000 $(BENCHFLAGS)

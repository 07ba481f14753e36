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

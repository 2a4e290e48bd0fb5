# appl — build and test entry points. `make test` is the whole suite (CI runs it).
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 4s

.PHONY: all build test unit race fuzz vet bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# The whole suite: vet, every test with the race detector (integration tests in network
# namespaces run when root and skip with a message otherwise), then every fuzz target
# for a few seconds.
test: vet
	$(GO) test -race -count=1 -timeout 25m ./...
	scripts/fuzz-all.sh $(FUZZTIME)

unit:
	$(GO) test -count=1 -short ./...

fuzz:
	scripts/fuzz-all.sh $(FUZZTIME)

bench: build
	APPLD=$(CURDIR)/$(BIN)/appld bench/run.sh

clean:
	rm -rf $(BIN)

# Two appl nodes, two backends and a client in network namespaces (root); prints the VIP
# and what to try, tears everything down on Ctrl-C or when stdin closes.
.PHONY: demo-pair
demo-pair:
	scripts/demo-pair.sh

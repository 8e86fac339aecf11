# Build, test and generate. `make` builds everything into bin/.

BINDIR ?= bin
# Static and stripped: no libc mapped into every shim, fewer pages to touch.
GOBUILD = CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"

.PHONY: all build test unit integration bench protos clean

all: build

build:
	$(GOBUILD) -o $(BINDIR)/ ./cmd/...

# The whole suite: unit and integration tests against real runc.
test: build
	SEED_BIN_DIR=$(abspath $(BINDIR)) go test -count=1 ./...

unit:
	go test -count=1 $$(go list ./... | grep -v /tests/)

integration: build
	SEED_BIN_DIR=$(abspath $(BINDIR)) go test -count=1 ./tests/...

# Our daemon vs containerd 1.6 through the gRPC client API (cmd/bench), small so it never rots.
# Full size: bin/bench -target both -n 1000 -c 10 -r 20 -k 1000 -rounds 3 -json bench.json  (bin/bench -h for flags)
bench: build
	$(BINDIR)/bench -bin $(BINDIR) -target both -n 20 -c 10 -r 10

# Regenerate the Go code for shimapi/**/*.proto and api/**/*.proto
# (needs protoc; installs the gogo/ttrpc protoc plugins if missing).
protos:
	./hack/protos.sh

clean:
	rm -rf $(BINDIR)

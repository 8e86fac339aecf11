#!/usr/bin/env bash
# Regenerates the Go code for the protobuf definitions under shimapi/ and api/.
# Run from anywhere (usually via `make protos`). Needs protoc (3.x) on PATH;
# the gogo/ttrpc protoc plugins are installed with `go install` into GOBIN
# (default $(go env GOPATH)/bin) if missing there.
set -euo pipefail

cd "$(dirname "$0")/.."

GOGO_VERSION=v1.3.2
TTRPC_VERSION=v1.1.2

gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
	gobin="$(go env GOPATH)/bin"
fi
export PATH="$gobin:$PATH"

if ! command -v protoc >/dev/null 2>&1; then
	echo "protos: protoc not found (apt-get install protobuf-compiler)" >&2
	exit 1
fi
# The plugins are looked up in $gobin (not anywhere on PATH) so that the
# pinned versions are used.
if [ ! -x "$gobin/protoc-gen-gogofaster" ]; then
	echo "protos: installing protoc-gen-gogofaster@$GOGO_VERSION into $gobin" >&2
	GOBIN="$gobin" go install "github.com/gogo/protobuf/protoc-gen-gogofaster@$GOGO_VERSION"
fi
if [ ! -x "$gobin/protoc-gen-gogottrpc" ]; then
	echo "protos: installing protoc-gen-gogottrpc@$TTRPC_VERSION into $gobin" >&2
	GOBIN="$gobin" go install "github.com/containerd/ttrpc/cmd/protoc-gen-gogottrpc@$TTRPC_VERSION"
fi

gogo="$(go env GOMODCACHE)/github.com/gogo/protobuf@$GOGO_VERSION"
if [ ! -d "$gogo" ]; then
	go mod download "github.com/gogo/protobuf@$GOGO_VERSION"
fi

# Well-known types map to gogo's Go packages.
maps="Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto"
for wkt in any duration empty field_mask timestamp; do
	maps="$maps,Mgoogle/protobuf/$wkt.proto=github.com/gogo/protobuf/types"
done

# gen PLUGIN_OUT DIR: compiles every .proto directly in DIR (one Go package).
gen() {
	local out="$1" dir="$2"
	protoc -I . -I "$gogo" -I "$gogo/protobuf" \
		"$out" \
		"$dir"/*.proto
}

# Messages only.
plain="--gogofaster_out=$maps,paths=source_relative:."
# Services reached over ttrpc (shim side).
ttrpc="--gogottrpc_out=plugins=ttrpc,$maps,paths=source_relative:."
# Services reached over gRPC (client API).
grpc="--gogofaster_out=plugins=grpc,$maps,paths=source_relative:."

gen "$plain" shimapi/types
gen "$plain" shimapi/types/task
gen "$plain" shimapi/events
gen "$plain" shimapi/runcopts
gen "$plain" shimapi/runctypes
gen "$ttrpc" shimapi/task
gen "$ttrpc" shimapi/eventsttrpc
gen "$ttrpc" shimapi/shimv1

gen "$plain" api/types/rpc
for svc in version namespaces containers tasks events leases introspection; do
	gen "$grpc" "api/services/$svc/v1"
done

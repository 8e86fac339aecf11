#!/bin/sh
# Runs one busybox container through our shim, driven by a private containerd
# 1.6 (until our own daemon lands), and cleans up after itself.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/seed-demo-XXXXXX)
trap 'kill $(cat "$dir/pid" 2>/dev/null) 2>/dev/null; sleep 1; rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/rootfs/bin"
ln -s "$root/bin/containerd-shim" "$dir/bin/containerd-shim-seed-v2"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in sh echo uname; do ln -s busybox "$dir/rootfs/bin/$a"; done
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/c.sock"
[ttrpc]
  address = "$dir/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
TOML
PATH="$dir/bin:$PATH" containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
echo $! >"$dir/pid"
for _ in $(seq 50); do [ -S "$dir/c.sock" ] && break; sleep 0.1; done
ctr --address "$dir/c.sock" -n demo run --rm --fifo-dir "$dir/fifo" --runtime io.containerd.seed.v2 \
	--rootfs "$dir/rootfs" hello /bin/sh -c 'echo "hello from a seed shim on $(uname -r)"'

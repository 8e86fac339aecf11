#!/bin/sh
# Starts our daemon on a local state directory (./.demo), runs a busybox
# container through it with our ctr, and leaves the daemon running so you
# can try more commands (printed at the end). `hack/demo.sh stop` stops it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.demo"
ctr="$root/bin/ctr --address $dir/containerd.sock"
if [ "${1:-}" = stop ]; then
	[ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
	# The daemon leaves the tmpfs on its state dir mounted for the shims
	# that outlive it; with none left, take it down too.
	sleep 0.2
	if ! pgrep -f "containerd-shim.*$dir" >/dev/null; then
		umount "$dir/state" 2>/dev/null || true
	fi
	exit 0
fi
mkdir -p "$dir/rootfs/bin"
[ -x "$dir/rootfs/bin/busybox" ] || cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $("$dir/rootfs/bin/busybox" --list); do
	[ -e "$dir/rootfs/bin/$a" ] || ln -s busybox "$dir/rootfs/bin/$a"
done
mkdir -p "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp"
if ! [ -S "$dir/containerd.sock" ] || ! $ctr version >/dev/null 2>&1; then
	"$root/bin/containerd" --address "$dir/containerd.sock" --root "$dir/root" --state "$dir/state" \
		>"$dir/containerd.log" 2>&1 &
	echo $! >"$dir/pid"
	for _ in $(seq 50); do [ -S "$dir/containerd.sock" ] && break; sleep 0.1; done
fi
$ctr run --rm --rootfs "$dir/rootfs" hello /bin/sh -c 'echo "hello from a seed container on $(uname -r)"'
cat <<TXT
The daemon is running (log: $dir/containerd.log). Try:
  $ctr run -d --rootfs $dir/rootfs web /bin/sleep 300
  $ctr tasks ls
  $ctr tasks exec --exec-id sh1 -t web /bin/sh
  $ctr tasks kill web && $ctr tasks rm web && $ctr containers rm web
  hack/demo.sh stop
TXT

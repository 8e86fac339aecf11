#!/usr/bin/env bash
# bench-shim.sh: compare our containerd-shim with containerd's own
# containerd-shim-runc-v2 under a private containerd 1.6.
#
# It builds our shim, installs it as runtime io.containerd.seed.v2 (binary
# containerd-shim-seed-v2 on containerd's PATH), starts a containerd whose
# state, sockets and FIFOs live in a temp dir (runc state goes to
# /run/containerd/runc/NS, NS a unique namespace), then
#   1. times N runs of `ctr run --rm ... /bin/true` with each runtime,
#      alternating, and prints the median (and min/max) wall time per run
#      and the ratio ours/theirs;
#   2. starts one detached `sleep 300` container with each runtime and
#      prints the RSS and PSS of each shim process.
# Everything is cleaned up at the end (also on failure or ^C).
#
# Usage: sudo hack/bench-shim.sh            (N=20 runs per runtime)
#        sudo N=50 hack/bench-shim.sh
# Needs: root, go, containerd + ctr 1.6, containerd-shim-runc-v2, runc,
# a static busybox.
set -euo pipefail

N=${N:-20}
OURS=io.containerd.seed.v2
THEIRS=io.containerd.runc.v2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "bench-shim: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
for b in go containerd ctr containerd-shim-runc-v2 runc busybox; do
	command -v "$b" >/dev/null || die "$b not found in PATH"
done
case "$N" in '' | *[!0-9]* | 0) die "N must be a positive integer, got '$N'" ;; esac

TMP=$(mktemp -d /tmp/sb-XXXXXX) # short: unix socket paths are limited
NS=seedbench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
SOCK=$TMP/c.sock
CTR=(ctr --address "$SOCK" --namespace "$NS")
COMMON=(--fifo-dir "$TMP/fifo")
CPID=

cleanup() {
	set +e
	if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
		for id in $("${CTR[@]}" task ls -q 2>/dev/null); do
			"${CTR[@]}" task kill -s SIGKILL "$id" >/dev/null 2>&1
		done
		for id in $("${CTR[@]}" containers ls -q 2>/dev/null); do
			for _ in $(seq 50); do
				st=$("${CTR[@]}" task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $3}')
				[ -z "$st" ] || [ "$st" = STOPPED ] && break
				sleep 0.1
			done
			"${CTR[@]}" task rm -f "$id" >/dev/null 2>&1
			"${CTR[@]}" containers rm "$id" >/dev/null 2>&1
		done
		kill -TERM "$CPID"
		for _ in $(seq 150); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$CPID" 2>/dev/null
		wait "$CPID" 2>/dev/null
	fi
	# Anything of ours still running (a stuck shim) or mounted goes too.
	for p in /proc/[0-9]*; do
		cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
		[[ $cmd == *"$TMP/"* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	awk -v d="$TMP/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	# Outside $TMP, named after our unique namespace: the runc root both
	# shims use (ctr sends --runc-root only to io.containerd.runc.v2, so
	# both use the default /run/containerd/runc/NS) and ctr's parent cgroup.
	rmdir "/run/containerd/runc/$NS" /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Our shim, named as containerd looks for runtime io.containerd.seed.v2.
mkdir -p "$TMP/bin"
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$TMP/bin/containerd-shim-seed-v2" ./cmd/containerd-shim)  # as make build does

# A minimal busybox rootfs; the runs don't write to it, so all share it.
R=$TMP/rootfs
mkdir -p "$R"/{bin,proc,sys,dev,run,tmp,etc}
cp "$(command -v busybox)" "$R/bin/busybox"
for a in sh true sleep; do ln "$R/bin/busybox" "$R/bin/$a"; done

cat >"$TMP/config.toml" <<EOF
version = 2
root = "$TMP/root"
state = "$TMP/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = "$TMP/debug.sock"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$TMP/opt"
  [plugins."io.containerd.runtime.v1.linux"]
    runtime_root = "$TMP/runc-v1"
EOF
PATH="$TMP/bin:$PATH" containerd --config "$TMP/config.toml" >"$TMP/containerd.log" 2>&1 &
CPID=$!
for _ in $(seq 200); do
	"${CTR[@]}" version >/dev/null 2>&1 && break
	kill -0 "$CPID" 2>/dev/null || { cat "$TMP/containerd.log" >&2; die "containerd exited"; }
	sleep 0.1
done
"${CTR[@]}" version >/dev/null || die "containerd did not come up; log: $TMP/containerd.log"

# run_once RUNTIME ID: one `ctr run --rm ... /bin/true`, prints its wall
# time in microseconds.
run_once() {
	local t0 t1
	t0=$(date +%s%N)
	"${CTR[@]}" run --rm --runtime "$1" "${COMMON[@]}" --rootfs "$R" "$2" /bin/true >/dev/null ||
		die "ctr run --runtime $1 $2 failed; log: $TMP/containerd.log"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

# stats FILE: "median min max" (ms, 1 decimal) of the microsecond values.
stats() {
	sort -n "$1" | awk '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %.1f\n", m / 1000, v[1] / 1000, v[NR] / 1000 }'
}

echo "containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR == 1 {print $3}'), $(nproc) CPUs, kernel $(uname -r)"
echo "== ctr run --rm /bin/true, N=$N per runtime (alternating, after 1 warm-up each)"
run_once "$OURS" warm-seed >/dev/null
run_once "$THEIRS" warm-runc >/dev/null
: >"$TMP/ours.txt"
: >"$TMP/theirs.txt"
for i in $(seq "$N"); do
	# Alternate which goes first, so neither always runs right after the other.
	if [ $((i % 2)) = 1 ]; then
		run_once "$OURS" "seed-$i" >>"$TMP/ours.txt"
		run_once "$THEIRS" "runc-$i" >>"$TMP/theirs.txt"
	else
		run_once "$THEIRS" "runc-$i" >>"$TMP/theirs.txt"
		run_once "$OURS" "seed-$i" >>"$TMP/ours.txt"
	fi
done
read -r om omin omax < <(stats "$TMP/ours.txt")
read -r tm tmin tmax < <(stats "$TMP/theirs.txt")
printf '%-34s median %7.1f ms  (min %.1f, max %.1f)\n' "ours   ($OURS)" "$om" "$omin" "$omax"
printf '%-34s median %7.1f ms  (min %.1f, max %.1f)\n' "theirs ($THEIRS)" "$tm" "$tmin" "$tmax"
awk -v o="$om" -v t="$tm" 'BEGIN {printf "ratio ours/theirs (median): %.2f\n", o / t}'

# shim_pid ID: the long-lived shim serving task ID of our daemon.
shim_pid() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
		case "$cmd" in
		*" start " | *" delete ") ;; # short-lived helpers
		*"-id $1 "*"-address $SOCK "* | *"-id $1 "*"-address $SOCK") echo "${p#/proc/}"; return ;;
		esac
	done
	return 1
}

kib() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

echo "== shim memory, one detached 'sleep 300' container each"
for rt in "$OURS" "$THEIRS"; do
	id=mem-${rt##*.containerd.}
	id=${id//./-}
	"${CTR[@]}" run -d --runtime "$rt" "${COMMON[@]}" --rootfs "$R" "$id" /bin/sleep 300 >/dev/null
done
sleep 1 # let both settle after start
for rt in "$OURS" "$THEIRS"; do
	id=mem-${rt##*.containerd.}
	id=${id//./-}
	pid=$(shim_pid "$id") || die "no shim process found for $id"
	printf '%-34s pid %-7s RSS %6s KiB  PSS %6s KiB  (%s)\n' "$rt" "$pid" \
		"$(kib VmRSS: "/proc/$pid/status")" "$(kib Pss: "/proc/$pid/smaps_rollup")" \
		"$(basename "$(readlink "/proc/$pid/exe")")"
done

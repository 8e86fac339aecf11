#!/usr/bin/env bash
# bench-ctr.sh: containerd's own ctr (/usr/bin/ctr) against our daemon and
# against containerd 1.6, side by side on the same machine in the same run,
# alternating so that drift and noise hit every side alike.
#
# Sections (arguments; all of them by default, always run in this order):
#   daemon    `ctr run --rm --rootfs R ID /bin/true`: our daemon (default
#             runtime io.containerd.runc.v2 = our shim) vs containerd 1.6
#             (io.containerd.runc.v2 = containerd-shim-runc-v2) vs bare
#             `runc run` of the same rootfs as reference, rotating which goes
#             first; N runs each. Then M idle `sleep` containers on each
#             daemon (ctr run -d): daemon RSS/PSS, median shim RSS/PSS.
#   restart   with M running `sleep` containers: SIGKILL the daemon, start it
#             again, time from just before exec to `ctr task ls` listing all
#             M RUNNING; ROUNDS rounds per daemon, alternating; whether any
#             container died or changed pid.
#   runtimes  our daemon driving the four shim kinds (ours v2, ours v1,
#             Debian's containerd-shim-runc-v2 (v2), Debian's containerd-shim
#             (v1)): `ctr run --rm --runtime RT ... /bin/true`, NR runs each,
#             rotating; then RSS/PSS of each kind's shim with one idle
#             container.
#
# Everything is private: daemons, sockets, state and FIFOs under one short
# temp dir, unique namespaces; the only things outside it (runc state of
# containerd's shim in /run/containerd/runc/NS, shim sockets in
# /run/containerd/s, cgroups /sys/fs/cgroup/*/NS) carry our unique
# namespaces or ids and are removed on exit, also on failure or ^C.
# Our binaries are copied into the temp dir first, so a rebuild of bin/
# during the run does not change what is measured.
#
# Usage: sudo hack/bench-ctr.sh [daemon] [restart] [runtimes]
#        sudo N=50 M=200 hack/bench-ctr.sh daemon
# Environment: N (30) runs per side in `daemon`, M (100) idle containers per
# daemon, ROUNDS (3) restarts per daemon, NR (20) runs per runtime, RUNC=0 to
# leave bare runc out of `daemon`, SEED_BIN (REPO/bin) our binaries,
# CTR (/usr/bin/ctr), CONTAINERD (/usr/bin/containerd), KEEP=1 keeps the temp
# dir's logs on failure.
# Needs: root, runc, a static busybox, containerd 1.6 with ctr,
# containerd-shim-runc-v2 and containerd-shim (v1), and `make build` done.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.', sort/awk numerics

N=${N:-30}
M=${M:-100}
ROUNDS=${ROUNDS:-3}
NR=${NR:-20}
RUNC=${RUNC:-1}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SEED_BIN=${SEED_BIN:-$REPO/bin}
CTR=${CTR:-/usr/bin/ctr}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
DEB_SHIM_V2=/usr/bin/containerd-shim-runc-v2
DEB_SHIM_V1=/usr/bin/containerd-shim

die() {
	echo "bench-ctr: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root"
for v in N M ROUNDS NR; do
	case "${!v}" in '' | *[!0-9]* | 0) die "$v must be a positive integer, got '${!v}'" ;; esac
done
for b in "$CTR" "$CONTAINERD" "$DEB_SHIM_V2" "$DEB_SHIM_V1" "$SEED_BIN/containerd" "$SEED_BIN/containerd-shim"; do
	[ -x "$b" ] || die "$b not found or not executable (run 'make build' for bin/)"
done
for b in runc busybox sha256sum; do
	command -v "$b" >/dev/null || die "$b not found in PATH"
done

SECTIONS=()
[ $# -gt 0 ] || set -- daemon restart runtimes
for a in "$@"; do
	case "$a" in
	daemon | restart | runtimes) SECTIONS+=("$a") ;;
	all) SECTIONS+=(daemon restart runtimes) ;;
	-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown section '$a' (want daemon, restart, runtimes or all)" ;;
	esac
done
want() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }

TMP=$(mktemp -d /tmp/sbc-XXXXXX) # short: unix socket paths are limited
RAND=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
# Unique namespaces: ours (daemon, restart), ours (runtimes), containerd's,
# and the cgroup parent of the bare runc runs.
NS_O=sbo-$RAND NS_B=sbr-$RAND NS_C=sbc-$RAND NS_R=sbx-$RAND
R=$TMP/rootfs
FIFO=$TMP/fifo
RES=$TMP/res
mkdir -p "$RES" "$FIFO" "$TMP/bin"

declare -A DIR SOCK PID
DIR[ours]=$TMP/o DIR[ctd]=$TMP/c
SOCK[ours]=$TMP/o/c.sock SOCK[ctd]=$TMP/c/c.sock
PID[ours]= PID[ctd]=
declare -A LABEL=([ours]="ours (bin/containerd)" [ctd]="containerd $("$CONTAINERD" --version | awk '{print $3}')")
declare -A NSOF=([ours]=$NS_O [ctd]=$NS_C)

# c SIDE ARGS...: containerd's ctr against a daemon in its namespace.
c() {
	local s=$1
	shift
	"$CTR" --address "${SOCK[$s]}" -n "${NSOF[$s]}" "$@"
}
# cb ARGS...: ctr against our daemon in the runtimes namespace.
cb() { "$CTR" --address "${SOCK[ours]}" -n "$NS_B" "$@"; }

# Every container id we create, for the shim socket check at exit.
note_id() { echo "$1/$2/$3" >>"$TMP/ids"; } # SOCK NS ID

# ---------------------------------------------------------------- cleanup

daemon_alive() { [ -n "${PID[$1]}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }

# remove_all SOCK NS: force-delete every task and container, 4 at a time.
remove_all() {
	local C=("$CTR" --address "$1" -n "$2") ids
	ids=$("${C[@]}" task ls -q 2>/dev/null) || return 0
	[ -z "$ids" ] || printf '%s\n' $ids | xargs -r -P4 -I{} "${C[@]}" task rm -f {} >/dev/null 2>&1 || true
	ids=$("${C[@]}" containers ls -q 2>/dev/null) || return 0
	[ -z "$ids" ] || printf '%s\n' $ids | xargs -r -P4 -I{} "${C[@]}" containers rm {} >/dev/null 2>&1 || true
}

# cgroup_dirs NS: the cgroup directories ctr gives containers of NS
# (/NS/ID under every v1 hierarchy, or under the v2 root).
cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup/"$1" /sys/fs/cgroup/*/"$1"; do
		[ -d "$d" ] && echo "$d"
	done
	return 0
}

cleanup() {
	local rc=$?
	set +e
	trap - INT TERM
	local s p cmd args
	for s in ours ctd; do
		if daemon_alive "$s"; then
			remove_all "${SOCK[$s]}" "${NSOF[$s]}"
			if [ "$s" = ours ]; then remove_all "${SOCK[ours]}" "$NS_B"; fi
			kill -TERM "${PID[$s]}"
			for _ in $(seq 150); do kill -0 "${PID[$s]}" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "${PID[$s]}" 2>/dev/null
			wait "${PID[$s]}" 2>/dev/null
		fi
	done
	# Whatever of ours still runs: shims and helpers name $TMP on their
	# command line, containers live in our namespaces' cgroups.
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		mapfile -d '' args 2>/dev/null <"$p/cmdline" || continue
		cmd="${args[*]}"
		[[ $cmd == *"$TMP/"* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	for s in "$NS_O" "$NS_B" "$NS_C" "$NS_R"; do
		for d in $(cgroup_dirs "$s"); do
			find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		done
	done
	sleep 0.2
	for s in "$NS_O" "$NS_B" "$NS_C" "$NS_R"; do
		for d in $(cgroup_dirs "$s"); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	done
	awk -v d="$TMP/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	# Outside $TMP: containerd's runc shim keeps runc state in
	# /run/containerd/runc/NS (ours keeps it in the daemon's state dir), and
	# v1 shims and containerd-shim-runc-v2 listen on /run/containerd/s/HEX,
	# HEX = sha256(ADDRESS/NS/ID); a shim that exits properly removes it.
	rm -rf "/run/containerd/runc/$NS_C" "/run/containerd/runc/$NS_O" "/run/containerd/runc/$NS_B"
	if [ -f "$TMP/ids" ]; then
		sort -u "$TMP/ids" | while read -r k; do
			h=$(printf %s "$k" | sha256sum)
			rm -f "/run/containerd/s/${h%% *}"
		done
	fi
	if [ "$rc" != 0 ] && [ "${KEEP:-0}" = 1 ]; then
		echo "bench-ctr: KEEP=1: logs left in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- setup

cp "$SEED_BIN/containerd" "$SEED_BIN/containerd-shim" "$TMP/bin/"
BINSUM=$(cd "$TMP/bin" && for f in containerd containerd-shim; do
	printf '%s %s (built %s)  ' "$f" "$(sha256sum <"$f" | cut -c1-12)" "$(date -r "$SEED_BIN/$f" '+%H:%M:%S')"
done)

mkdir -p "$R"/{bin,proc,sys,dev,run,tmp,etc}
cp "$(command -v busybox)" "$R/bin/busybox"
for a in sh true sleep; do ln "$R/bin/busybox" "$R/bin/$a"; done

mkdir -p "${DIR[ours]}" "${DIR[ctd]}"
# Our daemon: the four runtime kinds of tests/daemon/runtimes_test.go; the
# default runtime (io.containerd.runc.v2) is our shim.
cat >"${DIR[ours]}/config.toml" <<EOF
version = 2
[runtime.runtimes."seed.debian.v2"]
  protocol = "v2"
  shim = "$DEB_SHIM_V2"
[runtime.runtimes."seed.debian.v1"]
  protocol = "v1"
  shim = "$DEB_SHIM_V1"
  runc = "runc"
EOF
cat >"${DIR[ctd]}/config.toml" <<EOF
version = 2
root = "${DIR[ctd]}/root"
state = "${DIR[ctd]}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "${SOCK[ctd]}"

[ttrpc]
  address = "${SOCK[ctd]}.ttrpc"

[debug]
  address = "${DIR[ctd]}/debug.sock"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${DIR[ctd]}/opt"
  [plugins."io.containerd.runtime.v1.linux"]
    runtime_root = "${DIR[ctd]}/runc-v1"
EOF
declare -A DCMD
DCMD[ours]="$TMP/bin/containerd --address ${SOCK[ours]} --root ${DIR[ours]}/root --state ${DIR[ours]}/state --config ${DIR[ours]}/config.toml"
DCMD[ctd]="$CONTAINERD --config ${DIR[ctd]}/config.toml"

# start_daemon SIDE: starts it in the background; the child writes the
# time (µs) into DIR/t0 just before it execs the daemon.
start_daemon() {
	local s=$1
	# shellcheck disable=SC2086
	(
		echo "${EPOCHREALTIME/./}" >"${DIR[$s]}/t0"
		exec ${DCMD[$s]} >>"${DIR[$s]}/daemon.log" 2>&1
	) &
	PID[$s]=$!
}

# wait_ready SIDE: until `ctr version` answers (30 s).
wait_ready() {
	local s=$1
	for _ in $(seq 300); do
		"$CTR" --address "${SOCK[$s]}" --connect-timeout 200ms version >/dev/null 2>&1 && return 0
		daemon_alive "$s" || { tail -20 "${DIR[$s]}/daemon.log" >&2; die "${LABEL[$s]} exited at startup"; }
		sleep 0.1
	done
	tail -20 "${DIR[$s]}/daemon.log" >&2
	die "${LABEL[$s]} did not answer within 30 s"
}

ensure_daemon() {
	daemon_alive "$1" && return 0
	start_daemon "$1"
	wait_ready "$1"
}

# ---------------------------------------------------------------- helpers

# A file descriptor that never becomes readable: `read -t` on it sleeps
# without forking.
exec {NEVER}<> <(:)
nap() { read -r -t "$1" -u "$NEVER" _ || true; }

LAST_US=0
# timed CMD...: runs CMD (output discarded), sets LAST_US; fails with CMD.
timed() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>"$TMP/last.err" || return 1
	t1=${EPOCHREALTIME/./}
	LAST_US=$((t1 - t0))
}

# run_rm SIDE ID: one `ctr run --rm ... /bin/true` through a daemon.
run_rm() {
	note_id "${SOCK[$1]}" "${NSOF[$1]}" "$2"
	timed c "$1" run --rm --fifo-dir "$FIFO" --rootfs "$R" "$2" /bin/true ||
		die "${LABEL[$1]}: ctr run --rm $2 failed: $(cat "$TMP/last.err"); log ${DIR[$1]}/daemon.log:
$(tail -5 "${DIR[$1]}/daemon.log")"
}

# stats FILE DIV FMT: "n median p95 min max" of the values divided by DIV,
# printed with FMT (p95: nearest rank).
stats() {
	sort -n "$1" | awk -v d="$2" -v f="$3" '{v[NR] = $1 / d} END {
		if (NR == 0) { print "0 - - - -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		r = int(0.95 * NR); if (r < 0.95 * NR) r++
		printf "%d " f " " f " " f " " f "\n", NR, m, v[r], v[1], v[NR] }'
}
median() { stats "$1" 1 "${2:-%.1f}" | awk '{print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# kib KEY FILE: a "Key: N kB" field of a /proc file.
kib() { awk -v k="$1" '$1 == k {print $2; exit}' "$2" 2>/dev/null; }
mem_of() { echo "$(kib VmRSS: "/proc/$1/status") $(kib Pss: "/proc/$1/smaps_rollup")"; }

# shims_of SOCK: pids of long-lived shims serving the daemon at SOCK:
# containerd-shim* processes with `-address SOCK` and no start/delete action.
shims_of() {
	local p args i
	for p in /proc/[0-9]*; do
		mapfile -d '' args 2>/dev/null <"$p/cmdline" || continue
		[ "${#args[@]}" -gt 2 ] || continue
		[[ ${args[0]##*/} == containerd-shim* ]] || continue
		case "${args[-1]}" in start | delete) continue ;; esac
		for ((i = 1; i < ${#args[@]} - 1; i++)); do
			if [ "${args[i]}" = -address ] && [ "${args[i + 1]#unix://}" = "$1" ]; then
				echo "${p#/proc/}"
				break
			fi
		done
	done
}

# shim_for SOCK NS ID: the shim serving one container: a v2 shim has
# `-id ID`, a v1 shim `-workdir .../NS/ID`.
shim_for() {
	local p args i
	for p in $(shims_of "$1"); do
		mapfile -d '' args 2>/dev/null <"/proc/$p/cmdline" || continue
		for ((i = 1; i < ${#args[@]} - 1; i++)); do
			case "${args[i]}" in
			-id) [ "${args[i + 1]}" = "$3" ] && { echo "$p"; return 0; } ;;
			-workdir) [[ ${args[i + 1]} == */"$2/$3" ]] && { echo "$p"; return 0; } ;;
			esac
		done
	done
	return 1
}

# running_count CTRFUNC ARGS: how many tasks `ctr task ls` shows RUNNING
# (prints nothing and fails when ctr fails).
running_count() {
	local out n=0 id pid st
	out=$("$@" task ls 2>/dev/null) || return 1
	while read -r id pid st; do
		[ "$st" = RUNNING ] && n=$((n + 1))
	done <<<"$out"
	echo "$n"
}

# ensure_sleepers SIDE: M running `sleep 3600` containers sl-1..sl-M
# (creates the missing ones, timing each `ctr run -d` into RES/rund-SIDE).
ensure_sleepers() {
	local s=$1 i have
	have=" $(c "$s" task ls | awk '$3 == "RUNNING" {printf "%s ", $1}')" || die "${LABEL[$s]}: ctr task ls failed"
	for i in $(seq "$M"); do
		[[ $have == *" sl-$i "* ]] && continue
		note_id "${SOCK[$s]}" "${NSOF[$s]}" "sl-$i"
		timed c "$s" run -d --null-io --fifo-dir "$FIFO" --rootfs "$R" "sl-$i" /bin/sleep 3600 ||
			die "${LABEL[$s]}: ctr run -d sl-$i failed: $(cat "$TMP/last.err")"
		echo "$LAST_US" >>"$RES/rund-$s"
	done
}

row() { printf "  %-42s %5s %9s %9s %9s %9s  %s\n" "$@"; }
hdr() { row "" N "median" "p95" "min" "max" "$1"; }

echo "bench-ctr: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  ours: $SEED_BIN (git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo ?)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ', dirty tree')), containerd $("$CONTAINERD" --version | awk '{print $3}'), runc $(runc --version | awk 'NR == 1 {print $3}'), ctr $CTR"
echo "  binaries: $BINSUM"
echo "  sections: ${SECTIONS[*]}; temp dir $TMP"
echo "  our daemon:  ${DCMD[ours]}   (config: the runtimes of tests/daemon/runtimes_test.go)"
echo "  containerd:  ${DCMD[ctd]}   (config: root/state/sockets/opt/v1 runtime root in the temp dir, CRI off)"

ensure_daemon ours
ensure_daemon ctd

# ---------------------------------------------------------------- daemon

# Bare runc: a `runc spec` bundle running /bin/true from the same rootfs,
# no terminal, writable root (as ctr's), cgroup /NS_R/bare (ctr's are /NS/ID).
runc_setup() {
	local b=$TMP/bundle
	mkdir -p "$b" "$TMP/runc-root"
	(cd "$b" && runc spec)
	sed -i -e 's|"terminal": true|"terminal": false|' \
		-e 's|^\(\s*\)"sh"$|\1"/bin/true"|' \
		-e "s|\"path\": \"rootfs\"|\"path\": \"$R\"|" \
		-e 's|"readonly": true|"readonly": false|' \
		-e "s|^\(\s*\)\"linux\": {\$|&\n\1\t\"cgroupsPath\": \"/$NS_R/bare\",|" "$b/config.json"
	grep -q '"/bin/true"' "$b/config.json" && grep -q "\"path\": \"$R\"" "$b/config.json" &&
		grep -q "\"cgroupsPath\": \"/$NS_R/bare\"" "$b/config.json" ||
		die "could not edit $b/config.json made by runc spec"
}
# run_runc ID: one `runc run` of the bundle.
run_runc() {
	timed runc --root "$TMP/runc-root" run -b "$TMP/bundle" "r-$1" </dev/null ||
		die "runc run r-$1 failed: $(cat "$TMP/last.err")"
}

section_daemon() {
	local i k s sides=(ours ctd)
	if [ "$RUNC" = 1 ]; then
		runc_setup
		sides+=(runc)
	fi
	echo
	echo "== daemon: ctr run --rm --rootfs R ID /bin/true, N=$N per side (rotating who goes first, after 1 warm-up each)"
	run_rm ours warm-1
	run_rm ctd warm-1
	if [ "$RUNC" = 1 ]; then run_runc warm; fi
	local n=${#sides[@]}
	for i in $(seq "$N"); do
		for k in $(seq 0 $((n - 1))); do
			s=${sides[$(((i + k) % n))]}
			case "$s" in
			runc) run_runc "$i" ;;
			*) run_rm "$s" "d-$i" ;;
			esac
			echo "$LAST_US" >>"$RES/runrm-$s"
		done
	done
	hdr "(ms, wall time of one ctr or runc command)"
	local med_o med_c med_r
	for s in "${sides[@]}"; do
		case "$s" in
		ours) row "ours: bin/containerd + our shim" $(stats "$RES/runrm-ours" 1000 %.1f) ;;
		ctd) row "containerd 1.6 + containerd-shim-runc-v2" $(stats "$RES/runrm-ctd" 1000 %.1f) ;;
		runc) row "bare runc run (reference)" $(stats "$RES/runrm-runc" 1000 %.1f) ;;
		esac
	done
	med_o=$(median "$RES/runrm-ours") med_c=$(median "$RES/runrm-ctd")
	echo "  ratio ours/containerd (median): $(ratio "$med_o" "$med_c")"
	if [ "$RUNC" = 1 ]; then
		med_r=$(median "$RES/runrm-runc")
		echo "  ratio ours/bare runc (median): $(ratio "$med_o" "$med_r");  containerd/bare runc: $(ratio "$med_c" "$med_r")"
	fi
	# The floor under every ctr figure: starting ctr and one RPC.
	for i in $(seq "$N"); do
		for s in ours ctd; do
			timed c "$s" version || die "${LABEL[$s]}: ctr version failed: $(cat "$TMP/last.err")"
			echo "$LAST_US" >>"$RES/version-$s"
		done
	done
	row "floor: ctr version, ours" $(stats "$RES/version-ours" 1000 %.1f) "(ctr process start + 1 RPC)"
	row "floor: ctr version, containerd 1.6" $(stats "$RES/version-ctd" 1000 %.1f)
	echo "  reproduce: hack/bench-ctr.sh daemon   (N=$N)"
	echo "    each run: $CTR --address SOCK -n NS run --rm --fifo-dir F --rootfs R d-I /bin/true"
	echo "    floor:    $CTR --address SOCK -n NS version"
	echo "    bare runc: runc --root D run -b BUNDLE rI </dev/null  (BUNDLE: runc spec; args /bin/true, terminal false, root R writable)"

	echo
	echo "== daemon memory: $M idle 'sleep 3600' containers per daemon (ctr run -d --null-io), alternating creates"
	for i in $(seq "$M"); do
		for s in ours ctd; do
			note_id "${SOCK[$s]}" "${NSOF[$s]}" "sl-$i"
			timed c "$s" run -d --null-io --fifo-dir "$FIFO" --rootfs "$R" "sl-$i" /bin/sleep 3600 ||
				die "${LABEL[$s]}: ctr run -d sl-$i failed: $(cat "$TMP/last.err")"
			echo "$LAST_US" >>"$RES/rund-$s"
		done
	done
	nap 3 # let everything go quiet (our shims return memory after 500 ms idle)
	hdr "(ms, ctr run -d of one sleeper)"
	row "ours" $(stats "$RES/rund-ours" 1000 %.1f)
	row "containerd 1.6" $(stats "$RES/rund-ctd" 1000 %.1f)
	printf "  %-42s %10s %10s %6s %13s %13s\n" "" "daemon RSS" "daemon PSS" "shims" "shim RSS med" "shim PSS med"
	local rss pss p
	for s in ours ctd; do
		: >"$RES/shimrss-$s"
		: >"$RES/shimpss-$s"
		for p in $(shims_of "${SOCK[$s]}"); do
			read -r rss pss < <(mem_of "$p")
			if [ -n "$rss" ]; then
				echo "$rss" >>"$RES/shimrss-$s"
				echo "$pss" >>"$RES/shimpss-$s"
			fi
		done
		read -r rss pss < <(mem_of "${PID[$s]}")
		printf "  %-42s %10s %10s %6s %13s %13s   KiB\n" "${LABEL[$s]}" "$rss" "$pss" \
			"$(wc -l <"$RES/shimrss-$s")" "$(median "$RES/shimrss-$s" %.0f)" "$(median "$RES/shimpss-$s" %.0f)"
		[ "$(running_count c "$s")" = "$M" ] || echo "  WARNING: ${LABEL[$s]} does not list $M RUNNING tasks"
	done
	echo "  reproduce: hack/bench-ctr.sh daemon   (M=$M; VmRSS of /proc/PID/status, Pss of /proc/PID/smaps_rollup;"
	echo "    shims = containerd-shim* processes with '-address SOCK' on their command line)"
}

# ---------------------------------------------------------------- restart

section_restart() {
	local s r n t0 t1 before after dead changed pid
	echo
	echo "== restart: $M running sleepers, SIGKILL the daemon, start it again: time from just before exec"
	echo "   to 'ctr task ls' listing all $M RUNNING (polled back to back), $ROUNDS rounds per daemon, alternating"
	ensure_sleepers ours
	ensure_sleepers ctd
	nap 1
	for r in $(seq "$ROUNDS"); do
		local order=(ours ctd)
		[ $((r % 2)) = 0 ] && order=(ctd ours)
		for s in "${order[@]}"; do
			before=$(c "$s" task ls | awk 'NR > 1 {print $1, $2, $3}' | sort) || die "${LABEL[$s]}: ctr task ls failed"
			[ "$(grep -c ' RUNNING$' <<<"$before")" = "$M" ] || die "${LABEL[$s]}: not $M RUNNING before restart:
$before"
			kill -KILL "${PID[$s]}"
			wait "${PID[$s]}" 2>/dev/null || true
			# The socket file stays behind a killed daemon: remove it, so
			# its reappearance says the new daemon is listening.
			rm -f "${SOCK[$s]}"
			start_daemon "$s"
			while [ ! -S "${SOCK[$s]}" ]; do
				daemon_alive "$s" || { tail -20 "${DIR[$s]}/daemon.log" >&2; die "${LABEL[$s]} exited on restart"; }
				nap 0.002
			done
			n=0
			for _ in $(seq 20000); do
				n=$(running_count "$CTR" --address "${SOCK[$s]}" --connect-timeout 200ms -n "${NSOF[$s]}") || n=0
				[ "$n" = "$M" ] && break
				daemon_alive "$s" || { tail -20 "${DIR[$s]}/daemon.log" >&2; die "${LABEL[$s]} exited on restart"; }
			done
			t1=${EPOCHREALTIME/./}
			[ "$n" = "$M" ] || die "${LABEL[$s]}: only $n of $M RUNNING after restart"
			t0=$(cat "${DIR[$s]}/t0")
			echo "$((t1 - t0))" >>"$RES/restart-$s"
			after=$(c "$s" task ls | awk 'NR > 1 {print $1, $2, $3}' | sort) || die "${LABEL[$s]}: ctr task ls failed"
			dead=0
			for pid in $(awk '{print $2}' <<<"$before"); do
				[ -d "/proc/$pid" ] || dead=$((dead + 1))
			done
			changed=$(diff <(echo "$before") <(echo "$after") | grep -c '^[<>]' || true)
			printf "  round %d %-34s %8.1f ms   containers dead: %d, task ls lines changed: %d\n" \
				"$r" "${LABEL[$s]}" "$(awk -v u=$((t1 - t0)) 'BEGIN {print u / 1000}')" "$dead" "$changed"
			echo "$dead $changed" >>"$RES/restart-dead-$s"
		done
	done
	hdr "(ms, daemon exec to all $M RUNNING)"
	row "ours" $(stats "$RES/restart-ours" 1000 %.1f)
	row "containerd 1.6" $(stats "$RES/restart-ctd" 1000 %.1f)
	echo "  ratio ours/containerd (median): $(ratio "$(median "$RES/restart-ours")" "$(median "$RES/restart-ctd")")"
	for s in ours ctd; do
		echo "  ${LABEL[$s]}: containers that died over all rounds: $(awk '{d += $1} END {print d + 0}' "$RES/restart-dead-$s"), changed task ls lines: $(awk '{d += $2} END {print d + 0}' "$RES/restart-dead-$s")"
	done
	echo "  reproduce: hack/bench-ctr.sh restart   (M=$M ROUNDS=$ROUNDS; poll: $CTR --address SOCK --connect-timeout 200ms -n NS task ls)"
}

# ---------------------------------------------------------------- runtimes

RT_NAMES=(ours-v2 ours-v1 runc-v2 shim-v1)
declare -A RT=([ours-v2]=io.containerd.runc.v2 [ours-v1]=io.containerd.runtime.v1.linux
	[runc-v2]=seed.debian.v2 [shim-v1]=seed.debian.v1)
declare -A RT_DESC=([ours-v2]="ours v2 (io.containerd.runc.v2)" [ours-v1]="ours v1 (io.containerd.runtime.v1.linux)"
	[runc-v2]="Debian containerd-shim-runc-v2 (v2)" [shim-v1]="Debian containerd-shim (v1)")

run_rt() { # KIND ID
	note_id "${SOCK[ours]}" "$NS_B" "$2"
	timed cb run --rm --runtime "${RT[$1]}" --fifo-dir "$FIFO" --rootfs "$R" "$2" /bin/true ||
		die "runtime ${RT[$1]}: ctr run --rm $2 failed: $(cat "$TMP/last.err"); log: $(tail -5 "${DIR[ours]}/daemon.log")"
}

section_runtimes() {
	local i k kind n=${#RT_NAMES[@]} base p rss pss
	echo
	echo "== runtimes: our daemon, ctr run --rm --runtime RT --rootfs R ID /bin/true, NR=$NR per runtime (rotating, after 1 warm-up each)"
	daemon_alive ours || ensure_daemon ours
	for kind in "${RT_NAMES[@]}"; do run_rt "$kind" "w-$kind"; done
	for i in $(seq "$NR"); do
		for k in $(seq 0 $((n - 1))); do
			kind=${RT_NAMES[$(((i + k) % n))]}
			run_rt "$kind" "$kind-$i"
			echo "$LAST_US" >>"$RES/rt-$kind"
		done
	done
	hdr "(ms; ratio to ours v2)"
	base=$(median "$RES/rt-ours-v2")
	for kind in "${RT_NAMES[@]}"; do
		row "${RT_DESC[$kind]}" $(stats "$RES/rt-$kind" 1000 %.1f) "x$(ratio "$(median "$RES/rt-$kind")" "$base")"
	done
	echo "  reproduce: hack/bench-ctr.sh runtimes   (NR=$NR; runtime names as in the config printed above)"

	echo
	echo "== runtimes memory: one idle 'sleep 3600' container per runtime, shim RSS/PSS"
	for kind in "${RT_NAMES[@]}"; do
		note_id "${SOCK[ours]}" "$NS_B" "mem-$kind"
		cb run -d --null-io --runtime "${RT[$kind]}" --fifo-dir "$FIFO" --rootfs "$R" "mem-$kind" /bin/sleep 3600 >/dev/null ||
			die "runtime ${RT[$kind]}: ctr run -d mem-$kind failed"
	done
	nap 3
	printf "  %-42s %8s %10s %10s  %s\n" "" pid "RSS KiB" "PSS KiB" binary
	for kind in "${RT_NAMES[@]}"; do
		p=$(shim_for "${SOCK[ours]}" "$NS_B" "mem-$kind") || die "no shim process found for mem-$kind"
		read -r rss pss < <(mem_of "$p")
		printf "  %-42s %8s %10s %10s  %s\n" "${RT_DESC[$kind]}" "$p" "$rss" "$pss" "$(readlink "/proc/$p/exe")"
	done
	echo "  reproduce: hack/bench-ctr.sh runtimes   (v1 shim = the containerd-shim with -workdir .../NS/ID and -address SOCK)"
	remove_all "${SOCK[ours]}" "$NS_B"
}

want daemon && section_daemon
want restart && section_restart
# The runtimes go last; the sleepers of daemon/restart are removed first so
# they do not weigh on our daemon.
if want runtimes; then
	remove_all "${SOCK[ours]}" "$NS_O"
	remove_all "${SOCK[ctd]}" "$NS_C"
	section_runtimes
fi
echo
echo "bench-ctr: done, load $(cut -d' ' -f1-3 /proc/loadavg)"

#!/bin/sh
# Installs what building and testing need and a fresh Debian 12 machine lacks:
# runc, a static busybox (test root filesystems), and containerd 1.6 (the
# peer our shim and daemon are tested against). Go must already be on PATH.
set -eu
missing=""
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing="$missing runc"
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || missing="$missing busybox-static"
command -v containerd >/dev/null 2>&1 || missing="$missing containerd"
command -v script >/dev/null 2>&1 || missing="$missing bsdutils"
command -v make >/dev/null 2>&1 || missing="$missing make"
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "go is not on PATH (expected /usr/local/go/bin)" >&2; exit 1; }

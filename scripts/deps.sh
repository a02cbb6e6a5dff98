#!/bin/bash
# Install the Debian packages modelux needs to build and test. Idempotent and fast: one
# dpkg-query when everything is there; otherwise, as root, one `apt-get update` and one
# `apt-get install` of just the missing packages. Fails with a message saying what is missing.
set -euo pipefail

pkgs=(
	build-essential clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
	libnetfilter-queue-dev libmnl-dev libnl-3-dev libnl-route-3-dev libnghttp2-dev libssl-dev
	libsqlite3-dev libcmocka-dev libjansson-dev libpcre2-dev libhyperscan-dev libsystemd-dev pkg-config
	iproute2 iptables dnsmasq-base curl nghttp2-client nghttp2-server
	python3 python3-requests python3-httpx nodejs openssl libclang-rt-14-dev
	util-linux procps tzdata
)

missing_pkgs() {	# prints the packages of $pkgs that are not installed, one per line
	local -A have=()
	local p st
	while read -r p st; do
		[ "$st" = installed ] && have[$p]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${pkgs[@]}" 2>/dev/null || true)
	for p in "${pkgs[@]}"; do
		[ -n "${have[$p]:-}" ] || echo "$p"
	done
}

if ! command -v dpkg-query >/dev/null; then
	echo "deps: dpkg-query not found: this script installs Debian packages (Debian 12)" >&2
	exit 1
fi

mapfile -t missing < <(missing_pkgs)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: installing them needs root: run 'sudo scripts/deps.sh' (or make deps as root)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -q -o DPkg::Lock::Timeout=300)
# A failing update (say, an unreachable third-party source) need not be fatal: the install
# below says whether the packages could be had.
if ! "${apt[@]}" update; then
	echo "deps: warning: apt-get update failed; trying the install anyway" >&2
fi
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; then
	echo "deps: apt-get install failed for: ${missing[*]}" >&2
	exit 1
fi

mapfile -t still < <(missing_pkgs)
if [ ${#still[@]} -gt 0 ]; then
	echo "deps: still not installed after apt-get install: ${still[*]}" >&2
	exit 1
fi
echo "deps: installed ${missing[*]}" >&2

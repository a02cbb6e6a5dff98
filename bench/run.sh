#!/bin/bash
# `make bench`: modelux's data path against a direct connection and against HAProxy, side by side
# in one run, on the same local TLS upstream (nginx with a certificate for api.openai.com from a
# throwaway provider CA, 1 KiB body at /v1/ping). A benchmark, not a test: it prints each figure
# as it is measured, refreshes BENCHMARKS.md and ends with exactly one line
#
#   bench: h1_ratio=X h2_ratio=Y churn_ratio=Z        (modelux req/s / direct req/s, or n/a)
#
# Needs root. Installs haproxy, nginx, nghttp2-client (h2load), dnsmasq-base if missing (without
# letting the packages start their system services). Everything runs in its own network
# namespaces and cgroups, removed on exit (also on Ctrl-C); the host's traffic is never steered
# (modelux's scope is the benchmark's client cgroup, its redirect acts only in the client netns).
#
# Topology (names unique per run: mlxb<pid>):
#   client netns                                   veth               provider netns
#   10.203.0.1                               <----------------->  10.203.0.2:443  nginx
#   lo: 127.0.0.1:15001 modelux-agent (cgroup agent/)                10.203.0.53    dnsmasq
#       127.0.0.1:18443 haproxy       (cgroup haproxy/)             (api.openai.com -> .2)
#   load generators in cgroup client/ (modelux's scope: redirected) or direct/ (not in scope)
#
# Scenarios (32 concurrent clients, one thread; BENCH_WARMUP s of warm-up, then BENCH_DURATION s
# measured; every scenario x target BENCH_ROUNDS times, interleaved: direct, modelux, haproxy).
# On this kind of VM the speed drifts by tens of percent over minutes and a run without a proxy
# (two busy processes on two CPUs) may land in a ~25% slower mode for its whole length, so a
# ratio is taken per round (a proxy's run against the direct run just before it) and the median
# of those is reported, with the median and best req/s:
#   h1            h2load -t 1 -c 32 --h1             keep-alive HTTP/1.1, one request in flight
#   h2            h2load -t 1 -c 32 --npn-list=h2 -m 8   HTTP/2 only (no fallback), 8 streams
#   churn         bench/churn.c -c 32                one request per TLS connection, full
#                                                    handshake every time (no resumption)
#   churn-resume  bench/churn.c -c 32 -R             same, each connection offering the previous
#                                                    one's session (what h2load does on reconnect)
# churn.c and not h2load for churn: h2load's reconnect-per-request mode (`-H 'Connection: close'`)
# stalls in timing mode (-D), always resumes sessions, and relies on the proxy honouring a
# client's Connection: close (see the note the run prints about modelux).
# A run counts only when the ALPN is the scenario's (for h2: h2 negotiated) and at most 1% of the
# requests failed or got a non-2xx; req/s = 2xx responses / measured seconds. modelux's h2 is
# reported "n/a (h2 not implemented ...)" while the agent does not offer h2 to clients; it is
# measured as soon as it does. Also: the time to mint a leaf for a new SNI (bench/mint_bench.c),
# and memory per idle intercepted connection (a fresh agent, bench/idle_conns.py holding
# BENCH_IDLE_CONNS TLS connections through it).
#
# Environment: O (build dir, default build), BENCH_DURATION (5), BENCH_WARMUP (1), BENCH_ROUNDS
# (5), BENCH_CLIENTS (32), BENCH_IDLE_CONNS (10000), BENCH_SCENARIOS (all), BENCH_PERF (1: perf record the agent during
# the first modelux h1 run and print its top symbols), BENCH_KEEP (1: keep the run dir),
# BENCH_NO_MD (1: do not touch BENCHMARKS.md), BENCH_SETUP_ONLY (1: set everything up, say where,
# and wait for Ctrl-C: for looking around by hand).
set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "$REPO" && realpath -m -- "${O:-build}")
DUR=${BENCH_DURATION:-5}
WARM=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_ROUNDS:-5}
CLIENTS=${BENCH_CLIENTS:-32}
STREAMS=8
IDLE_WANT=${BENCH_IDLE_CONNS:-10000}
PY=/usr/bin/python3
SNI=api.openai.com
URI=https://$SNI/v1/ping
BODY_BYTES=1024
ADDR_CLIENT=10.203.0.1
ADDR_PROV=10.203.0.2
ADDR_DNS=10.203.0.53
AGENT_PORT=15001
HAPROXY_PORT=18443        # generate-certificates
HAPROXY_STATIC_PORT=18444 # a leaf minted beforehand (h2 only, see haproxy.cfg.in)
HAPROXY_H2_PORT=$HAPROXY_PORT
HAPROXY_H2_NOTE=
SCENARIOS=(h1 h2 churn churn-resume llm)
# BENCH_SCENARIOS="h1 churn": only those (for working on one figure; make bench runs them all)
[ -n "${BENCH_SCENARIOS:-}" ] && read -r -a SCENARIOS <<<"$BENCH_SCENARIOS"
TARGETS=(direct modelux nopolicy bare haproxy)
# `nopolicy` (modelux without its policy and budgets: parsing, keys, tags, detectors and the
# log still on) and `bare` (govern = no) run only in these scenarios: what governance costs,
# and what of it the policy and budgets cost.
BARE_SCENARIOS=" h1 llm "
# A made-up API key of OpenAI's project format for the llm scenario (fingerprinted, never stored).
BENCH_KEY="sk-proj-bench$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"

for v in DUR WARM ROUNDS CLIENTS IDLE_WANT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer" >&2; exit 2; }
done

ID=mlxb$$
CLIENT_NS=$ID-client
PROV_NS=$ID-prov
RUN=
CG=
PIN_DIR=/sys/fs/bpf/modelux-bench-$$
BG_PIDS=()
DONE=0
FAILED=0

say() { printf '%s\n' "$*"; }                 # a figure or a result
info() { printf 'bench: %s\n' "$*"; }         # progress
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Clean-up: every process we started (by process group), then our cgroups (killing what is left
# in them), our namespaces, their /etc/netns entries, the pin dir and the run dir.

teardown() {
	local pid ns pids
	set +e
	for pid in "${BG_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
	for pid in "${BG_PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	BG_PIDS=()
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		echo 1 >"$CG/cgroup.kill" 2>/dev/null
		for _ in $(seq 1 30); do grep -qx 'populated 0' "$CG/cgroup.events" && break; sleep 0.1; done
		find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
	fi
	for ns in "$CLIENT_NS" "$PROV_NS"; do
		[ -e "/run/netns/$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
		for _ in $(seq 1 20); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "/etc/netns/$CLIENT_NS" "/etc/netns/$PROV_NS" 2>/dev/null
	rmdir /etc/netns 2>/dev/null
	[ -d "$PIN_DIR" ] && rm -rf -- "$PIN_DIR"
	if [ -n "$RUN" ] && [ -d "$RUN" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
			echo "bench: kept run dir $RUN" >&2
		else
			rm -rf -- "$RUN"
		fi
	fi
}

on_exit() {
	local rc=$?
	[ "$DONE" = 1 ] && return
	trap - EXIT INT TERM HUP
	teardown
	exit "$rc"
}
trap on_exit EXIT
trap 'echo "bench: interrupted, cleaning up" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------------------------------
# Packages.

install_pkgs() {	# <package...>: apt-get install, without starting their services
	local policy=/usr/sbin/policy-rc.d ours=0 rc=0
	export DEBIAN_FRONTEND=noninteractive
	# A package install starts its service (nginx would take the host's port 80): forbid that
	# for the time of the install, unless the host already has its own policy.
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# made by modelux bench/run.sh for one apt-get install\nexit 101\n' >"$policy" &&
			chmod 755 "$policy" && ours=1
	fi
	apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >"$RUN/apt.log" 2>&1 ||
		{ apt-get -q update >>"$RUN/apt.log" 2>&1
		  apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >>"$RUN/apt.log" 2>&1; } ||
		rc=$?
	[ "$ours" = 1 ] && rm -f "$policy"
	[ "$rc" = 0 ] || { tail -n 20 "$RUN/apt.log" >&2; die "apt-get install $* failed"; }
}

need_tools() {
	local missing=()
	command -v haproxy >/dev/null || missing+=(haproxy)
	command -v nginx >/dev/null || missing+=(nginx)
	command -v h2load >/dev/null || missing+=(nghttp2-client)
	command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
	command -v ip >/dev/null || missing+=(iproute2)
	command -v iptables >/dev/null || missing+=(iptables)
	command -v nsenter >/dev/null || missing+=(util-linux)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v gcc >/dev/null || missing+=(gcc)
	[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
	[ -x "$PY" ] || missing+=(python3)
	if [ ${#missing[@]} -gt 0 ]; then
		info "installing Debian packages: ${missing[*]}"
		install_pkgs "${missing[@]}"
	fi
}

# ---------------------------------------------------------------------------------------------
# Runners and background processes.

# <cgroup name> <cmd...>: CMD in cgroup $CG/<name> and the client netns with the client's
# resolv.conf (ip netns exec).
in_client_cg() {
	local cg=$1
	shift
	sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec ip netns exec "$ns" "$@"' \
		sh "$CG/$cg" "$CLIENT_NS" "$@"
}
# <cmd...>: the agent's way: cgroup agent/, client netns, host's /sys kept (nsenter).
in_agent_cg() {
	sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec nsenter --net="$ns" "$@"' \
		sh "$CG/agent" "/run/netns/$CLIENT_NS" "$@"
}
in_prov() {
	sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec ip netns exec "$ns" "$@"' \
		sh "$CG/prov" "$PROV_NS" "$@"
}

# <name> <cmd...>: in the background, own process group, output to $RUN/<name>.log.
start_bg() {
	local name=$1
	shift
	set -m
	("$@") </dev/null >"$RUN/$name.log" 2>&1 &
	local pid=$!
	set +m
	BG_PIDS+=("$pid")
	echo "$pid" >"$RUN/$name.pid"
}
stop_bg() {	# <name>
	local pid p rest=()
	pid=$(cat "$RUN/$1.pid") || return 1
	kill -TERM -- "-$pid" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
	BG_PIDS=("${rest[@]}")
}

poll() {	# <timeout_s> <cmd...>: every 0.1 s until cmd succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

listens() {	# <ns> <addr:port>
	[ -n "$(ip netns exec "$1" ss -Hltn "src $2" 2>/dev/null)" ]
}

cpu_usec() {	# <cgroup name>
	awk '$1 == "usage_usec" { print $2 }' "$CG/$1/cpu.stat"
}
cpu_all() {	# everything the benchmark runs: h2load, proxies, nginx
	echo $(( $(cpu_usec agent) + $(cpu_usec haproxy) + $(cpu_usec prov) + $(cpu_usec client) + $(cpu_usec direct) ))
}

# CPU time of the whole machine (µs, idle and iowait excluded), to see what else ran meanwhile.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
host_busy_usec() {
	awk -v hz="$CLK_TCK" '$1 == "cpu" { printf "%.0f\n", ($2 + $3 + $4 + $7 + $8 + $9) * 1e6 / hz }' /proc/stat
}

# Wait until processes other than ours use less than OTHER_MAX CPU over 2 s: figures taken while
# something else computes are not worth much. All waits together take at most BENCH_QUIET_WAIT
# seconds (default 90), so the run stays within its time.
OTHER_MAX=0.20
QUIET_LEFT=${BENCH_QUIET_WAIT:-90}
wait_quiet() {
	local start=$SECONDS end=$((SECONDS + QUIET_LEFT)) h0 h1 o0 o1 other said=0 rc=0
	while :; do
		h0=$(host_busy_usec)
		o0=$(cpu_all)
		sleep 2
		h1=$(host_busy_usec)
		o1=$(cpu_all)
		other=$(awk -v h=$((h1 - h0)) -v o=$((o1 - o0)) 'BEGIN { v = (h - o) / 2e6; printf "%.2f", (v < 0 ? 0 : v) }')
		awk -v v="$other" -v m="$OTHER_MAX" 'BEGIN { exit !(v < m) }' && break
		if [ "$SECONDS" -ge "$end" ]; then
			info "warning: other processes still use $other CPUs; measuring anyway (such runs are flagged)"
			rc=1
			break
		fi
		[ "$said" = 1 ] || info "other processes use $other CPUs: waiting (at most ${QUIET_LEFT}s in all) for a quiet machine"
		said=1
	done
	QUIET_LEFT=$((QUIET_LEFT - (SECONDS - start)))
	[ "$QUIET_LEFT" -gt 0 ] || QUIET_LEFT=0
	return "$rc"
}

rss_kb() {	# <pid>
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# ---------------------------------------------------------------------------------------------
# Set-up.

setup_topology() {
	local cg2
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$cg2" ] || die "no cgroup2 mount"
	CG=$cg2/modelux-bench-$$
	CG_REL=${CG#"$cg2"}
	mkdir "$CG" "$CG/agent" "$CG/client" "$CG/direct" "$CG/haproxy" "$CG/prov" ||
		die "cannot create cgroups under $CG"

	ip netns add "$CLIENT_NS" || die "ip netns add"
	ip netns add "$PROV_NS" || die "ip netns add"
	ip -n "$CLIENT_NS" -b - <<-EOF || die "client netns"
		link set lo up
		link add ${ID}c type veth peer name ${ID}p netns $PROV_NS
		addr add $ADDR_CLIENT/24 dev ${ID}c
		link set ${ID}c up
	EOF
	ip -n "$PROV_NS" -b - <<-EOF || die "provider netns"
		link set lo up
		addr add $ADDR_PROV/24 dev ${ID}p
		addr add $ADDR_DNS/24 dev ${ID}p
		link set ${ID}p up
	EOF
	# Per-namespace TCP settings (these sysctls belong to the namespace, not the host): room for
	# ephemeral ports and backlogs under connection churn.
	for ns in "$CLIENT_NS" "$PROV_NS"; do
		ip netns exec "$ns" sh -c 'echo "1024 65000" >/proc/sys/net/ipv4/ip_local_port_range &&
			echo 1 >/proc/sys/net/ipv4/tcp_tw_reuse && echo 8192 >/proc/sys/net/core/somaxconn' ||
			die "namespace sysctls"
	done
	mkdir -p "/etc/netns/$CLIENT_NS" && echo "nameserver $ADDR_DNS" >"/etc/netns/$CLIENT_NS/resolv.conf" ||
		die "client resolv.conf"

	start_bg dnsmasq in_prov dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
		--no-hosts --bind-interfaces --listen-address="$ADDR_DNS" --port=53 --user=root \
		--group=root --pid-file="$RUN/dnsmasq.pidfile" --local-ttl=300 --address=/#/ \
		--host-record="$SNI,$ADDR_PROV"
}

make_certs() {
	mkdir -p "$RUN/provider" "$RUN/corp" "$RUN/haproxy"
	(
		set -e
		umask 077
		cd "$RUN"
		ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
		ca_ext=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
		# The provider's CA and server certificate (what "api.openai.com" presents).
		openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=modelux bench provider CA" "${ca_ext[@]}" \
			-keyout provider/ca.key -out provider/ca.crt
		openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=$SNI" -CA provider/ca.crt -CAkey provider/ca.key \
			-addext "subjectAltName=DNS:$SNI" -addext "basicConstraints=critical,CA:FALSE" \
			-addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" \
			-keyout provider/server.key -out provider/server.crt
		# The corporate CA both interceptors mint leaves from.
		openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=modelux bench corporate CA" "${ca_ext[@]}" \
			-keyout corp/ca.key -out corp/ca.crt
		# HAProxy: ca-sign-file is CA certificate + key; generated leaves use the key of the
		# default certificate (P-256 here, like modelux's shared leaf key).
		cat corp/ca.crt corp/ca.key >haproxy/ca-sign.pem
		openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=haproxy default (no SNI match)" \
			-CA corp/ca.crt -CAkey corp/ca.key -keyout haproxy/default.key -out haproxy/default.crt
		cat haproxy/default.crt haproxy/default.key >haproxy/default.pem
		# The leaf HAProxy's second frontend serves (same CA, same key as generated ones).
		openssl req -x509 -new -key haproxy/default.key -days 2 -subj "/CN=$SNI" \
			-CA corp/ca.crt -CAkey corp/ca.key -addext "subjectAltName=DNS:$SNI" \
			-addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
			-out haproxy/leaf.crt
		cat haproxy/leaf.crt haproxy/default.key >haproxy/leaf.pem
		chmod 644 provider/ca.crt provider/server.crt corp/ca.crt
	) >"$RUN/openssl.log" 2>&1 || { cat "$RUN/openssl.log" >&2; die "certificate generation"; }
}

render() {	# <template> <output> <key=value...>
	local in=$1 out=$2 kv s
	shift 2
	s=$(cat "$in") || return 1
	for kv in "$@"; do s=${s//"@${kv%%=*}@"/"${kv#*=}"}; done
	printf '%s\n' "$s" >"$out"
}

start_nginx() {
	local body nofile
	body=$(printf '{"object":"ping","pad":"%s"}' "$(head -c $((BODY_BYTES - 26)) /dev/zero | tr '\0' x)")
	[ ${#body} = "$BODY_BYTES" ] || die "body is ${#body} bytes"
	nofile=$(ulimit -Hn)
	[ "$nofile" = unlimited ] && nofile=1048576
	mkdir -p "$RUN/nginx-tmp"
	render "$REPO/bench/nginx.conf.in" "$RUN/nginx.conf" "RUN=$RUN" "ADDR=$ADDR_PROV" \
		"NOFILE=$nofile" "WORKER_CONNS=$((nofile - 200))" "BODY=$body" \
		"CHAT=$(cat "$REPO/bench/chat-response.json")"
	start_bg nginx in_prov nginx -e "$RUN/nginx-error.log" -p "$RUN" -c "$RUN/nginx.conf"
	poll 10 listens "$PROV_NS" "$ADDR_PROV:443" || { cat "$RUN/nginx.log" "$RUN/nginx-error.log" >&2; die "nginx did not start"; }
}

start_haproxy() {
	render "$REPO/bench/haproxy.cfg.in" "$RUN/haproxy.cfg" "RUN=$RUN" "PORT=$HAPROXY_PORT" \
		"PORT_STATIC=$HAPROXY_STATIC_PORT" "UPSTREAM=$ADDR_PROV" "MAXCONN=4096"
	haproxy -c -q -f "$RUN/haproxy.cfg" >"$RUN/haproxy-check.log" 2>&1 ||
		{ cat "$RUN/haproxy-check.log" >&2; die "haproxy configuration"; }
	start_bg haproxy in_client_cg haproxy haproxy -db -f "$RUN/haproxy.cfg"
	poll 10 listens "$CLIENT_NS" "127.0.0.1:$HAPROXY_PORT" || { cat "$RUN/haproxy.log" >&2; die "haproxy did not start"; }
	# Does the generate-certificates frontend negotiate h2? (HAProxy 2.6: no, haproxy#3492.)
	if ! in_client_cg direct h2load -t 1 -c 1 -n 1 --npn-list=h2 --connect-to="127.0.0.1:$HAPROXY_PORT" "$URI" 2>&1 |
		grep -q '^Application protocol: h2'; then
		HAPROXY_H2_PORT=$HAPROXY_STATIC_PORT
		HAPROXY_H2_NOTE="HAProxy's generated certificates get no ALPN (bind alpn not applied, haproxy/haproxy#3492): its h2 figure is measured on a second frontend serving a leaf minted beforehand from the same CA with the same key"
		info "note: $HAPROXY_H2_NOTE"
	fi
}

build_helper() {	# <output> <source>: gcc if missing or older than the source
	if [ ! -x "$1" ] || [ "$2" -nt "$1" ]; then
		info "building $1"
		gcc -O2 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE "$2" -lssl -lcrypto -o "$1" ||
			die "cannot build $1"
	fi
}

write_agent_conf() {	# [full|nopolicy|off]: governance as measured by modelux, nopolicy, bare
	local mode=${1:-full} pol="" gov=yes
	case $mode in
	full) pol="policy = $REPO/bench/policy.json
budgets = $REPO/bench/budgets.json" ;;
	nopolicy) ;;
	off) gov=no ;;
	esac
	mkdir -p "$RUN/state"
	cat >"$RUN/agent.conf" <<-EOF
		# modelux-agent for make bench: defaults except where the bench's topology needs otherwise
		listen_port = $AGENT_PORT
		metrics_addr = off
		control_path = $RUN/agent.sock
		state_dir = $RUN/state
		scope = $CG_REL/client
		pin_dir = $PIN_DIR
		resolver = $ADDR_DNS
		ca_cert = $RUN/corp/ca.crt
		ca_key = $RUN/corp/ca.key
		upstream_ca_file = $RUN/provider/ca.crt
		tag_map = $REPO/bench/tags.map
		tags = env=bench,site=lab
		tags_locked = team
		govern = $gov
	EOF
	[ -z "$pol" ] || printf '%s\n' "$pol" >>"$RUN/agent.conf"
}
# set_governance <full|nopolicy|off>: rewrite the agent's configuration and reload it in place
# (`nopolicy` and `bare` are the same agent as `modelux`, reloaded).
set_governance() {
	write_agent_conf "$1"
	"$BUILD/modeluxctl" -s "$RUN/agent.sock" reload >"$RUN/reload.log" 2>&1 ||
		{ cat "$RUN/reload.log" >&2; die "agent reload (governance $1) failed"; }
}

AGENT_PID=
AGENT_N=0
start_agent() {
	AGENT_N=$((AGENT_N + 1))
	local log=$RUN/agent$AGENT_N.log
	start_bg "agent$AGENT_N" in_agent_cg "$BUILD/modelux-agent" -c "$RUN/agent.conf"
	poll 10 grep -q "modelux-agent ready" "$log" || { tail -n 20 "$log" >&2; die "agent not ready"; }
	poll 10 grep -q "target learned provider=openai" "$log" || { tail -n 20 "$log" >&2; die "agent learned no target"; }
	AGENT_PID=$(sed -n 's/.*modelux-agent ready pid=\([0-9]*\).*/\1/p' "$log" | head -n 1)
	[ -n "$AGENT_PID" ] || die "agent pid not found in its log"
	AGENT_LOG=$log
}

# ---------------------------------------------------------------------------------------------
# Load runs.

# Parse an h2load output: sets P_PROTO, P_SECS, P_2XX, P_DONE, P_BAD (failed+errored+timeout+
# non-2xx), P_EXTRA.
parse_h2load() {	# <file>
	P_PROTO=$(sed -n 's/^Application protocol: //p' "$1" | head -n 1)
	P_SECS=$(awk '/^finished in / { d = $3; sub(/,$/, "", d);
		if (d ~ /ms$/) { sub(/ms$/, "", d); d /= 1000 } else if (d ~ /us$/) { sub(/us$/, "", d); d /= 1e6 }
		else if (d ~ /m$/) { sub(/m$/, "", d); d *= 60 } else sub(/s$/, "", d); print d + 0 }' "$1")
	P_2XX=$(awk '/^status codes:/ { print $3 + 0 }' "$1")
	P_DONE=$(awk '/^requests:/ { print $6 + 0 }' "$1")
	P_BAD=$(awk '/^requests:/ { b = $10 + $12 + $14 } /^status codes:/ { b += $5 + $7 + $9 } END { print b + 0 }' "$1")
	P_EXTRA=
	: "${P_SECS:=0}" "${P_2XX:=0}" "${P_DONE:=0}"
}

# Parse a churn.c output line, same variables.
parse_churn() {	# <file>
	local l
	l=$(grep '^churn:' "$1" | tail -n 1)
	P_PROTO=$(sed -n 's/.* alpn=\([^ ]*\).*/\1/p' <<<"$l")
	P_SECS=$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$l")
	P_2XX=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$l")
	P_BAD=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$l")
	: "${P_SECS:=0}" "${P_2XX:=0}" "${P_BAD:=0}"
	P_DONE=$((P_2XX + P_BAD))
	P_EXTRA="$(sed -n 's/.* resumed=\([0-9]*\).*/\1/p' <<<"$l")% resumed"
	[ "$P_BAD" -gt 0 ] && P_EXTRA+=", first error $(sed -n 's/.* first_error=\([^ ]*\).*/\1/p' <<<"$l")"
}

# Did the agent intercept every connection of the run? It splices, untouched, the connections of
# an executable it has seen break off a handshake (taken for a client refusing its certificate):
# a run with spliced connections measures splice(2), not interception, and does not count; the
# agent is restarted (its memory of refusals is in memory only) so the next runs are intercepted.
INTERCEPT_WHY=
check_intercepted() {	# <log offset before the run>
	local since=$1 n_int n_spl n_ref
	sleep 0.3 # flow lines are written when the flows end
	n_int=$(tail -c +$((since + 1)) "$AGENT_LOG" | grep -c 'tls=intercepted')
	n_spl=$(tail -c +$((since + 1)) "$AGENT_LOG" | grep -cE 'tls=(pinned_splice|splice) ')
	n_ref=$(tail -c +$((since + 1)) "$AGENT_LOG" | grep -c 'client refused our certificate')
	[ "$n_spl" = 0 ] && [ "$n_ref" = 0 ] && return 0
	INTERCEPT_WHY="the agent intercepted $n_int connections but spliced $n_spl untouched and pinned the client $n_ref time(s) as refusing its certificate: not an interception figure"
	info "restarting the agent to forget the pinned client"
	stop_bg "agent$AGENT_N"
	start_agent
	return 1
}

declare -A RPS_R CLEAN_R CPUREQ_R PCPU_R RPS_RUNS RPS_CLEAN RPS_SHOWN CPU_PROXY CPU_ALL NA_REASON NOTE
BUSY_RUNS=()
run_load() {	# <scenario> <target> <round>
	local sc=$1 tg=$2 round=$3 out cg args=() pid c0 c1 p0 p1 h0 h1 t0 t1 perf_pid="" tool=h2load
	out=$RUN/load-$sc-$tg-$round.txt
	case $sc in
	h1 | h2)
		args=(h2load -t 1 -c "$CLIENTS" -D "$DUR" --warm-up-time="$WARM")
		[ "$sc" = h1 ] && args+=(--h1) || args+=(--npn-list=h2 -m "$STREAMS")
		case $tg in
		haproxy) [ "$sc" = h2 ] && args+=(--connect-to="127.0.0.1:$HAPROXY_H2_PORT") ||
			args+=(--connect-to="127.0.0.1:$HAPROXY_PORT") ;;
		esac
		args+=("$URI")
		;;
	llm)
		# A governed LLM call: POST of a 1.2 KB chat completion request with an API key;
		# the answer carries usage, so the agent parses, prices, settles and records it.
		args=(h2load -t 1 -c "$CLIENTS" -D "$DUR" --warm-up-time="$WARM" --h1 -d "$REPO/bench/chat-request.json"
			-H "content-type: application/json" -H "authorization: Bearer $BENCH_KEY")
		[ "$tg" = haproxy ] && args+=(--connect-to="127.0.0.1:$HAPROXY_PORT")
		args+=("https://$SNI/v1/chat/completions")
		;;
	churn | churn-resume)
		tool=churn
		args=("$BUILD/bench_churn" -c "$CLIENTS" -d "$DUR" -w "$WARM" -s "$SNI" -u /v1/ping)
		[ "$sc" = churn-resume ] && args+=(-R)
		# by address: through modelux the provider's address (the redirect takes it from there)
		[ "$tg" = haproxy ] && args+=(-a 127.0.0.1 -p "$HAPROXY_PORT") || args+=(-a "$ADDR_PROV" -p 443)
		;;
	esac
	case $tg in
	modelux | bare | nopolicy) cg=client ;; # through the agent (its scope)
	*) cg=direct ;;
	esac
	local pcg=agent
	[ "$tg" = haproxy ] && pcg=haproxy
	local mark=0
	[ "$cg" = client ] && mark=$(stat -c %s "$AGENT_LOG")
	# The load in the background; the CPU of each cgroup is read over the measured part.
	timeout -k 5 $((DUR + WARM + 60)) sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec ip netns exec "$ns" "$@"' \
		sh "$CG/$cg" "$CLIENT_NS" "${args[@]}" >"$out" 2>&1 &
	pid=$!
	t0=${EPOCHREALTIME/./}
	while kill -0 "$pid" 2>/dev/null && [ $(( ${EPOCHREALTIME/./} - t0 )) -lt $((WARM * 1000000 + 200000)) ]; do
		sleep 0.05
	done
	t0=${EPOCHREALTIME/./}
	p0=$(cpu_usec "$pcg")
	c0=$(cpu_all)
	h0=$(host_busy_usec)
	if [ "${BENCH_PERF:-0}" = 1 ] && [ "$tg" = modelux ] && [ "$sc" = h1 ] && [ "$round" = 1 ] && command -v perf >/dev/null; then
		perf record -q -g -p "$AGENT_PID" -o "$RUN/perf.data" -- sleep $((DUR > 6 ? DUR - 2 : DUR)) >"$RUN/perf.log" 2>&1 &
		perf_pid=$!
	fi
	while kill -0 "$pid" 2>/dev/null && [ $(( ${EPOCHREALTIME/./} - t0 )) -lt $((DUR * 1000000 - 300000)) ]; do
		sleep 0.1
	done
	t1=${EPOCHREALTIME/./}
	p1=$(cpu_usec "$pcg")
	c1=$(cpu_all)
	h1=$(host_busy_usec)
	wait "$pid"
	[ -z "$perf_pid" ] || wait "$perf_pid"
	"parse_$tool" "$out"

	local key=$sc/$tg ok=1 why="" expect=http/1.1
	[ "$sc" = h2 ] && expect=h2
	# Without ALPN the client speaks http/1.1 anyway (HAProxy's generated certificates: none).
	if [ "$P_PROTO" != "$expect" ] && ! { [ "$expect" = http/1.1 ] && [ "$P_PROTO" = none ]; }; then
		ok=0
		why="ALPN selected '${P_PROTO:-nothing}', not $expect"
	elif [ "$P_2XX" -le 0 ] || awk -v b="$P_BAD" -v d="$P_DONE" 'BEGIN { exit !(b > 0.01 * d) }'; then
		ok=0
		why="$P_2XX 2xx of $P_DONE requests, $P_BAD failed/errored/non-2xx"
	elif [ "$cg" = client ] && ! check_intercepted "$mark"; then
		ok=0
		why=$INTERCEPT_WHY
	fi
	if [ "$ok" = 0 ]; then
		if [ "$key" = h2/modelux ]; then
			NA_REASON[$key]="n/a (h2 not implemented: $why)"
			say "$(printf '%-12s %-8s round %d: %s' "$sc" "$tg" "$round" "${NA_REASON[$key]}")"
		else
			FAILED=1
			NA_REASON[$key]="error ($why)"
			say "$(printf '%-12s %-8s round %d: ERROR: %s' "$sc" "$tg" "$round" "$why")"
			grep -v -e '^progress' -e 'No protocol negotiated' -e 'Falling back' "$out" | tail -n 12 | sed 's/^/    /'
		fi
		return
	fi
	local rps win=$((t1 - t0)) pus busy other extra=
	rps=$(awk -v n="$P_2XX" -v s="$P_SECS" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
	pus=$(awk -v c=$((p1 - p0)) -v r="$rps" -v w="$win" 'BEGIN { printf "%.1f", c / (r * w / 1e6) }')
	busy=$(awk -v c=$((c1 - c0)) -v w="$win" 'BEGIN { printf "%.2f", c / w }')
	other=$(awk -v h=$((h1 - h0)) -v c=$((c1 - c0)) -v w="$win" 'BEGIN { v = (h - c) / w; printf "%.2f", (v < 0 ? 0 : v) }')
	if awk -v v="$other" -v m="$OTHER_MAX" 'BEGIN { exit !(v >= m) }'; then
		BUSY_RUNS+=("$sc/$tg round $round: $other CPUs")
		extra+=", OTHER PROCESSES used $other CPUs meanwhile"
		RPS_SHOWN[$key]+="${rps}* "
		RPS_R[$key/$round]=$rps
		CLEAN_R[$key/$round]=0
	else
		RPS_R[$key/$round]=$rps
		CLEAN_R[$key/$round]=1
		CPUREQ_R[$key/$round]=$(awk -v b="$busy" -v r="$rps" 'BEGIN { printf "%.9f", b / r }')
		PCPU_R[$key/$round]=$pus
		extra+=", other $other"
		RPS_CLEAN[$key]+="$rps "
		RPS_SHOWN[$key]+="$rps "
	fi
	RPS_RUNS[$key]+="$rps "
	CPU_PROXY[$key]+="$pus "
	CPU_ALL[$key]+="$busy "
	[ -n "$P_EXTRA" ] && NOTE[$key]=$P_EXTRA
	[ "$tg" != direct ] && extra=", proxy CPU $pus us/req$extra"
	[ -n "$P_EXTRA" ] && extra+=", $P_EXTRA"
	local rr=""
	[ "$tg" != direct ] && [ -n "${RPS_R[$sc/direct/$round]:-}" ] &&
		rr=" = $(ratio "$rps" "${RPS_R[$sc/direct/$round]}") x direct"
	say "$(printf '%-12s %-8s round %d: %9.1f req/s%s (%s; CPUs busy %s of %d%s)' \
		"$sc" "$tg" "$round" "$rps" "$rr" "${P_PROTO/none/no ALPN}" "$busy" "$(nproc)" "$extra")"
}

# modelux and a client's "Connection: close" (h2load's way of reconnecting per request): how
# many requests get their response? Printed as a note, it is not a scenario.
CC_NOTE=
probe_connection_close() {
	local out=$RUN/connection-close.txt
	in_client_cg client timeout 30 h2load -t 1 -c 32 -n 2000 --h1 -H 'Connection: close' "$URI" >"$out" 2>&1
	parse_h2load "$out"
	CC_NOTE="requests sent with 'Connection: close' through modelux (h2load -c 32 -n 2000 --h1 -H 'Connection: close'): $P_2XX of 2000 answered"
	if [ "$P_2XX" -lt 2000 ]; then
		CC_NOTE+=" - the agent closes the client connection before the response arrives when the request says Connection: close"
	fi
	say "note: $CC_NOTE"
}

median() {	# <numbers...>
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.10g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

spread() {	# <numbers...>: (max - min) / median, in percent
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR < 2) { print 0; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.0f\n", (m > 0 ? 100 * (a[NR] - a[1]) / m : 0) }'
}

ratio() {	# <a> <b>: a / b with two decimals, or n/a
	if [[ $1 =~ ^[0-9.]+$ ]] && [[ $2 =~ ^[0-9.]+$ ]] && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
	else
		echo n/a
	fi
}

# ---------------------------------------------------------------------------------------------
# Mint time and idle-connection memory.

MINT_LINE=
run_mint() {
	local bin=$BUILD/mint_bench src
	src=("$REPO/bench/mint_bench.c" "$REPO/userspace/certmint.c" "$REPO/userspace/casign.c" "$REPO/userspace/casign_signer.c"
		"$REPO/userspace/certmint.h" "$REPO/userspace/casign.h")
	local stale=0 f
	[ -x "$bin" ] || stale=1
	for f in "${src[@]}"; do [ "$f" -nt "$bin" ] && stale=1; done
	if [ "$stale" = 1 ]; then
		info "building $bin"
		(cd "$REPO" && gcc -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Iuserspace \
			bench/mint_bench.c userspace/certmint.c userspace/casign.c userspace/casign_signer.c -lssl -lcrypto -lpthread \
			-o "$bin") || die "mint_bench build failed"
	fi
	"$bin" >"$RUN/mint.txt" 2>&1 || { cat "$RUN/mint.txt" >&2; die "mint_bench failed"; }
	MINT_LINE=$(head -n 1 "$RUN/mint.txt")
	say "mint: $MINT_LINE"
	sed -n '2,$p' "$RUN/mint.txt" | sed 's/^/mint: /'
}

# Governance micro-benchmarks (issues 4 and 5): the intercept log's sustained records/s, one
# policy evaluation (13-rule example policy), a budget reserve + settle with 2 threads contending.
MICRO_LINES=()
run_micro() {
	local name bin libs="-lbpf -lelf -lz -lnetfilter_queue -lmnl -ljansson -lnghttp2 -lsqlite3 -lhs -lssl -lcrypto -lpthread -lm"
	for name in ilog_bench policy_bench budget_bench; do
		bin=$BUILD/$name
		# shellcheck disable=SC2086
		(cd "$REPO" && gcc -O2 -g -std=gnu11 -D_GNU_SOURCE -Iuserspace "bench/$name.c" \
			"$BUILD/libmodelux.a" $libs -o "$bin") || die "$name build failed"
		(cd "$REPO" && "$bin") >"$RUN/$name.txt" 2>&1 || { cat "$RUN/$name.txt" >&2; die "$name failed"; }
		MICRO_LINES+=("$(head -n 1 "$RUN/$name.txt")")
		say "micro: ${MICRO_LINES[-1]}"
	done
}

sockstat_tcp() {	# <ns> <field: inuse|mem|tw|alloc>
	ip netns exec "$1" awk -v f="$2" '$1 == "TCP:" { for (i = 2; i < NF; i += 2) if ($i == f) print $(i + 1) }' /proc/net/sockstat
}
meminfo_kb() {	# <field>
	awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo
}
up_established() {	# number of the agent's established connections to the provider
	ip netns exec "$CLIENT_NS" ss -Htn state established "dst $ADDR_PROV" 2>/dev/null | wc -l
}

MEM_N=0 MEM_RSS_PER=n/a MEM_SLAB_PER=n/a MEM_NOTE='' MEM_RSS0=0 MEM_RSS1=0
run_idle_mem() {
	local lim fds n rss0 rss1 slab0 slab1 line ok
	# A fresh agent, so the figure is not blurred by what the load runs left in its heap.
	stop_bg "agent$AGENT_N"
	start_agent
	# Warm it: the leaf for api.openai.com is minted, the first flows allocate what they keep.
	in_client_cg client h2load -t 1 -c 8 -n 64 --h1 "$URI" >"$RUN/mem-warm.txt" 2>&1
	sleep 1
	lim=$(awk '/^Max open files/ { print $4 }' "/proc/$AGENT_PID/limits")
	fds=$(ls "/proc/$AGENT_PID/fd" | wc -l)
	# One descriptor per intercepted connection: provider connections are pooled and shared.
	n=$IDLE_WANT
	if [ "$lim" != unlimited ] && [ $((lim - fds - 64)) -lt "$n" ]; then
		n=$(((lim - fds - 64) / 100 * 100))
		MEM_NOTE="$n of the $IDLE_WANT asked for: the agent needs 1 descriptor per intercepted connection and RLIMIT_NOFILE here is $lim (hard limit; raising it needs CAP_SYS_RESOURCE)"
		info "idle connections: $MEM_NOTE"
	fi
	rss0=$(rss_kb "$AGENT_PID")
	slab0=$(meminfo_kb Slab)
	info "opening $n idle TLS connections through the agent (RSS before: $rss0 KiB)"
	start_bg idle in_client_cg client "$PY" "$REPO/bench/idle_conns.py" "$SNI" 443 "$n" --hold 600
	poll 300 grep -q '^ready' "$RUN/idle.log" || { tail -n 20 "$RUN/idle.log" >&2; die "idle connections not opened in 300 s"; }
	line=$(grep '^ready' "$RUN/idle.log")
	ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
	info "idle holder: $line"
	# Provider connections are pooled: idle client connections hold none of their own.
	sleep 2
	info "provider connections open meanwhile: $(up_established) (pooled, shared by every client connection)"
	rss1=$(rss_kb "$AGENT_PID")
	slab1=$(meminfo_kb Slab)
	info "agent RSS after: $rss1 KiB, $(ls "/proc/$AGENT_PID/fd" | wc -l) descriptors; client netns TCP sockets in use: $(sockstat_tcp "$CLIENT_NS" inuse)"
	stop_bg idle
	[ "$ok" -gt 0 ] || die "no idle connection held"
	MEM_N=$ok
	MEM_RSS0=$rss0
	MEM_RSS1=$rss1
	MEM_RSS_PER=$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN { printf "%.1f", (b - a) / n }')
	MEM_SLAB_PER=$(awk -v a="$slab0" -v b="$slab1" -v n="$ok" 'BEGIN { printf "%.1f", (b - a) / n }')
	say "memory: $ok idle intercepted TLS connections: agent RSS $rss0 -> $rss1 KiB = $MEM_RSS_PER KiB per connection"
	say "memory: kernel slab +$MEM_SLAB_PER KiB per connection (its 2 sockets: the client's and the agent's; machine-wide Slab in /proc/meminfo)"
}

# ---------------------------------------------------------------------------------------------
# Results.

med_of() {	# <scenario/target>: the median req/s of the rounds (of the clean ones if any), or n/a
	if [ -n "${RPS_CLEAN[$1]:-}" ]; then
		# shellcheck disable=SC2086
		median ${RPS_CLEAN[$1]}
	elif [ -n "${RPS_RUNS[$1]:-}" ]; then
		# shellcheck disable=SC2086
		median ${RPS_RUNS[$1]}
	else
		echo n/a
	fi
}
# Per-round ratios target / direct (rounds where both ran on a quiet machine, if there are any).
paired_ratios() {	# <scenario> <target>
	local r clean=() all=() v
	for r in $(seq 1 "$ROUNDS"); do
		[ -n "${RPS_R[$1/$2/$r]:-}" ] && [ -n "${RPS_R[$1/direct/$r]:-}" ] || continue
		v=$(ratio "${RPS_R[$1/$2/$r]}" "${RPS_R[$1/direct/$r]}")
		[ "$v" = n/a ] && continue
		all+=("$v")
		[ "${CLEAN_R[$1/$2/$r]}${CLEAN_R[$1/direct/$r]}" = 11 ] && clean+=("$v")
	done
	if [ ${#clean[@]} -gt 0 ]; then echo "${clean[*]}"; else echo "${all[*]:-}"; fi
}
best_of() {	# <scenario/target>: the best req/s of the rounds (of the clean ones if any), or n/a
	local v=${RPS_CLEAN[$1]:-${RPS_RUNS[$1]:-}}
	if [ -z "$v" ]; then
		echo n/a
	else
		printf '%s\n' $v | sort -g | tail -n 1
	fi
}
ratio_of() {	# <scenario> <target>: median of the per-round target / direct ratios, or n/a
	local v
	v=$(paired_ratios "$1" "$2")
	if [ -z "$v" ]; then
		echo n/a
	else
		# shellcheck disable=SC2086
		median $v | awk '{ printf "%.2f", $1 }'
	fi
}
best_ratio_of() {	# <scenario> <target>: best target / best direct
	ratio "$(best_of "$1/$2")" "$(best_of "$1/direct")"
}
# The best ratio a proxy costing its measured CPU per request could reach here if CPU were the
# only limit: the load generator and nginx need d CPU-seconds per request (direct run: CPUs busy
# / req/s), the proxy p more, and the machine has nproc CPUs: nproc / ((d + p) * direct req/s).
ceiling_of() {	# <scenario> <target>: median over the rounds (clean ones, both runs) of the ceiling
	local r v=()
	for r in $(seq 1 "$ROUNDS"); do
		[ -n "${CPUREQ_R[$1/direct/$r]:-}" ] && [ -n "${PCPU_R[$1/$2/$r]:-}" ] || continue
		v+=("$(awk -v r="${RPS_R[$1/direct/$r]}" -v d="${CPUREQ_R[$1/direct/$r]}" -v p="${PCPU_R[$1/$2/$r]}" \
			-v n="$(nproc)" 'BEGIN { c = n / ((d + p / 1e6) * r); printf "%.3f", (c > 1 ? 1 : c) }')")
	done
	if [ ${#v[@]} = 0 ]; then echo n/a; else median "${v[@]}" | awk '{ printf "%.2f", $1 }'; fi
}
# <a> / <b> (default modelux / bare): median of the per-round ratios (their runs of a round are
# back to back).
gov_ratio_of() {	# <scenario> [a b]
	local r v=() a=${2:-modelux} b=${3:-bare}
	for r in $(seq 1 "$ROUNDS"); do
		[ -n "${RPS_R[$1/$a/$r]:-}" ] && [ -n "${RPS_R[$1/$b/$r]:-}" ] || continue
		v+=("$(ratio "${RPS_R[$1/$a/$r]}" "${RPS_R[$1/$b/$r]}")")
	done
	if [ ${#v[@]} = 0 ]; then echo n/a; else median "${v[@]}" | awk '{ printf "%.2f", $1 }'; fi
}
median_or_na() {	# <numbers...>
	if [ $# = 0 ]; then echo n/a; else median "$@"; fi
}
cell() {	# <scenario/target>: median (best), or why there is none
	if [ -n "${RPS_RUNS[$1]:-}" ]; then
		echo "$(med_of "$1") ($(best_of "$1"))"
	else
		echo "${NA_REASON[$1]:-n/a}"
	fi
}

write_md() {
	local md=$REPO/BENCHMARKS.md hist=() sc tg k tgt
	if [ -f "$md" ]; then
		mapfile -t hist < <(sed -n '/^<!-- history:begin -->$/,/^<!-- history:end -->$/p' "$md" | grep '^| 20')
	fi
	hist+=("| $DATE | $H1_RATIO | $H2_RATIO | $CHURN_RATIO | $(ratio_of churn-resume modelux) | $(ratio_of h1 haproxy) | $(ratio_of h2 haproxy) | $(ratio_of churn haproxy) | $MINT_MEAN | $MEM_RSS_PER | $GIT_REV |")
	{
		cat <<-EOF
			# modelux benchmarks

			Generated by \`make bench\` (\`bench/run.sh\`): each run rewrites this page and adds a row to
			the history at the end. A benchmark, not a test: nothing here fails a build.

			## Latest run: $DATE

			- Machine: $(nproc) CPUs ($CPU_MODEL), kernel $(uname -r), $OPENSSL_VER; h2load $H2LOAD_VER,
			  nginx $NGINX_VER, HAProxy $HAPROXY_VER; modelux \`$GIT_REV\`.
			- Command: \`make bench\` (defaults: BENCH_DURATION=$DUR BENCH_WARMUP=$WARM BENCH_ROUNDS=$ROUNDS
			  BENCH_CLIENTS=$CLIENTS BENCH_IDLE_CONNS=$IDLE_WANT).

			req/s: median of the rounds (best round in parentheses). Ratios: median of the per-round
			ratios (best / best in parentheses).

			| scenario | direct req/s | modelux req/s | HAProxy req/s | modelux / direct | HAProxy / direct | target (modelux) | CPU ceiling modelux / HAProxy |
			|---|---:|---:|---:|---:|---:|---:|---:|
		EOF
		for sc in "${SCENARIOS[@]}"; do
			case $sc in h1 | churn) tgt="≥ 0.80" ;; h2) tgt="≥ 0.60" ;; *) tgt="-" ;; esac
			printf '| %s | %s | %s | %s | **%s** (%s) | %s (%s) | %s | %s / %s |\n' "$sc" "$(cell "$sc/direct")" \
				"$(cell "$sc/modelux")" "$(cell "$sc/haproxy")" "$(ratio_of "$sc" modelux)" \
				"$(best_ratio_of "$sc" modelux)" "$(ratio_of "$sc" haproxy)" "$(best_ratio_of "$sc" haproxy)" \
				"$tgt" "$(ceiling_of "$sc" modelux)" "$(ceiling_of "$sc" haproxy)"
		done
		cat <<-EOF

			*CPU ceiling*: the ratio a proxy with the CPU cost per request it showed here could reach
			if CPU were the only limit. The load generator, the proxy and nginx share the same
			$(nproc) CPUs, so every microsecond the proxy spends is taken from the load generator and
			nginx: with d the CPU time per request of a round's direct run (CPUs busy / req/s) and p
			the proxy's, the ceiling is $(nproc) / ((d + p) x direct req/s); the median over the
			rounds is shown. A ratio well under its ceiling means time lost waiting, not computing.
		EOF
		cat <<-EOF

			Why per-round ratios: on this kind of VM the speed drifts by tens of percent over minutes
			and a direct run (two busy processes on two CPUs) may land in a ~25% slower mode for its
			whole length, while runs through a proxy are steadier; a proxy's run is compared with
			the direct run just before it, and the median of the $ROUNDS ratios taken. Rounds run
			while other processes used CPU (marked *) are left out when there are others. Per round, with the proxy's CPU per request (the agent's cgroup,
			its workers and signer included, or HAProxy's, over the measured seconds) and how many of
			the $(nproc) CPUs the whole benchmark kept busy (load generator + proxy + nginx):

			| scenario | target | req/s per round | spread | ratio to direct per round | proxy CPU µs/req | CPUs busy | |
			|---|---|---|---:|---|---:|---:|---|
		EOF
		for sc in "${SCENARIOS[@]}"; do
			for tg in "${TARGETS[@]}"; do
				k=$sc/$tg
				{ [ "$tg" = bare ] || [ "$tg" = nopolicy ]; } && [[ $BARE_SCENARIOS != *" $sc "* ]] && continue
				if [ -n "${RPS_RUNS[$k]:-}" ]; then
					# shellcheck disable=SC2086
					printf '| %s | %s | %s | %s%% | %s | %s | %s | %s |\n' "$sc" "$tg" "${RPS_SHOWN[$k]% }" \
						"$(spread ${RPS_RUNS[$k]})" "$([ "$tg" = direct ] && echo - || paired_ratios "$sc" "$tg")" \
						"$([ "$tg" = direct ] && echo - || median ${CPU_PROXY[$k]})" \
						"$(median ${CPU_ALL[$k]})" "${NOTE[$k]:-}"
				else
					printf '| %s | %s | %s | | | | | |\n' "$sc" "$tg" "${NA_REASON[$k]:-not run}"
				fi
			done
		done
		if [ ${#BUSY_RUNS[@]} -gt 0 ]; then
			printf '\n**Warning**: other processes on the machine used CPU during %d run(s) (%s): those figures are low.\n' \
				"${#BUSY_RUNS[@]}" "$(printf '%s; ' "${BUSY_RUNS[@]}" | sed 's/; $//')"
		fi
		cat <<-EOF

			### How it is measured

			- **Upstream**: nginx $NGINX_VER (\`worker_processes 1\`) in its own network namespace
			  behind a veth, TLS 1.3 with a P-256 certificate for \`$SNI\` from a throwaway provider CA,
			  a fixed $BODY_BYTES-byte body at \`/v1/ping\`, h1 and h2 (\`bench/nginx.conf.in\`).
			- **direct**: the load generator connects to \`$SNI:443\` (10.203.0.2) from a cgroup outside
			  modelux's scope.
			- **modelux**: the same command from the cgroup modelux steers: the real BPF redirect
			  (cgroup connect4) hands the connection to \`modelux-agent\` listening on 127.0.0.1 in the
			  client's netns, with default settings ($AGENT_WORKERS workers, \`log_level = info\`: one
			  \`flow\` log line per connection, written to a file) and
			  governance on (policy, budgets, tag map, intercept log: see below). It terminates TLS
			  with a leaf minted from the corporate CA and proxies to nginx over TLS verified against
			  the provider CA, on a per-worker pool of provider connections (h2 multiplexed when
			  nginx offers it).
			- **haproxy**: HAProxy $HAPROXY_VER from Debian on 127.0.0.1 in the same netns (where the
			  agent listens), reached with \`--connect-to\` (h2load) or by address (churn) with the same
			  SNI; \`generate-certificates\` from the same corporate CA (the leaf key is the default
			  certificate's P-256 key), upstream \`ssl verify required ca-file … sni str($SNI)\`,
			  HTTP/1.1 to nginx; its defaults keep and reuse idle server connections across clients and
			  resume upstream TLS sessions; no logging configured (\`bench/haproxy.cfg.in\`).${HAPROXY_H2_NOTE:+
			  $HAPROXY_H2_NOTE.}
			- **Load**: one client thread, $CLIENTS concurrent connections, $WARM s warm-up then $DUR s
			  measured; the $ROUNDS rounds interleave the targets (direct, modelux, haproxy for each
			  scenario in turn). Nothing is pinned: the load generator, the proxy and nginx share the
			  $(nproc) CPUs, so a proxy's own CPU comes out of the same budget.
			  - **h1**: \`h2load -t 1 -c $CLIENTS --h1 -D $DUR --warm-up-time=$WARM\`: keep-alive, one
			    request in flight per connection.
			  - **h2**: \`h2load -t 1 -c $CLIENTS --npn-list=h2 -m $STREAMS …\`: h2 only (no fallback to
			    http/1.1), $STREAMS streams per connection. A target that does not negotiate h2 is
			    reported \`n/a\`, not measured over http/1.1.
			  - **churn**: \`bench/churn.c\` (\`build/bench_churn -c $CLIENTS\`): each client connects,
			    does a full TLS handshake (no session offered), sends one ordinary keep-alive GET, reads
			    the whole response, closes (close_notify) and starts over: one new TCP connection and
			    full handshake per request, on every hop.
			  - **churn-resume**: the same with \`-R\`: each connection offers the session (TLS 1.3
			    ticket) of the previous one, as h2load and Node's https agent do on a reconnect; the
			    column on the right shows how many handshakes were in fact resumed.
			  - Why not h2load for churn: \`h2load --h1 -H 'Connection: close'\` (the server closes,
			    h2load reconnects) stalls in timing mode (nghttp2 1.52), silently resumes every session,
			    and depends on the proxy honouring a client's \`Connection: close\`.
			- req/s counts 2xx responses only; a run whose ALPN is not the scenario's, or with more than
			  1% failed or non-2xx requests, does not count. Each round starts when processes outside
			  the benchmark use less than $OTHER_MAX CPU (waiting at most ${BENCH_QUIET_WAIT:-90} s in
			  all), and a run during which they used more is flagged and left out of the medians when
			  a clean round exists.
			${CC_NOTE:+- Note: $CC_NOTE.}

			### Minting a leaf for a new SNI

			\`bench/mint_bench.c\` through the real forked signer (\`$MINT_LINE\`):

			| new SNI, mean | new SNI, p50 | new SNI, p99 | cached lookup, mean |
			|---:|---:|---:|---:|
			| $MINT_MEAN µs | $MINT_P50 µs | $MINT_P99 µs | $MINT_CACHED ns |

			A new SNI: the agent builds the certificate it expects (everything but serial,
			validity and signature), pins the signer to its own CPU and yields that CPU to it;
			the signer builds and signs the leaf; the agent puts the signer's serial, validity
			and signature into its copy and checks that it encodes to exactly the signer's DER
			(parsing that DER instead costs \`d2i_x509_us_mean\` on OpenSSL 3.0). \`mints_parsed\`
			counts answers that had to be parsed (the first one after start is).
			\`ssl_cached_us_mean\` is what each intercepted connection pays for its SSL with a
			cached leaf (\`certmint_ssl\`: \`SSL_new\` on the shared context, then
			\`SSL_use_cert_and_key\`). Breakdown and throughput (same run):

			\`\`\`
			$(sed -n '2,$p' "$RUN/mint.txt")
			\`\`\`

			### Governance: intercept log, policy, budgets

			What governance costs under load, same run: **modelux** is the agent as configured above
			plus \`bench/policy.json\` (13 rules, 9 groups: every condition is evaluated for each
			request), \`bench/budgets.json\` (5 budgets, team/project/user/key/host, all applying:
			each request reserves and settles on 5 counters), \`bench/tags.map\`, content detectors on;
			**nopolicy** is the same agent reloaded without its policy and budgets (parsing, keys,
			tags, detectors and the log still on: modelux / nopolicy is what the policy and budgets
			cost); **bare** is the same agent reloaded with \`govern = no\` (interception and
			proxying only: no parsing, keys, policy, budgets or records). The **llm** scenario POSTs a 1.2 KB
			chat-completion request (\`bench/chat-request.json\`, with an API key) and gets a
			chat completion with its usage (\`bench/chat-response.json\`): parsed, priced, settled
			and recorded (one intercept-log record per request).

			| scenario | direct req/s | modelux req/s | nopolicy req/s | bare req/s | modelux / direct | nopolicy / direct | bare / direct | modelux / nopolicy | modelux / bare | proxy CPU µs/req modelux / nopolicy / bare |
			|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
			$(for sc in ${BARE_SCENARIOS}; do
				printf '| %s | %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s / %s / %s |\n' "$sc" "$(cell "$sc/direct")" \
					"$(cell "$sc/modelux")" "$(cell "$sc/nopolicy")" "$(cell "$sc/bare")" "$(ratio_of "$sc" modelux)" \
					"$(ratio_of "$sc" nopolicy)" "$(ratio_of "$sc" bare)" "$(gov_ratio_of "$sc" modelux nopolicy)" \
					"$(gov_ratio_of "$sc")" "$(median_or_na ${CPU_PROXY[$sc/modelux]:-})" \
					"$(median_or_na ${CPU_PROXY[$sc/nopolicy]:-})" "$(median_or_na ${CPU_PROXY[$sc/bare]:-})"
			done)

			Intercept log under this load: $GOV_LOG_LINE.

			Micro-benchmarks on the same machine (\`bench/ilog_bench.c\`: records/s the SQLite log
			sustains with its writer thread; \`bench/policy_bench.c\`: one evaluation of the 13-rule
			\`policy/examples/company.json\`; \`bench/budget_bench.c\`: reserve + settle with 2
			threads contending; targets: well under 1 µs, and < 5 µs p99):

			\`\`\`
			$(printf '%s\n' "${MICRO_LINES[@]}")
			\`\`\`

			The load scenarios above run with the governance hook on: every request is parsed
			by the provider adapter, its key looked up, and one record written to the log.

			### Memory per idle intercepted connection

			$MEM_N TLS connections through the agent (BPF redirect, handshake with the client
			completed; provider connections are pooled and shared, so an idle client connection
			holds none of its own), idle, held by
			\`bench/idle_conns.py\`; a freshly started agent warmed by 64 requests.${MEM_NOTE:+
			Held $MEM_NOTE.}

			| agent RSS before | after | agent per connection | kernel slab per connection |
			|---:|---:|---:|---:|
			| $MEM_RSS0 KiB | $MEM_RSS1 KiB | $MEM_RSS_PER KiB | $MEM_SLAB_PER KiB |

			Agent: VmRSS of the agent process (/proc/PID/status). Kernel: the change of \`Slab\` in
			/proc/meminfo (machine-wide) per connection, which covers its two sockets (the client's
			and the agent's) with their files and epoll entries; socket buffers of idle connections
			are empty.

			## History

			| date | h1 | h2 | churn | churn-resume | HAProxy h1 | HAProxy h2 | HAProxy churn | mint µs | KiB/idle conn | modelux |
			|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
			<!-- history:begin -->
		EOF
		printf '%s\n' "${hist[@]}"
		echo '<!-- history:end -->'
	} >"$md.tmp" && mv "$md.tmp" "$md"
}

# ---------------------------------------------------------------------------------------------
# Main.

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, cgroups, BPF)"
[ -x "$BUILD/modelux-agent" ] || die "$BUILD/modelux-agent missing: run make all"
RUN=$(mktemp -d /tmp/modelux-bench.XXXX) || die mktemp
need_tools
awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { f = 1 } END { exit !f }' /proc/mounts ||
	mount -t bpf bpf /sys/fs/bpf || die "no bpffs"
build_helper "$BUILD/bench_churn" "$REPO/bench/churn.c"
# Descriptors: as many as we may have (the idle-connection figure needs > 20,000 in the agent).
ulimit -Hn 1048576 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
OPENSSL_VER=$(openssl version | awk '{ print $1, $2 }')
H2LOAD_VER=$(h2load --version 2>/dev/null | awk '{ print $NF; exit }')
NGINX_VER=$(nginx -v 2>&1 | sed 's|.*nginx/||')
HAPROXY_VER=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')
GIT_REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(cd "$REPO" && git status --porcelain -- userspace bpf 2>/dev/null)" ] && GIT_REV+=" + local changes"
say "bench: $(nproc) CPUs ($CPU_MODEL), kernel $(uname -r), $OPENSSL_VER, h2load $H2LOAD_VER, nginx $NGINX_VER, HAProxy $HAPROXY_VER, modelux $GIT_REV"
say "bench: $CLIENTS clients, 1 load thread, ${WARM}s warm-up + ${DUR}s measured, $ROUNDS rounds; RLIMIT_NOFILE $(ulimit -n)"

setup_topology
make_certs
start_nginx
write_agent_conf
start_agent
start_haproxy
AGENT_WORKERS=$(sed -n 's/.*modelux-agent ready.* workers=\([0-9]*\).*/\1/p' "$AGENT_LOG" | head -n 1)
info "topology up: nginx $ADDR_PROV:443, modelux-agent pid $AGENT_PID ($AGENT_WORKERS workers), haproxy 127.0.0.1:$HAPROXY_PORT"

if [ "${BENCH_SETUP_ONLY:-0}" = 1 ]; then
	info "BENCH_SETUP_ONLY: client netns $CLIENT_NS (cgroups $CG/{client,direct}), provider netns $PROV_NS, run dir $RUN; SIGTERM/Ctrl-C to tear down"
	while :; do sleep 1; done
fi

for round in $(seq 1 "$ROUNDS"); do
	wait_quiet
	for sc in "${SCENARIOS[@]}"; do
		for tg in "${TARGETS[@]}"; do
			# once modelux has shown it does not speak h2, do not ask again
			[ "$sc/$tg" = h2/modelux ] && [ -n "${NA_REASON[h2/modelux]:-}" ] && continue
			if [ "$tg" = bare ] || [ "$tg" = nopolicy ]; then
				[[ $BARE_SCENARIOS == *" $sc "* ]] || continue
				if [ "$tg" = bare ]; then set_governance off; else set_governance nopolicy; fi
				run_load "$sc" "$tg" "$round"
				set_governance full
				continue
			fi
			run_load "$sc" "$tg" "$round"
		done
	done
done

if [ "${BENCH_PERF:-0}" = 1 ] && [ -s "$RUN/perf.data" ]; then
	say "perf: the agent during the first modelux h1 run, top symbols (self time):"
	perf report -i "$RUN/perf.data" --stdio --no-children --sort dso,sym --percent-limit 0.8 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 30 | sed 's/^/perf: /'
	perf report -i "$RUN/perf.data" --stdio --no-children --sort dso --percent-limit 1 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 12 | sed 's/^/perf dso: /'
fi

# What the intercept log did under all that load (records written, dropped, failing).
GOV_LOG_LINE=$("$BUILD/modeluxctl" -s "$RUN/agent.sock" status --json 2>/dev/null | "$PY" -c '
import json, sys
g = json.load(sys.stdin).get("governance", {})
l = g.get("log", {})
print("%d records written, %d dropped (queue full), %d dropped (disk), failing: %s; policy blocks %d, budget refusals %d"
      % (l.get("written", 0), l.get("dropped_queue_full", 0), l.get("dropped_disk", 0), l.get("failing"),
         g.get("blocked", 0), g.get("budget_denied", 0)))' 2>/dev/null) || GOV_LOG_LINE="status unavailable"
say "governance: $GOV_LOG_LINE"
probe_connection_close
run_mint
run_micro
MINT_MEAN=$(sed -n 's/.*mint_us_mean=\([0-9.]*\).*/\1/p' <<<"$MINT_LINE")
MINT_P99=$(sed -n 's/.*mint_us_p99=\([0-9.]*\).*/\1/p' <<<"$MINT_LINE")
MINT_P50=$(sed -n 's/.*mint_us_p50=\([0-9.]*\).*/\1/p' <<<"$MINT_LINE")
MINT_CACHED=$(sed -n 's/.*cached_ns_mean=\([0-9.]*\).*/\1/p' <<<"$MINT_LINE")
run_idle_mem

H1_RATIO=$(ratio_of h1 modelux)
H2_RATIO=$(ratio_of h2 modelux)
CHURN_RATIO=$(ratio_of churn modelux)
say ""
say "median req/s of the rounds; ratios: median of the per-round ratios (best/best in parentheses):"
say "$(printf '%-12s %10s %10s %10s %13s %13s %9s' scenario direct modelux haproxy modelux/dir haproxy/dir ceilings)"
for sc in "${SCENARIOS[@]}"; do
	say "$(printf '%-12s %10s %10s %10s %13s %13s %9s' "$sc" "$(med_of "$sc/direct")" "$(med_of "$sc/modelux")" \
		"$(med_of "$sc/haproxy")" "$(ratio_of "$sc" modelux) ($(best_ratio_of "$sc" modelux))" \
		"$(ratio_of "$sc" haproxy) ($(best_ratio_of "$sc" haproxy))" \
		"$(ceiling_of "$sc" modelux)/$(ceiling_of "$sc" haproxy)")"
done
say "(ceilings: the modelux/HAProxy ratio their measured CPU per request would allow if CPU were the only limit)"
for k in "${!NA_REASON[@]}"; do say "$k: ${NA_REASON[$k]}"; done
if [ ${#BUSY_RUNS[@]} -gt 0 ]; then
	say "warning: other processes competed for the CPUs during ${#BUSY_RUNS[@]} run(s): ${BUSY_RUNS[*]}"
fi
for sc in ${BARE_SCENARIOS}; do
	say "governance cost, $sc: modelux/direct $(ratio_of "$sc" modelux), nopolicy/direct $(ratio_of "$sc" nopolicy), bare/direct $(ratio_of "$sc" bare); modelux/nopolicy $(gov_ratio_of "$sc" modelux nopolicy) (policy + budgets), modelux/bare $(gov_ratio_of "$sc") (all governance)"
done
say "mint: new SNI ${MINT_MEAN} us mean, ${MINT_P99} us p99; cached ${MINT_CACHED} ns"
say "memory: ${MEM_RSS_PER} KiB agent RSS + ${MEM_SLAB_PER} KiB kernel slab per idle intercepted connection ($MEM_N held)"
if [ "${BENCH_NO_MD:-0}" != 1 ]; then
	write_md || FAILED=1
	say "bench: wrote $REPO/BENCHMARKS.md"
fi

DONE=1
trap - EXIT INT TERM HUP
teardown >/dev/null 2>&1
say "bench: h1_ratio=$H1_RATIO h2_ratio=$H2_RATIO churn_ratio=$CHURN_RATIO"
exit "$FAILED"

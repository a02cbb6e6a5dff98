# shellcheck shell=bash disable=SC2016
# modelux integration-test fixture: network namespaces, cgroups, DNS, a throwaway CA and a fake
# provider server, plus runners and assertions. Sourced by test/integ/t_*.sh; needs root.
#
# A test script:
#
#   #!/bin/bash
#   set -u
#   source "$(dirname "$0")/lib.sh"
#   integ_setup
#   check "hello over h2" in_client curl -sS --cacert "$MLX_TEST_CA" --http2 https://api.openai.com/hello
#   integ_finish
#
# Do not use `set -e`: a failed assertion returns 1 and the script is meant to go on.
#
# Topology (names unique per run: MLX_ID=mlx<pid>[a-z]):
#   client netns $CLIENT_NS             veth              provider netns $PROV_NS
#   10.201.0.1/24 fd00:201::1/64  <---------------->  10.201.0.2 fd00:201::2  api.openai.com
#   resolv.conf: 10.201.0.53                            10.201.0.3  api.anthropic.com
#   (no default route: nothing                          10.201.0.4  target.azure.example
#    else is reachable)                                             (<- CNAME myres.openai.azure.com)
#                                                       10.201.0.5  generativelanguage.googleapis.com
#                                                       10.201.0.9  plain.example.org
#                                                       10.201.0.53 dnsmasq (cdn.example.net -> .2)
# Provider server (provider_server.js): HTTPS h2+http/1.1 on :443 and plain HTTP on :80 of every
# provider address, TCP echo on :7, UDP echo on 10.201.0.2:443, [fd00:201::2]:443, 10.201.0.9:443.
#
# cgroup v2: $MLX_CG_ROOT = <cgroup2 mount>/modelux-test-<id>, children agent/ and client/.
#
# Runner pid rule: in a subshell (`cmd &`, `$(...)`, a pipeline, `( ... )`) the runners exec
# instead of forking, so the command keeps the subshell's pid: `in_client CMD & pid=$!` gives
# CMD's own pid (sh, ip netns exec, nsenter and setpriv all exec in turn). The flip side: in a
# subshell a runner must be the last command (in a `| while read` loop, write `(in_client ...)`).
# In the script's own shell they run as ordinary child processes.
#
# API (details at each function):
#   integ_setup, integ_finish, integ_teardown (idempotent), integ_on_teardown CODE,
#   integ_sweep_stale
#   in_client CMD..., in_agent_cg CMD..., in_provider CMD...
#   start_bg NAME CMD..., bg_pid NAME, stop_bg NAME [SIG] [TIMEOUT_S]
#   ok DESC, not_ok DESC [DETAIL...], note MSG, check DESC CMD..., check_fails DESC CMD...,
#   assert_eq DESC EXPECTED ACTUAL, assert_contains / assert_not_contains DESC FILE_OR_STRING
#   NEEDLE, assert_match DESC STRING ERE, wait_for DESC TIMEOUT_S CMD...
#   client_curl ARGS..., mlx_bytes_sha256 N [SEED], mlx_client_listens PORT,
#   mlx_agent_conf FILE [LINES...], mlx_need_bpffs
# Environment in: O (build dir, default build), MLX_DNS_TTL (30), MLX_AS_USER, MLX_KEEP (1: keep
# the run dir if something failed; always), MLX_PIN_DIR, MLX_AGENT_PORT (15001),
# MLX_CURL_TIMEOUT (20), MLX_RESULTS (set by run-all.sh).
# Exported by integ_setup: MLX_ID MLX_RUN CLIENT_NS PROV_NS MLX_VETH_CLIENT MLX_VETH_PROV MLX_CG2
# MLX_CG_ROOT MLX_CG_REL MLX_CG_CLIENT MLX_CG_AGENT MLX_TEST_CA MLX_SERVER_CERT MLX_SERVER_KEY
# MLX_SERVER_LOG MLX_DNS_LOG; at source time: MLX_REPO MLX_BUILD MLX_PY MLX_ADDR_* MLX_HOST_*
# MLX_DNS_ADDR.

MLX_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MLX_REPO=$(cd "$MLX_LIB_DIR/../.." && pwd)
MLX_BUILD=$(cd "$MLX_REPO" && realpath -m -- "${O:-build}")
MLX_PY=/usr/bin/python3           # Debian's python (requests, httpx); PATH may hold another
MLX_DNS_TTL=${MLX_DNS_TTL:-30}
MLX_AGENT_PORT=${MLX_AGENT_PORT:-15001}
MLX_SCRIPT=$(basename -- "$0" .sh)
export MLX_REPO MLX_BUILD MLX_PY MLX_DNS_TTL MLX_AGENT_PORT

# Addresses and names of the topology.
export MLX_ADDR_CLIENT=10.201.0.1 MLX_ADDR_CLIENT6=fd00:201::1
export MLX_ADDR_OPENAI=10.201.0.2 MLX_ADDR_OPENAI6=fd00:201::2
export MLX_ADDR_ANTHROPIC=10.201.0.3 MLX_ADDR_AZURE=10.201.0.4
export MLX_ADDR_GEMINI=10.201.0.5 MLX_HOST_GEMINI=generativelanguage.googleapis.com
export MLX_ADDR_PLAIN=10.201.0.9 MLX_DNS_ADDR=10.201.0.53
export MLX_HOST_OPENAI=api.openai.com MLX_HOST_ANTHROPIC=api.anthropic.com
export MLX_HOST_AZURE=myres.openai.azure.com MLX_HOST_AZURE_TARGET=target.azure.example
export MLX_HOST_PLAIN=plain.example.org MLX_HOST_CDN=cdn.example.net

MLX_PASS=0
MLX_FAIL=0
MLX_FINISHED=0
MLX_TORN_DOWN=0
MLX_SETUP_STARTED=0
MLX_BG_PIDS=()
MLX_CLEANUPS=()

# ---------------------------------------------------------------------------------------------
# Assertions. Each prints "PASS: <desc>" or "FAIL: <desc>" (details indented below), counts, and
# returns 0 on pass, 1 on failure. With MLX_RESULTS set (run-all.sh does), each result is also
# appended there as "PASS<TAB>desc" / "FAIL<TAB>desc", so a script that dies still counts.

_mlx_record() {	# <verdict> <desc>
	if [ -n "${MLX_RESULTS:-}" ]; then
		printf '%s\t%s: %s\n' "$1" "$MLX_SCRIPT" "$2" >>"$MLX_RESULTS" || true
	fi
}

ok() {	# <desc>
	MLX_PASS=$((MLX_PASS + 1))
	printf 'PASS: %s\n' "$1"
	_mlx_record PASS "$1"
	return 0
}

not_ok() {	# <desc> [details...]
	local d=$1
	shift
	MLX_FAIL=$((MLX_FAIL + 1))
	printf 'FAIL: %s\n' "$d"
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@" | sed '/^[[:space:]]*$/d; s/^/    /' | tail -n 40
	fi
	_mlx_record FAIL "$d"
	return 1
}

_mlx_tmpout() {	# a scratch file (in the run dir while there is one)
	local d=/tmp
	[ -n "${MLX_RUN:-}" ] && [ -d "$MLX_RUN" ] && d=$MLX_RUN
	mktemp "$d/mlx-out.XXXXXX"
}

check() {	# <desc> <cmd...>: pass when cmd exits 0
	local d=$1 out rc=0
	shift
	out=$(_mlx_tmpout)
	"$@" >"$out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		rm -f "$out"
		ok "$d"
	else
		not_ok "$d" "command: $*" "exit status $rc" "$(tail -n 20 "$out")"
		rm -f "$out"
		return 1
	fi
}

check_fails() {	# <desc> <cmd...>: pass when cmd exits non-zero
	local d=$1 out rc=0
	shift
	out=$(_mlx_tmpout)
	"$@" >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		rm -f "$out"
		ok "$d"
	else
		not_ok "$d" "command: $*" "succeeded, expected a failure" "$(tail -n 20 "$out")"
		rm -f "$out"
		return 1
	fi
}

assert_eq() {	# <desc> <expected> <actual>
	if [ "$2" == "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2" "actual:   $3"
	fi
}

assert_match() {	# <desc> <string> <extended regex>
	if [[ $2 =~ $3 ]]; then
		ok "$1"
	else
		not_ok "$1" "no match for: $3" "in: $2"
	fi
}

# <haystack> is read as a file when it names an existing regular file, else taken as a string.
_mlx_has() {	# <haystack> <needle>
	if [ -f "$1" ]; then
		grep -qF -- "$2" "$1"
	else
		[[ "$1" == *"$2"* ]]
	fi
}

_mlx_show() {	# <haystack>: its last lines, for a failure message
	if [ -f "$1" ]; then
		printf 'in file %s (last lines):\n%s' "$1" "$(tail -n 15 "$1")"
	else
		printf 'in: %s' "$(printf '%s' "$1" | tail -n 15)"
	fi
}

assert_contains() {	# <desc> <haystack file or string> <needle>
	if _mlx_has "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1" "missing: $3" "$(_mlx_show "$2")"
	fi
}

assert_not_contains() {	# <desc> <haystack file or string> <needle>
	if _mlx_has "$2" "$3"; then
		not_ok "$1" "unexpected: $3" "$(_mlx_show "$2")"
	else
		ok "$1"
	fi
}

# Poll <cmd> every 50 ms until it exits 0 or <timeout_s> (may be fractional) have passed.
_mlx_poll() {	# <timeout_s> <cmd...>
	local deadline now
	deadline=$(_mlx_deadline "$1")
	shift
	while :; do
		"$@" && return 0
		now=${EPOCHREALTIME/./}
		[ "$now" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

_mlx_deadline() {	# <seconds, may be fractional>: now + seconds in µs
	local s=$1 int frac
	int=${s%%.*}
	frac=0
	[[ $s == *.* ]] && frac=${s#*.}
	frac=${frac}000000
	frac=${frac:0:6}
	echo $(( ${EPOCHREALTIME/./} + ${int:-0} * 1000000 + 10#$frac ))
}

# CMD is run again at each poll, but a `$(...)` among its arguments is expanded only once, when
# wait_for is called: to poll a computed value, pass `eval '...'` or a function.
#   wait_for "no target left" 5 eval 'test "$(status_field "$R/a.conf" targets.count)" = 0'
wait_for() {	# <desc> <timeout_s> <cmd...>
	local d=$1 t=$2 out start
	shift 2
	out=$(_mlx_tmpout)
	start=${EPOCHREALTIME/./}
	if _mlx_poll "$t" "$@" >"$out" 2>&1; then
		rm -f "$out"
		ok "$d ($(( (${EPOCHREALTIME/./} - start) / 1000 )) ms)"
	else
		not_ok "$d" "command: $*" "not true after ${t}s; last output:" "$(tail -n 20 "$out")"
		rm -f "$out"
		return 1
	fi
}

note() {	# <message...>: a comment line in the output (not an assertion)
	printf '# %s\n' "$*"
}

# ---------------------------------------------------------------------------------------------
# Runners.

# _mlx_argv_<runner> fill MLX_ARGV with the prefix that runs a command that way.
_mlx_argv_in_client() {
	MLX_ARGV=(sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec ip netns exec "$ns" "$@"'
		sh "$MLX_CG_ROOT/client" "$CLIENT_NS")
	if [ -n "${MLX_AS_USER:-}" ]; then
		local gid
		gid=$(id -g -- "$MLX_AS_USER") || return 1
		MLX_ARGV+=(setpriv "--reuid=$MLX_AS_USER" "--regid=$gid" --init-groups --)
	fi
}

_mlx_argv_in_agent_cg() {
	MLX_ARGV=(sh -c 'echo $$ >"$1/cgroup.procs" && ns=$2 && shift 2 && exec nsenter --net="$ns" "$@"'
		sh "$MLX_CG_ROOT/agent" "/run/netns/$CLIENT_NS")
}

_mlx_argv_in_provider() {
	MLX_ARGV=(ip netns exec "$PROV_NS")
}

_mlx_run() {	# <runner> <cmd...>
	local r=$1
	shift
	[ $# -gt 0 ] || { echo "$r: no command" >&2; return 2; }
	"_mlx_argv_$r" || return 1
	if [ "$BASHPID" != "$$" ]; then
		exec "${MLX_ARGV[@]}" "$@"
	fi
	"${MLX_ARGV[@]}" "$@"
}

# CMD in the client cgroup and client netns, with the client's resolv.conf; as $MLX_AS_USER
# (name or uid) if set.
in_client() { _mlx_run in_client "$@"; }
# CMD in the agent cgroup and the client netns, keeping the host's /sys (cgroup2 and bpffs
# visible) and the host's /etc/resolv.conf: give the agent `resolver = $MLX_DNS_ADDR`.
in_agent_cg() { _mlx_run in_agent_cg "$@"; }
# CMD in the provider netns (in the test script's own cgroup).
in_provider() { _mlx_run in_provider "$@"; }

# Start CMD in the background in its own process group, stdin /dev/null, stdout and stderr to
# $MLX_RUN/NAME.log; pid in $MLX_RUN/NAME.pid and $MLX_LAST_PID. CMD may start with a runner
# (start_bg agent in_agent_cg "$MLX_BUILD/modelux-agent" -c ...); the pid is then the final
# command's. integ_teardown stops every such process group.
start_bg() {	# <name> <cmd...>
	local name=$1 m=0 pid
	shift
	[[ $- == *m* ]] && m=1
	set -m # job control: the job gets its own process group, SIGINT not ignored
	if [ "$(type -t "$1")" = function ]; then
		("$@") </dev/null >"$MLX_RUN/$name.log" 2>&1 &
	else
		(exec "$@") </dev/null >"$MLX_RUN/$name.log" 2>&1 &
	fi
	pid=$!
	[ "$m" = 1 ] || set +m
	MLX_BG_PIDS+=("$pid")
	echo "$pid" >"$MLX_RUN/$name.pid"
	# shellcheck disable=SC2034 # for the tests
	MLX_LAST_PID=$pid
}

bg_pid() {	# <name>: print the pid start_bg recorded
	cat "$MLX_RUN/$1.pid"
}

_mlx_group_alive() {	# <pgid>: does the group have a process that is not a zombie?
	ps -A -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# Signal NAME's process group (default TERM), wait up to <timeout_s> (default 5) for it to go,
# then SIGKILL it. Returns the leader's exit status (128+signal if killed).
stop_bg() {	# <name> [signal] [timeout_s]
	local -
	set +e
	local pid rc=0
	pid=$(bg_pid "$1") || return 1
	kill "-${2:-TERM}" -- "-$pid" 2>/dev/null
	if ! _mlx_poll "${3:-5}" eval '! _mlx_group_alive '"$pid"; then
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# ---------------------------------------------------------------------------------------------
# Helpers for tests.

# Prompt tokens by the simulated providers' rule (servers/llm_sim.js, ws_sim.js):
# max(1, ceil(code points / 4)) of the texts together.
ptoks() {	# <text>...
	"$MLX_PY" -c 'import math, sys; print(max(1, math.ceil(sum(len(a) for a in sys.argv[1:]) / 4)))' "$@"
}

# Expected SHA-256 (hex) of provider /bytes?n=N&seed=SEED, computed locally.
mlx_bytes_sha256() {	# <n> [seed]
	local key
	key=$(printf %s "${2:-0}" | sha256sum | cut -c1-32)
	head -c "$1" /dev/zero |
		openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000 |
		sha256sum | cut -d' ' -f1
}

# curl from the client with the test CA, quiet but showing errors, bounded in time.
client_curl() {	# <curl args...>
	in_client curl -sS --max-time "${MLX_CURL_TIMEOUT:-20}" --cacert "$MLX_TEST_CA" "$@"
}

# Does something listen on TCP <port> in the client netns (e.g. the agent)?
mlx_client_listens() {	# <port>
	[ -n "$(nsenter --net="/run/netns/$CLIENT_NS" ss -Hltn "sport = :$1")" ]
}

# Make sure a bpffs is mounted at /sys/fs/bpf (not the case on every machine).
mlx_need_bpffs() {
	awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { f = 1 } END { exit !f }' /proc/mounts ||
		mount -t bpf bpf /sys/fs/bpf
}

# Write a test agent configuration to <file>: listener on $MLX_AGENT_PORT (15001), control
# socket and state in $MLX_RUN, scope = the client cgroup, our resolver, pins in $MLX_PIN_DIR
# (set to /sys/fs/bpf/modelux-test-<id> if unset, so teardown removes it), metrics off, debug
# log. Extra lines ("key = value", then any [provider] sections) are appended as given.
mlx_agent_conf() {	# <file> [lines...]
	local f=$1
	shift
	: "${MLX_PIN_DIR:=/sys/fs/bpf/modelux-test-${MLX_ID#mlx}}"
	export MLX_PIN_DIR
	mkdir -p "$MLX_RUN/state" || return 1
	{
		echo "listen_port = $MLX_AGENT_PORT"
		echo "metrics_addr = off"
		echo "control_path = $MLX_RUN/agent.sock"
		echo "state_dir = $MLX_RUN/state"
		echo "scope = $MLX_CG_REL/client"
		echo "pin_dir = $MLX_PIN_DIR"
		echo "resolver = $MLX_DNS_ADDR"
		echo "log_level = debug"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >"$f"
}

# ---------------------------------------------------------------------------------------------
# Set-up and tear-down.

_mlx_die() {	# <message...>: a setup failure ends the script (the EXIT trap tears down)
	not_ok "setup: $1" "${@:2}"
	exit 1
}

_mlx_on_exit() {
	local rc=$?
	set +e
	[ "$MLX_FINISHED" = 1 ] && return
	integ_teardown
	if [ "$rc" -ne 0 ] && [ "$MLX_FAIL" -eq 0 ]; then
		not_ok "$MLX_SCRIPT exited with status $rc"
	fi
	printf '%s: %d passed, %d failed\n' "$MLX_SCRIPT" "$MLX_PASS" "$MLX_FAIL"
	[ "$MLX_FAIL" -eq 0 ] || exit 1
}

_mlx_on_signal() {	# <signal name> <exit status>
	trap - INT TERM HUP
	printf '# %s: caught SIG%s, tearing down\n' "$MLX_SCRIPT" "$1" >&2
	MLX_DIED_BY=$1
	exit "$2"
}

_mlx_cg2_mount() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

integ_setup() {
	local t0 cg2 s
	t0=${EPOCHREALTIME/./}
	trap _mlx_on_exit EXIT
	trap '_mlx_on_signal INT 130' INT
	trap '_mlx_on_signal TERM 143' TERM
	trap '_mlx_on_signal HUP 129' HUP
	MLX_SETUP_STARTED=1
	[ "$(id -u)" = 0 ] || _mlx_die "must run as root (network namespaces, cgroups)"
	for s in ip nsenter setpriv dnsmasq node openssl curl ss; do
		command -v "$s" >/dev/null || _mlx_die "missing tool '$s' (scripts/deps.sh installs it)"
	done
	[[ $MLX_DNS_TTL =~ ^[0-9]+$ ]] || _mlx_die "MLX_DNS_TTL must be an integer, not '$MLX_DNS_TTL'"

	# Names: mlx<pid>, or mlx<pid><letter> if a dead run with our pid left something behind.
	cg2=$(_mlx_cg2_mount)
	[ -n "$cg2" ] || _mlx_die "no cgroup2 mount in /proc/mounts"
	for s in '' a b c d e f g h; do
		MLX_ID=mlx$$$s
		[ -e "/run/netns/$MLX_ID-client" ] || [ -e "/run/netns/$MLX_ID-prov" ] ||
			[ -e "$cg2/modelux-test-$$$s" ] || [ -e "/etc/netns/$MLX_ID-client" ] || break
	done
	CLIENT_NS=$MLX_ID-client
	PROV_NS=$MLX_ID-prov
	MLX_VETH_CLIENT=${MLX_ID}c
	MLX_VETH_PROV=${MLX_ID}p
	MLX_CG2=$cg2
	MLX_CG_ROOT=$cg2/modelux-test-${MLX_ID#mlx}
	MLX_CG_REL=${MLX_CG_ROOT#"$cg2"}
	MLX_CG_CLIENT=$MLX_CG_ROOT/client
	MLX_CG_AGENT=$MLX_CG_ROOT/agent
	export MLX_ID CLIENT_NS PROV_NS MLX_VETH_CLIENT MLX_VETH_PROV MLX_CG2 MLX_CG_ROOT MLX_CG_REL \
		MLX_CG_CLIENT MLX_CG_AGENT

	MLX_RUN=$(mktemp -d /tmp/modelux-integ.XXXX) || _mlx_die "mktemp failed"
	chmod 755 "$MLX_RUN" # MLX_AS_USER clients read the CA from here
	echo "$$" >"$MLX_RUN/owner.pid"
	export MLX_RUN
	export MLX_TEST_CA=$MLX_RUN/ca.crt MLX_SERVER_CERT=$MLX_RUN/server.crt
	export MLX_SERVER_KEY=$MLX_RUN/server.key MLX_SERVER_LOG=$MLX_RUN/provider-requests.jsonl
	export MLX_DNS_LOG=$MLX_RUN/dns-queries.log

	# cgroups
	mkdir "$MLX_CG_ROOT" "$MLX_CG_AGENT" "$MLX_CG_CLIENT" ||
		_mlx_die "cannot create cgroups under $MLX_CG_ROOT"

	# Namespaces, veth (created inside the namespaces: nothing appears in the host's), addresses.
	ip netns add "$CLIENT_NS" || _mlx_die "ip netns add $CLIENT_NS"
	ip netns add "$PROV_NS" || _mlx_die "ip netns add $PROV_NS"
	ip -n "$CLIENT_NS" -b - <<-EOF || _mlx_die "client netns configuration"
		link set lo up
		link add $MLX_VETH_CLIENT type veth peer name $MLX_VETH_PROV netns $PROV_NS
		addr add $MLX_ADDR_CLIENT/24 dev $MLX_VETH_CLIENT
		addr add $MLX_ADDR_CLIENT6/64 dev $MLX_VETH_CLIENT nodad
		link set $MLX_VETH_CLIENT up
	EOF
	ip -n "$PROV_NS" -b - <<-EOF || _mlx_die "provider netns configuration"
		link set lo up
		addr add $MLX_ADDR_OPENAI/24 dev $MLX_VETH_PROV
		addr add $MLX_ADDR_ANTHROPIC/24 dev $MLX_VETH_PROV
		addr add $MLX_ADDR_AZURE/24 dev $MLX_VETH_PROV
		addr add $MLX_ADDR_GEMINI/24 dev $MLX_VETH_PROV
		addr add $MLX_ADDR_PLAIN/24 dev $MLX_VETH_PROV
		addr add $MLX_DNS_ADDR/24 dev $MLX_VETH_PROV
		addr add $MLX_ADDR_OPENAI6/64 dev $MLX_VETH_PROV nodad
		link set $MLX_VETH_PROV up
	EOF

	# Permanent IPv6 neighbour entries: on this kernel the first neighbour solicitation on a
	# fresh veth is lost, which cost the first IPv6 connection a 1 s retransmission.
	local mac_c mac_p
	mac_c=$(ip -n "$CLIENT_NS" -br link show dev "$MLX_VETH_CLIENT" | awk '{ print $3 }')
	mac_p=$(ip -n "$PROV_NS" -br link show dev "$MLX_VETH_PROV" | awk '{ print $3 }')
	if ! { ip -n "$CLIENT_NS" neigh replace "$MLX_ADDR_OPENAI6" lladdr "$mac_p" \
		dev "$MLX_VETH_CLIENT" nud permanent &&
		ip -n "$PROV_NS" neigh replace "$MLX_ADDR_CLIENT6" lladdr "$mac_c" \
			dev "$MLX_VETH_PROV" nud permanent; }; then
		_mlx_die "IPv6 neighbour entries"
	fi

	# Client resolver: `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc/*.
	if ! { mkdir -p "/etc/netns/$CLIENT_NS" &&
		echo "nameserver $MLX_DNS_ADDR" >"/etc/netns/$CLIENT_NS/resolv.conf"; }; then
		_mlx_die "cannot write /etc/netns/$CLIENT_NS/resolv.conf"
	fi

	# DNS server.
	start_bg dnsmasq in_provider dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --bind-interfaces --listen-address="$MLX_DNS_ADDR" --port=53 \
		--user=root --group=root \
		--pid-file="$MLX_RUN/dnsmasq.pidfile" --log-queries --log-facility="$MLX_DNS_LOG" \
		--local-ttl="$MLX_DNS_TTL" --address=/#/ \
		--host-record="$MLX_HOST_OPENAI,$MLX_ADDR_OPENAI,$MLX_ADDR_OPENAI6" \
		--host-record="$MLX_HOST_ANTHROPIC,$MLX_ADDR_ANTHROPIC" \
		--host-record="$MLX_HOST_AZURE_TARGET,$MLX_ADDR_AZURE" \
		--host-record="$MLX_HOST_GEMINI,$MLX_ADDR_GEMINI" \
		--cname="$MLX_HOST_AZURE,$MLX_HOST_AZURE_TARGET,$MLX_DNS_TTL" \
		--host-record="$MLX_HOST_PLAIN,$MLX_ADDR_PLAIN" \
		--host-record="$MLX_HOST_CDN,$MLX_ADDR_OPENAI"

	# Certificates: a throwaway CA and one ECDSA P-256 server certificate for every name.
	local san="DNS:$MLX_HOST_OPENAI,DNS:$MLX_HOST_ANTHROPIC,DNS:$MLX_HOST_AZURE"
	san+=",DNS:$MLX_HOST_AZURE_TARGET,DNS:$MLX_HOST_CDN,DNS:$MLX_HOST_PLAIN"
	san+=",IP:$MLX_ADDR_OPENAI,IP:$MLX_ADDR_OPENAI6,IP:$MLX_ADDR_ANTHROPIC,IP:$MLX_ADDR_AZURE"
	san+=",IP:$MLX_ADDR_PLAIN"
	san+=",DNS:$MLX_HOST_GEMINI,IP:$MLX_ADDR_GEMINI"
	(
		umask 077
		openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$MLX_RUN/ca.key" -out "$MLX_TEST_CA" -days 30 \
			-subj "/CN=modelux integ provider CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" &&
			openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$MLX_SERVER_KEY" -out "$MLX_SERVER_CERT" -days 30 \
				-subj "/CN=$MLX_HOST_OPENAI" -CA "$MLX_TEST_CA" -CAkey "$MLX_RUN/ca.key" \
				-addext "subjectAltName=$san" \
				-addext "basicConstraints=critical,CA:FALSE" \
				-addext "keyUsage=critical,digitalSignature" \
				-addext "extendedKeyUsage=serverAuth" &&
			chmod 644 "$MLX_TEST_CA" "$MLX_SERVER_CERT"
	) >"$MLX_RUN/openssl.out" 2>&1 || _mlx_die "certificate generation" "$(cat "$MLX_RUN/openssl.out")"

	# Provider server.
	start_bg provider in_provider node "$MLX_LIB_DIR/servers/provider_server.js" \
		--cert "$MLX_SERVER_CERT" --key "$MLX_SERVER_KEY" --log "$MLX_SERVER_LOG" \
		--tls-port 443 --http-port 80 --echo-port 7 \
		--udp-echo "$MLX_ADDR_OPENAI:443" --udp-echo "[$MLX_ADDR_OPENAI6]:443" \
		--udp-echo "$MLX_ADDR_PLAIN:443"

	_mlx_poll 10 grep -qx ready "$MLX_RUN/provider.log" ||
		_mlx_die "provider server not ready after 10 s" "$(tail -n 20 "$MLX_RUN/provider.log")"
	_mlx_poll 5 eval '[ -n "$(in_provider ss -Hlun "src $MLX_DNS_ADDR:53")" ]' ||
		_mlx_die "dnsmasq not listening after 5 s" "$(tail -n 20 "$MLX_RUN/dnsmasq.log" "$MLX_DNS_LOG")"
	note "setup $MLX_ID in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms, run dir $MLX_RUN"
}

# Register shell code for integ_teardown to run first (last registered, first run), for what a
# test makes outside the fixture. Tests must not set their own EXIT/INT/TERM traps.
integ_on_teardown() {	# <shell code>
	MLX_CLEANUPS+=("$1")
}

_mlx_teardown_fail() {	# <what>: record a leak as a failure
	not_ok "teardown: $1"
}

_mlx_cg_empty() {	# <dir>: no live process left in the cgroup tree (or it is gone)
	! [ -d "$1" ] || grep -qx 'populated 0' "$1/cgroup.events" 2>/dev/null
}

_mlx_cg_rmtree() {	# <dir>: rmdir the cgroup and its descendants, deepest first
	! [ -d "$1" ] || find "$1" -depth -type d -exec rmdir {} + 2>/dev/null
	! [ -d "$1" ]
}

_mlx_rmdir_cg() {	# <dir>: remove a cgroup tree, killing what is left in it
	local d=$1 p
	[ -d "$d" ] || return 0
	if ! _mlx_cg_empty "$d"; then
		if [ -e "$d/cgroup.kill" ]; then
			echo 1 >"$d/cgroup.kill" 2>/dev/null
		else # kernels before 5.14
			find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null |
				while read -r p; do kill -KILL "$p" 2>/dev/null; done
		fi
		_mlx_poll 3 _mlx_cg_empty "$d"
	fi
	_mlx_poll 2 _mlx_cg_rmtree "$d"
}

_mlx_netns_pids() {	# <ns>: pids of processes in the namespace
	[ -e "/run/netns/$1" ] && ip netns pids "$1" 2>/dev/null
}

# Stops and removes everything integ_setup and start_bg made. Safe to call twice and after a
# partial setup; a leftover it cannot remove is reported as a failed assertion.
integ_teardown() {
	[ "$MLX_TORN_DOWN" = 1 ] && return 0
	[ "$MLX_SETUP_STARTED" = 1 ] || return 0
	MLX_TORN_DOWN=1
	local - # `set -e` in the test must not cut tear-down short
	set +e
	local pid ns pids i

	# 0. The test's own clean-up commands, last registered first.
	for ((i = ${#MLX_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${MLX_CLEANUPS[i]}"
	done

	# 1. Background process groups: TERM, up to 3 s, then KILL; reap.
	for pid in "${MLX_BG_PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null
	done
	for pid in "${MLX_BG_PIDS[@]}"; do
		_mlx_poll 3 eval '! _mlx_group_alive '"$pid" || kill -KILL -- "-$pid" 2>/dev/null
	done
	for pid in "${MLX_BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done

	# 2. Pinned BPF links and maps (a fail-closed agent's): unpinning detaches them.
	if [ -n "${MLX_PIN_DIR:-}" ]; then
		case $MLX_PIN_DIR in
		/sys/fs/bpf/?*) rm -rf -- "$MLX_PIN_DIR" || _mlx_teardown_fail "pin dir $MLX_PIN_DIR" ;;
		*) _mlx_teardown_fail "MLX_PIN_DIR=$MLX_PIN_DIR is not under /sys/fs/bpf/, not removed" ;;
		esac
	fi

	# 3. Whatever else is in our cgroups, then the cgroups.
	if [ -n "${MLX_CG_ROOT:-}" ] && [ -d "$MLX_CG_ROOT" ]; then
		_mlx_rmdir_cg "$MLX_CG_ROOT" || _mlx_teardown_fail "cgroup $MLX_CG_ROOT not removed"
	fi

	# 4. Whatever else runs in our namespaces (in_provider ... &), then the namespaces.
	for ns in ${CLIENT_NS:-} ${PROV_NS:-}; do
		pids=$(_mlx_netns_pids "$ns")
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null
			_mlx_poll 2 eval '[ -z "$(_mlx_netns_pids '"$ns"')" ]'
		fi
		if [ -e "/run/netns/$ns" ]; then
			ip netns del "$ns" 2>/dev/null || _mlx_teardown_fail "netns $ns not deleted"
		fi
	done

	# 5. The client's resolv.conf.
	if [ -n "${CLIENT_NS:-}" ]; then
		rm -rf "/etc/netns/$CLIENT_NS"
		rmdir /etc/netns 2>/dev/null
	fi

	# 6. The run dir: kept with MLX_KEEP=1 when something failed, always with MLX_KEEP=always.
	if [ -n "${MLX_RUN:-}" ] && [ -d "$MLX_RUN" ]; then
		if [ "${MLX_KEEP:-}" = always ] || { [ "${MLX_KEEP:-}" = 1 ] &&
			{ [ "$MLX_FAIL" -gt 0 ] || [ -n "${MLX_DIED_BY:-}" ]; }; }; then
			: >"$MLX_RUN/KEEP" # integ_sweep_stale leaves it alone
			note "kept run dir $MLX_RUN"
		else
			if [ "$MLX_FAIL" -gt 0 ]; then
				_mlx_dump_logs
			fi
			rm -rf -- "$MLX_RUN"
		fi
	fi
	return 0
}

_mlx_dump_logs() {	# the tail of every log, to explain a failure (MLX_KEEP=1 keeps them all)
	local f
	for f in "$MLX_RUN"/*.log; do
		[ -s "$f" ] || continue
		printf '# --- %s (last 15 lines)\n' "${f##*/}"
		tail -n 15 "$f" | sed 's/^/# /'
	done
}

# Tear down, print "<script>: N passed, N failed", exit 1 if anything failed.
integ_finish() {
	integ_teardown
	MLX_FINISHED=1
	printf '%s: %d passed, %d failed\n' "$MLX_SCRIPT" "$MLX_PASS" "$MLX_FAIL"
	[ "$MLX_FAIL" -eq 0 ] && exit 0
	exit 1
}

# Remove what runs killed with SIGKILL left behind: namespaces mlx<pid>*-{client,prov} and
# cgroups modelux-test-<pid>* whose <pid> is dead (with their processes), /etc/netns entries and
# pin dirs of the same, and run dirs of dead runs (not those kept by MLX_KEEP). run-all.sh calls
# this first.
integ_sweep_stale() {
	local cg2 f n pid pids
	cg2=$(_mlx_cg2_mount)
	for f in /run/netns/mlx* /etc/netns/mlx* ${cg2:+"$cg2"/modelux-test-*} /sys/fs/bpf/modelux-test-*; do
		[ -e "$f" ] || continue
		n=${f##*/}
		n=${n#modelux-test-}
		n=${n#mlx}
		pid=${n%%[!0-9]*}
		[ -n "$pid" ] || continue
		kill -0 "$pid" 2>/dev/null && continue
		note "removing stale $f"
		case $f in
		/run/netns/*)
			pids=$(ip netns pids "${f##*/}" 2>/dev/null)
			# shellcheck disable=SC2086
			[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
			ip netns del "${f##*/}" 2>/dev/null
			;;
		/etc/netns/*|/sys/fs/bpf/*) rm -rf -- "$f" ;;
		*) _mlx_rmdir_cg "$f" ;;
		esac
	done
	rmdir /etc/netns 2>/dev/null
	for f in /tmp/modelux-integ.*/owner.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -0 "$pid" 2>/dev/null && continue
		[ -e "${f%/*}/KEEP" ] && continue
		note "removing stale ${f%/*}"
		rm -rf -- "${f%/*}"
	done
	return 0
}

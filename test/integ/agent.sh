# shellcheck shell=bash
# Helpers for tests that run the real modelux-agent inside the fixture of lib.sh.
# Source after lib.sh and integ_setup.

AGENT=$MLX_BUILD/modelux-agent
CTL=$MLX_BUILD/modeluxctl

# Start the agent NAME with config file CONF in the agent cgroup + client netns; wait until it
# says it is ready. Returns 1 (and the test records a failure) when it does not come up.
agent_start() {	# <name> <conf>
	local name=$1 conf=$2
	start_bg "$name" in_agent_cg "$AGENT" -c "$conf"
	wait_for "agent $name ready" 10 grep -q "modelux-agent ready" "$MLX_RUN/$name.log"
}

# Number of flow lines in the agent log matching all the given fixed strings.
flow_count() {	# <name> <needle...>
	local log=$MLX_RUN/$1.log
	shift
	local lines
	lines=$(grep -F "flow id=" "$log" 2>/dev/null)
	for n in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -F -- "$n")
	done
	printf '%s\n' "$lines" | grep -c "flow id="
}

# The flow line for client pid PID (waits up to 5 s for it to be logged).
flow_of_pid() {	# <name> <pid>
	local i
	for i in $(seq 1 100); do
		grep -E "^<6>flow id=[0-9]+ .* pid=$2 " "$MLX_RUN/$1.log" && return 0
		sleep 0.05
	done
	return 1
}

# JSON status from the running agent, and one field of it (python dotted path).
agent_status_json() {	# <conf>
	"$CTL" -c "$1" status --json
}
status_field() {	# <conf> <path, e.g. flows.origdst_sockopt>
	agent_status_json "$1" | "$MLX_PY" -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$2"
}

# Run a client command in the background and print its pid once it has finished; its stdout
# goes to FILE and its exit status to FILE.rc. Lets a test match the flow line by the client's pid.
client_bg_pid() {	# <file> <cmd...>
	local out=$1
	shift
	in_client "$@" >"$out" 2>&1 &
	local pid=$!
	wait "$pid"
	echo $? >"$out.rc"
	echo "$pid"
}

# Stop agent NAME with SIGTERM and assert a clean exit: status 0, and no sanitizer report in its
# log (under `make asan` a leak or UB report makes the exit status non-zero too).
agent_stop() {	# <name>
	stop_bg "$1" TERM 5
	assert_eq "agent $1 exits 0 on SIGTERM" 0 "$?"
	check_fails "agent $1 log has no sanitizer report" \
		grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$MLX_RUN/$1.log"
}

# Predicates for wait_for, re-evaluated at every poll (a "$(...)" argument would be frozen).
flows_at_least() {	# <name> <n> <needle...>
	local name=$1 n=$2
	shift 2
	[ "$(flow_count "$name" "$@")" -ge "$n" ]
}
status_is() {	# <conf> <field> <value>
	[ "$(status_field "$1" "$2")" = "$3" ]
}

# A throwaway corporate CA (P-256) in DIR/ca.crt + DIR/ca.key (0600), and a client bundle
# DIR/clients.pem trusting both it and the provider test CA.
make_corp_ca() {	# <dir>
	mkdir -p "$1" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=modelux integ corporate CA" -keyout "$1/ca.key" -out "$1/ca.crt" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
		chmod 600 "$1/ca.key" && cat "$1/ca.crt" "$MLX_TEST_CA" >"$1/clients.pem"
}

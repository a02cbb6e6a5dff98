#!/bin/bash
# Failure modes. Fail-open (default): an agent killed with -9 takes its links with it and
# provider traffic flows direct within a second; DNS keeps working with the stale NFQUEUE rule.
# Fail-closed: the pinned links outlive the agent and provider connections are refused; a new
# agent takes over the pins without a gap; a clean stop keeps them; modeluxctl detach ends it.
set -u -o pipefail
source "$(dirname "$0")/lib.sh"
integ_setup
source "$(dirname "$0")/agent.sh"
R=$MLX_RUN
mlx_need_bpffs

url="https://$MLX_HOST_OPENAI/hello"
hello() { client_curl -4 --max-time 3 "$url"; }

# --- fail-open ---------------------------------------------------------------------------------
mlx_agent_conf "$R/open.conf" "intercept = no"
agent_start open "$R/open.conf" || integ_finish
wait_for "target learned" 5 grep -q "target learned provider=openai" "$R/open.log"
check "provider reachable through the agent" hello
wait_for "...and the flow was logged" 5 flows_at_least open 1 "kind=provider"
check "programs attached while the agent runs" \
	sh -c "bpftool cgroup tree '$MLX_CG_ROOT' | grep -q mlx_connect4"
kill -KILL "$(bg_pid open)"
t0=$(date +%s%N)
ok_direct=0
for _ in $(seq 1 20); do
	if hello >/dev/null 2>&1; then ok_direct=1; break; fi
	sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "after kill -9 the provider is reached directly (${ms} ms)" test "$ok_direct" = 1 -a "$ms" -lt 1000
check_fails "no modelux program is left on the cgroup" \
	sh -c "bpftool cgroup tree '$MLX_CG_ROOT' | grep -q mlx_connect4"
check "DNS still resolves with the dead agent's NFQUEUE rule left behind (queue-bypass)" \
	in_client getent ahosts "$MLX_HOST_ANTHROPIC"
n=$(flow_count open)
sleep 0.2
assert_eq "no flow was handled after the kill" "$n" "$(flow_count open)"

# --- fail-closed ---------------------------------------------------------------------------------
mlx_agent_conf "$R/closed.conf" "intercept = no" "fail_closed = yes"
agent_start closed1 "$R/closed.conf" || integ_finish
check "links pinned" sh -c "ls '$MLX_PIN_DIR' | grep -q connect4"
wait_for "target learned" 5 grep -q "target learned provider=openai" "$R/closed1.log"
check "provider reachable through the fail-closed agent" hello
kill -KILL "$(bg_pid closed1)"
sleep 0.1
t0=$(date +%s%N)
out=$(client_curl -4 --max-time 3 "$url" 2>&1)
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "fail-closed: agent killed -> provider connection refused (curl exit 7)" 7 "$rc"
check "...at once (${ms} ms)" test "$ms" -lt 500
check "plain (non-provider) traffic still flows" client_curl -4 "https://$MLX_HOST_PLAIN/hello"

pins_before=$(ls "$MLX_PIN_DIR" | sort | tr '\n' ' ')
agent_start closed2 "$R/closed.conf" || integ_finish
pins_after=$(ls "$MLX_PIN_DIR" | sort | tr '\n' ' ')
check "a restarted agent replaced the old pins" test "$pins_before" != "$pins_after"
assert_eq "...and only one generation of pins remains" 9 "$(ls "$MLX_PIN_DIR" | wc -l)"
wait_for "restarted agent serves the provider again" 5 hello
agent_stop closed2
client_curl -4 --max-time 3 "$url" >/dev/null 2>&1
assert_eq "fail-closed: pins kept after a clean stop (refused)" 7 "$?"
out=$("$CTL" -c "$R/closed.conf" detach 2>&1)
assert_contains "modeluxctl detach" "$out" "detached"
check "after detach the provider is reached directly" hello
check_fails "pin dir removed" test -e "$MLX_PIN_DIR"
integ_finish

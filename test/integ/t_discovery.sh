#!/bin/bash
# Provider discovery: addresses are learned from the DNS answers the client really receives
# (NFQUEUE), including a wildcard provider reached through a CNAME, expire with their TTL, and
# are also learned by the agent's own resolution. SIGHUP reload applies a good file and keeps the
# running configuration on a bad one. Metrics and modelux-agent -n.
set -u -o pipefail
: "${MLX_DNS_TTL:=2}"
export MLX_DNS_TTL
source "$(dirname "$0")/lib.sh"
integ_setup
source "$(dirname "$0")/agent.sh"
R=$MLX_RUN

# --- learning from client DNS only (no own resolution) -------------------------------------------
mlx_agent_conf "$R/snoop.conf" "intercept = no" "resolve_interval_s = 0" "target_min_ttl_s = 0" \
	"metrics_addr = 127.0.0.1:9464"
sed -i '/^metrics_addr = off$/d' "$R/snoop.conf"
agent_start snoop "$R/snoop.conf" || integ_finish
check "the agent installed its NFQUEUE rule for DNS answers" \
	sh -c "ip netns exec '$CLIENT_NS' iptables -S INPUT | grep -q 'modelux-dns'"
pinned="--resolve $MLX_HOST_OPENAI:443:$MLX_ADDR_OPENAI"
# shellcheck disable=SC2086
check "before any DNS answer the provider address is not a target (direct)" client_curl $pinned "https://$MLX_HOST_OPENAI/hello"
assert_eq "...so no flow" 0 "$(flow_count snoop)"
check "client resolves $MLX_HOST_OPENAI" in_client getent ahosts "$MLX_HOST_OPENAI"
check "answer seen: target learned from DNS" grep -q "target learned provider=openai name=api.openai.com addr=$MLX_ADDR_OPENAI ttl=$MLX_DNS_TTL source=dns" "$R/snoop.log"
check "AAAA answer learned too" grep -q "addr=$MLX_ADDR_OPENAI6 ttl=$MLX_DNS_TTL source=dns" "$R/snoop.log"
# No sleep between the answer and the connect: the verdict waits for the map update.
out=$(in_client sh -c "getent ahosts $MLX_HOST_ANTHROPIC >/dev/null && curl -4 -sS --max-time 5 --cacert $MLX_TEST_CA https://$MLX_HOST_ANTHROPIC/hello" 2>&1)
assert_contains "connect right after the DNS answer" "$out" "hello sni=api.anthropic.com"
wait_for "...was redirected (no race with learning)" 3 flows_at_least snoop 1 "provider=anthropic"

check "client resolves the wildcard provider name through a CNAME" in_client getent ahosts "$MLX_HOST_AZURE"
check "CNAME chain target learned for azure-openai" grep -q "target learned provider=azure-openai name=$MLX_HOST_AZURE addr=$MLX_ADDR_AZURE" "$R/snoop.log"
check "azure request over the redirect" client_curl -4 "https://$MLX_HOST_AZURE/hello"
wait_for "...logged as provider azure-openai" 3 flows_at_least snoop 1 "provider=azure-openai" "sni=$MLX_HOST_AZURE"
check_fails "a non-provider name teaches nothing" grep -q "name=$MLX_HOST_PLAIN" "$R/snoop.log"

out=$(in_client curl -sS --max-time 3 http://127.0.0.1:9464/metrics 2>&1)
assert_contains "metrics: flows by kind" "$out" 'modelux_flows_total{kind="provider"}'
assert_match "metrics: DNS answers counted" "$out" "modelux_dns_answers_total [1-9]"
assert_match "metrics: kernel counters" "$out" 'modelux_bpf_events_total\{event="redirect4"\} [1-9]'

# TTL 2 s and no floor: the targets expire and the address is direct again.
wait_for "learned targets expire after their TTL" 6 grep -q "targets expired" "$R/snoop.log"
wait_for "status shows no target left" 6 status_is "$R/snoop.conf" targets.count 0
n=$(flow_count snoop)
# shellcheck disable=SC2086
check "expired address is reached directly" client_curl $pinned "https://$MLX_HOST_OPENAI/hello"
assert_eq "...without the agent" "$n" "$(flow_count snoop)"

# --- reload ----------------------------------------------------------------------------------------
cp "$R/snoop.conf" "$R/snoop.good"
printf '[provider plainco]\ndomains = %s\n' "$MLX_HOST_PLAIN" >>"$R/snoop.conf"
kill -HUP "$(bg_pid snoop)"
wait_for "SIGHUP reload applied" 5 grep -q "configuration reloaded" "$R/snoop.log"
check "client resolves the newly configured provider" in_client getent ahosts "$MLX_HOST_PLAIN"
wait_for "new provider learned after reload" 3 grep -q "target learned provider=plainco name=$MLX_HOST_PLAIN" "$R/snoop.log"
check "new provider's traffic redirected" client_curl -4 "https://$MLX_HOST_PLAIN/hello"
wait_for "...and logged" 3 flows_at_least snoop 1 "provider=plainco"

echo "resolve_interval_s = banana" >>"$R/snoop.conf"
out=$("$CTL" -s "$R/agent.sock" reload 2>&1)
rc=$?
assert_eq "modeluxctl reload of a bad file fails" 1 "$rc"
assert_match "...with the file, line and column" "$out" "snoop.conf:[0-9]+:[0-9]+: "
kill -HUP "$(bg_pid snoop)"
wait_for "bad SIGHUP reload rejected, old configuration kept" 5 grep -q "reload rejected, previous configuration stays in force" "$R/snoop.log"
check "agent still serves the reloaded provider" client_curl -4 "https://$MLX_HOST_PLAIN/hello"
check "agent process still alive" kill -0 "$(bg_pid snoop)"
agent_stop snoop

# --- the agent's own resolution ------------------------------------------------------------------
mlx_agent_conf "$R/resolve.conf" "intercept = no" "dns_snoop = no" "resolve_interval_s = 1"
agent_start resolve "$R/resolve.conf" || integ_finish
wait_for "own resolution learns the provider with no client DNS" 5 \
	grep -q "target learned provider=openai name=api.openai.com addr=$MLX_ADDR_OPENAI ttl=$MLX_DNS_TTL source=resolver" "$R/resolve.log"
check "no NFQUEUE rule when snooping is off" sh -c "! ip netns exec '$CLIENT_NS' iptables -S INPUT | grep -q NFQUEUE"
# shellcheck disable=SC2086
check "pinned-address client redirected thanks to own resolution" client_curl $pinned "https://$MLX_HOST_OPENAI/hello"
wait_for "...logged" 3 flows_at_least resolve 1 "provider=openai"
agent_stop resolve
check "iptables NFQUEUE rule removed at clean stop of the earlier agent" \
	sh -c "! ip netns exec '$CLIENT_NS' iptables -S INPUT | grep -q 'modelux-dns'"

# --- configuration check ---------------------------------------------------------------------------
out=$("$AGENT" -n -c "$R/snoop.good" 2>&1)
assert_eq "modelux-agent -n on a good file" "configuration OK" "$out"
out=$("$AGENT" -n -c "$R/snoop.conf" 2>&1)
assert_eq "modelux-agent -n on a bad file exits 1" 1 "$?"
assert_match "...and names file, line and column" "$out" "^$R/snoop.conf:[0-9]+:[0-9]+: .*resolve_interval_s"
integ_finish

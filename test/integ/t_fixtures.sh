#!/bin/bash
# shellcheck disable=SC2016
# Self-test of the integration fixture (lib.sh) with direct traffic only: no agent, no BPF.
# Name resolution, TLS with h2 and http/1.1 from curl, nghttp, python requests and httpx, the
# provider server's routes, UDP and TCP echo, the runners' pid/cgroup/netns/user properties,
# and that tear-down (also on SIGTERM) leaves nothing behind.
set -u -o pipefail

# A TTL other than lib.sh's default, to see that MLX_DNS_TTL reaches dnsmasq.
: "${MLX_DNS_TTL:=17}"
export MLX_DNS_TTL
# shellcheck source=test/integ/lib.sh
source "$(dirname "$0")/lib.sh"
integ_setup

R=$MLX_RUN

# --- DNS ---------------------------------------------------------------------------------------
out=$(in_client getent ahosts "$MLX_HOST_OPENAI" 2>&1)
assert_contains "client resolves $MLX_HOST_OPENAI to $MLX_ADDR_OPENAI" "$out" "$MLX_ADDR_OPENAI "
assert_contains "client resolves $MLX_HOST_OPENAI to $MLX_ADDR_OPENAI6" "$out" "$MLX_ADDR_OPENAI6 "
out=$(in_client getent ahosts "$MLX_HOST_AZURE" 2>&1)
assert_contains "CNAME $MLX_HOST_AZURE resolves to $MLX_ADDR_AZURE" "$out" "$MLX_ADDR_AZURE "
assert_contains "CNAME target is the canonical name" "$out" "$MLX_HOST_AZURE_TARGET"
out=$(in_client getent ahosts "$MLX_HOST_CDN" 2>&1)
assert_contains "$MLX_HOST_CDN shares $MLX_ADDR_OPENAI" "$out" "$MLX_ADDR_OPENAI "
out=$(in_client getent ahosts "$MLX_HOST_ANTHROPIC" 2>&1)
assert_contains "$MLX_HOST_ANTHROPIC resolves to $MLX_ADDR_ANTHROPIC" "$out" "$MLX_ADDR_ANTHROPIC "
out=$(in_client getent ahosts "$MLX_HOST_PLAIN" 2>&1)
assert_contains "$MLX_HOST_PLAIN resolves to $MLX_ADDR_PLAIN" "$out" "$MLX_ADDR_PLAIN "
check_fails "unknown names do not resolve" in_client getent ahosts nothing.example.invalid
assert_contains "client resolv.conf points at the test DNS" "$(in_client cat /etc/resolv.conf)" \
	"nameserver $MLX_DNS_ADDR"
check_fails "client netns has no route off the test network" ip -n "$CLIENT_NS" route get 192.0.2.1

# Raw DNS query: id, flags, counts, then the answer records' type, TTL and data.
cat >"$R/dnsq.py" <<'EOF'
import random, socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], {"A": 1, "AAAA": 28}[sys.argv[3]]
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
r = s.recv(4096)
rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
assert rid == qid, "wrong id"
def skip(o):
    while True:
        n = r[o]
        if n == 0:
            return o + 1
        if n & 0xC0 == 0xC0:
            return o + 2
        o += 1 + n
o = 12
for _ in range(qd):
    o = skip(o) + 4
print("rcode", flags & 0xF, "answers", an)
for _ in range(an):
    o = skip(o)
    t, c, ttl, rdlen = struct.unpack(">HHIH", r[o:o + 10])
    o += 10
    d = r[o:o + rdlen]
    o += rdlen
    kind = {1: "A", 5: "CNAME", 28: "AAAA"}.get(t, str(t))
    data = socket.inet_ntop(socket.AF_INET if t == 1 else socket.AF_INET6, d) if t in (1, 28) else "-"
    print(kind, ttl, data)
EOF
out=$(in_client "$MLX_PY" "$R/dnsq.py" "$MLX_DNS_ADDR" "$MLX_HOST_OPENAI" A 2>&1)
assert_contains "raw A query answers $MLX_ADDR_OPENAI with TTL $MLX_DNS_TTL" "$out" \
	"A $MLX_DNS_TTL $MLX_ADDR_OPENAI"
out=$(in_client "$MLX_PY" "$R/dnsq.py" "$MLX_DNS_ADDR" "$MLX_HOST_OPENAI" AAAA 2>&1)
assert_contains "raw AAAA query answers $MLX_ADDR_OPENAI6 with TTL $MLX_DNS_TTL" "$out" \
	"AAAA $MLX_DNS_TTL $MLX_ADDR_OPENAI6"
out=$(in_client "$MLX_PY" "$R/dnsq.py" "$MLX_DNS_ADDR" "$MLX_HOST_AZURE" A 2>&1)
assert_contains "raw query: CNAME with TTL $MLX_DNS_TTL" "$out" "CNAME $MLX_DNS_TTL -"
assert_contains "raw query: CNAME then A $MLX_ADDR_AZURE" "$out" "A $MLX_DNS_TTL $MLX_ADDR_AZURE"
out=$(in_client "$MLX_PY" "$R/dnsq.py" "$MLX_DNS_ADDR" "$MLX_HOST_ANTHROPIC" AAAA 2>&1)
assert_contains "AAAA of a v4-only name is an empty NOERROR" "$out" "rcode 0 answers 0"
assert_contains "dnsmasq logs the queries" "$MLX_DNS_LOG" "query[A] $MLX_HOST_OPENAI"

# --- HTTPS with curl and nghttp ------------------------------------------------------------------
# api.openai.com has an A and an AAAA record: clients that prefer IPv6 (glibc's default order
# puts the ULA fd00::/8 before IPv4) or race both (curl) may use either, hence -4 / PEER_RE.
PEER_RE="peer=($MLX_ADDR_CLIENT|$MLX_ADDR_CLIENT6)\$"
out=$(client_curl -4 --http1.1 "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_eq "curl --http1.1 /hello" \
	"hello sni=$MLX_HOST_OPENAI alpn=http/1.1 peer=$MLX_ADDR_CLIENT" "$out"
out=$(client_curl -4 --http2 "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_eq "curl --http2 /hello" "hello sni=$MLX_HOST_OPENAI alpn=h2 peer=$MLX_ADDR_CLIENT" "$out"
out=$(client_curl -6 --http2 "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_eq "curl -6 /hello over IPv6" "hello sni=$MLX_HOST_OPENAI alpn=h2 peer=$MLX_ADDR_CLIENT6" "$out"
out=$(client_curl "https://$MLX_HOST_ANTHROPIC/hello" 2>&1)
assert_eq "curl $MLX_HOST_ANTHROPIC" "hello sni=$MLX_HOST_ANTHROPIC alpn=h2 peer=$MLX_ADDR_CLIENT" "$out"
out=$(client_curl "https://$MLX_HOST_AZURE/hello" 2>&1)
assert_eq "curl via CNAME keeps the SNI" "hello sni=$MLX_HOST_AZURE alpn=h2 peer=$MLX_ADDR_CLIENT" "$out"
out=$(client_curl "https://$MLX_ADDR_PLAIN/hello" 2>&1)
assert_eq "curl to an IP literal: no SNI, IP SAN verifies" \
	"hello sni=none alpn=h2 peer=$MLX_ADDR_CLIENT" "$out"
out=$(in_client curl -sS --max-time 10 "http://$MLX_HOST_PLAIN/hello" 2>&1)
assert_eq "plain HTTP on :80" "hello sni=none alpn=none peer=$MLX_ADDR_CLIENT" "$out"
check_fails "curl without the test CA refuses the certificate" \
	in_client curl -sS --max-time 10 "https://$MLX_HOST_OPENAI/hello"
out=$(in_client nghttp -n -s "https://$MLX_HOST_OPENAI/hello" 2>&1)
check "nghttp GET /hello over h2" in_client nghttp "https://$MLX_HOST_OPENAI/hello"
assert_contains "nghttp reports its h2 stream" "$out" "/hello"
out=$(in_client nghttp "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_contains "nghttp body says h2" "$out" "alpn=h2"

# --- Python clients --------------------------------------------------------------------------
out=$(REQUESTS_CA_BUNDLE=$MLX_TEST_CA in_client "$MLX_PY" -c '
import requests, sys
r = requests.get(sys.argv[1], timeout=10)
r.raise_for_status()
print(r.text, end="")' "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_match "python requests /hello" "$out" "^hello sni=$MLX_HOST_OPENAI alpn=http/1.1 $PEER_RE"

if in_client "$MLX_PY" -c 'import h2' 2>/dev/null; then want=h2; else want=http/1.1; fi
note "httpx: h2 module $([ $want = h2 ] && echo present || echo absent), expecting $want"
out=$(SSL_CERT_FILE=$MLX_TEST_CA in_client "$MLX_PY" -c '
import sys, httpx
try:
    import h2  # noqa: F401
    http2 = True
except ImportError:
    http2 = False
with httpx.Client(http2=http2, verify=sys.argv[2], timeout=10) as c:
    r = c.get(sys.argv[1])
    r.raise_for_status()
    print(r.text, end="")' "https://$MLX_HOST_OPENAI/hello" "$MLX_TEST_CA" 2>&1)
assert_match "python httpx /hello" "$out" "^hello sni=$MLX_HOST_OPENAI alpn=$want $PEER_RE"

out=$(NODE_EXTRA_CA_CERTS=$MLX_TEST_CA in_client node -e '
require("https").get(process.argv[1], (r) => { r.pipe(process.stdout); })
	.on("error", (e) => { console.error(e.message); process.exit(1); });' \
	"https://$MLX_HOST_ANTHROPIC/hello" 2>&1)
# Node's https client offers no ALPN at all: the server falls back to http/1.1.
assert_eq "node https with NODE_EXTRA_CA_CERTS (no ALPN offered)" \
	"hello sni=$MLX_HOST_ANTHROPIC alpn=none peer=$MLX_ADDR_CLIENT" "$out"

# --- Provider routes ---------------------------------------------------------------------------
n=3000001
want=$(mlx_bytes_sha256 $n seed1)
got=$(client_curl "https://$MLX_HOST_OPENAI/bytes?n=$n&seed=seed1" | sha256sum | cut -d' ' -f1)
assert_eq "/bytes (h2) matches the documented generator" "$want" "$got"
got=$(client_curl --http1.1 "https://$MLX_HOST_OPENAI/bytes?n=$n&seed=seed1" | sha256sum | cut -d' ' -f1)
assert_eq "/bytes (http/1.1) matches" "$want" "$got"
got=$(client_curl "https://$MLX_HOST_OPENAI/bytes-sha256?n=$n&seed=seed1")
assert_eq "/bytes-sha256 matches" "$want" "$got"
got=$(client_curl "https://$MLX_HOST_OPENAI/bytes?n=0" | wc -c)
assert_eq "/bytes?n=0 is empty" 0 "$got"

head -c 5M /dev/urandom >"$R/rand5m"
for v in --http2 --http1.1; do
	rm -f "$R/echo.out"
	client_curl "$v" --data-binary "@$R/rand5m" -o "$R/echo.out" "https://$MLX_HOST_OPENAI/echo"
	check "POST /echo of 5 MB ($v) is byte-identical" cmp "$R/rand5m" "$R/echo.out"
done

start=${EPOCHREALTIME/./}
out=$(client_curl -N "https://$MLX_HOST_OPENAI/slow?n=3&ms=100")
ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
assert_eq "/slow sends its chunks" "$(printf 'chunk 0\nchunk 1\nchunk 2')" "$out"
check "/slow takes about n*ms ($ms ms)" test "$ms" -ge 200 -a "$ms" -lt 3000
out=$(client_curl -H "x-mlx-test: 42" "https://$MLX_HOST_OPENAI/headers" 2>&1)
assert_contains "/headers returns the request headers" "$out" '"x-mlx-test":"42"'
got=$(client_curl -o /dev/null -w '%{http_code}' "https://$MLX_HOST_OPENAI/nope")
assert_eq "unknown path is a 404" 404 "$got"

wait_for "server log has a JSON line per request" 3 \
	grep -q '"path":"/hello","status":200,"remote":"'"$MLX_ADDR_CLIENT"'"' "$MLX_SERVER_LOG"
assert_contains "server log records SNI and ALPN" "$MLX_SERVER_LOG" \
	'"proto":"https","servername":"'"$MLX_HOST_OPENAI"'","alpn":"h2","method":"POST","path":"/echo"'
assert_contains "server log counts echo bytes" "$MLX_SERVER_LOG" '"bytes_in":5242880,"bytes_out":5242880'

# --- UDP and TCP echo --------------------------------------------------------------------------
cat >"$R/udpecho.py" <<'EOF'
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
msg = os.urandom(1200)
s.sendto(msg, (host, port))
data, peer = s.recvfrom(65535)
assert data == msg, "echo differs"
print("ok from", peer[0])
EOF
for a in "$MLX_ADDR_OPENAI" "$MLX_ADDR_OPENAI6" "$MLX_ADDR_PLAIN"; do
	check "UDP echo on $a:443" in_client "$MLX_PY" "$R/udpecho.py" "$a" 443
done

cat >"$R/tcpecho.py" <<'EOF'
import os, socket, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
msg = os.urandom(1 << 20)
s = socket.create_connection((host, port), timeout=10)
def send():
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
t.join()
assert bytes(got) == msg, "echo differs: %d bytes back" % len(got)
print("ok", len(got))
EOF
check "TCP echo on $MLX_HOST_PLAIN:7 (1 MiB, byte-identical)" \
	in_client "$MLX_PY" "$R/tcpecho.py" "$MLX_HOST_PLAIN" 7

# --- Runners -----------------------------------------------------------------------------------
netns_ino=$(stat -L -c %i "/run/netns/$CLIENT_NS")

in_client sh -c 'echo $$ >"$1"; exec sleep 30' sh "$R/pid.client" &
p=$!
wait_for "in_client job wrote its pid" 5 test -s "$R/pid.client"
assert_eq "in_client CMD &: \$! is CMD's own pid" "$p" "$(cat "$R/pid.client")"
assert_contains "in_client process is in the client cgroup" "$(cat /proc/$p/cgroup)" \
	"0::$MLX_CG_REL/client"
assert_eq "in_client process is in the client netns" "$netns_ino" "$(stat -L -c %i /proc/$p/ns/net)"
kill "$p"
wait "$p"
assert_eq "in_client job killed by SIGTERM" 143 "$?"

in_agent_cg sh -c 'echo $$ >"$1"; exec sleep 30' sh "$R/pid.agent" &
p=$!
wait_for "in_agent_cg job wrote its pid" 5 test -s "$R/pid.agent"
assert_eq "in_agent_cg CMD &: \$! is CMD's own pid" "$p" "$(cat "$R/pid.agent")"
assert_contains "in_agent_cg process is in the agent cgroup" "$(cat /proc/$p/cgroup)" \
	"0::$MLX_CG_REL/agent"
assert_eq "in_agent_cg process is in the client netns" "$netns_ino" "$(stat -L -c %i /proc/$p/ns/net)"
kill "$p"
wait "$p"

out=$(in_client grep '^0::' /proc/self/cgroup)
assert_eq "in_client in \$(...): client cgroup" "0::$MLX_CG_REL/client" "$out"
check "in_agent_cg sees the cgroup2 tree" in_agent_cg test -d "$MLX_CG_ROOT/agent"
check "in_agent_cg finds itself in the agent cgroup's cgroup.procs" \
	in_agent_cg sh -c 'grep -qx "$$" "$1/cgroup.procs"' sh "$MLX_CG_ROOT/agent"
assert_contains "in_agent_cg has the client address" "$(in_agent_cg ip -o addr show)" \
	"inet $MLX_ADDR_CLIENT/24"
assert_contains "in_provider has the provider addresses" "$(in_provider ip -o addr show)" \
	"inet $MLX_ADDR_PLAIN/24"
in_client sh -c 'exit 7'
assert_eq "in_client passes the exit status through" 7 "$?"

start_bg sleeper in_client sh -c 'echo $$; exec sleep 30'
wait_for "start_bg job started" 5 test -s "$R/sleeper.log"
assert_eq "start_bg NAME in_client CMD: recorded pid is CMD's" "$(bg_pid sleeper)" "$(cat "$R/sleeper.log")"
pg=$(ps -o pgid= -p "$(bg_pid sleeper)" | tr -d ' ')
assert_eq "start_bg job leads its own process group" "$(bg_pid sleeper)" "$pg"
stop_bg sleeper
assert_eq "stop_bg returns the job's status" 143 "$?"

out=$(MLX_AS_USER=nobody in_client id -u)
assert_eq "MLX_AS_USER=nobody runs as uid 65534" 65534 "$out"
MLX_AS_USER=nobody in_client sh -c 'echo $$; exec sleep 30' >"$R/pid.nobody" &
p=$!
wait_for "MLX_AS_USER job wrote its pid" 5 test -s "$R/pid.nobody"
assert_eq "MLX_AS_USER CMD &: \$! is CMD's own pid" "$p" "$(cat "$R/pid.nobody")"
assert_eq "MLX_AS_USER job's uid" 65534 "$(stat -c %u /proc/$p)"
kill "$p"
wait "$p"
out=$(MLX_AS_USER=nobody client_curl "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_match "nobody can use the test CA" "$out" "^hello sni=$MLX_HOST_OPENAI alpn=h2 $PEER_RE"

# --- Tear-down ---------------------------------------------------------------------------------
# A second fixture in a child script, killed with SIGTERM mid-way, must clean up after itself.
cat >"$R/child.sh" <<EOF
source "$MLX_LIB_DIR/lib.sh"
integ_setup
echo "ID \$MLX_ID \$MLX_RUN \$(bg_pid provider) \$(bg_pid dnsmasq)"
in_client sleep 60 &
in_provider sleep 60 &
wait
EOF
(MLX_RESULTS='' MLX_KEEP='' exec bash "$R/child.sh" >"$R/child.out" 2>&1) &
child=$!
if wait_for "child fixture set up" 10 grep -q '^ID ' "$R/child.out"; then
	read -r _ cid crun cpids < <(grep '^ID ' "$R/child.out")
	sleep 0.2 # let the two sleeps start
	kill -TERM "$child"
	wait "$child"
	assert_eq "child killed by SIGTERM exits 1 (failure recorded)" 1 "$?"
	check "child's netns are gone" sh -c "! ls /run/netns | grep -q '^$cid-'"
	check "child's cgroup is gone" test ! -e "$MLX_CG2/modelux-test-${cid#mlx}"
	check "child's /etc/netns entry is gone" test ! -e "/etc/netns/$cid-client"
	check "child's run dir is gone" test ! -e "$crun"
	# shellcheck disable=SC2086
	check_fails "child's server processes are gone" kill -0 $cpids
	check_fails "no process of the child remains" pgrep -f "$crun"
else
	kill -TERM "$child" 2>/dev/null
	wait "$child"
	cat "$R/child.out"
fi

# Our own tear-down, checked from here; integ_finish then finds nothing left to do.
pids="$(bg_pid provider) $(bg_pid dnsmasq)"
run=$MLX_RUN
integ_teardown
integ_teardown
check "netns deleted" sh -c "! ip netns list | grep -q '^$MLX_ID-'"
check "cgroups removed" test ! -e "$MLX_CG_ROOT"
check "/etc/netns/$CLIENT_NS removed" test ! -e "/etc/netns/$CLIENT_NS"
if [ "${MLX_KEEP:-}" != always ]; then
	check "run dir removed" test ! -e "$run"
fi
# shellcheck disable=SC2086
check_fails "server processes gone" kill -0 $pids
integ_finish

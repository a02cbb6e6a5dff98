#!/bin/bash
# The data path through the real BPF redirect and the real agent: curl (h1, h2), nghttp and
# Python clients reach the provider through the agent with the original destination, process
# and user recovered; applications still see the real peer; IPv6 and v4-mapped sockets; shared
# CDN addresses with a non-provider SNI and non-target traffic pass byte-identical; QUIC to a
# provider fails at once; processes outside the scope are never touched.
set -u -o pipefail
source "$(dirname "$0")/lib.sh"
integ_setup
source "$(dirname "$0")/agent.sh"
R=$MLX_RUN

# Scope = the whole test cgroup: the agent itself is inside it, so its upstream connects must be
# skipped by their mark and its SO_ORIGINAL_DST getsockopt is answered by the hook.
mlx_agent_conf "$R/agent.conf" "intercept = no" "target_ports = 443, 80"
sed -i "s|^scope = .*|scope = $MLX_CG_REL|" "$R/agent.conf"
agent_start agent "$R/agent.conf" || integ_finish
wait_for "agent resolved $MLX_HOST_OPENAI itself" 5 grep -q "target learned provider=openai name=api.openai.com" "$R/agent.log"

# --- curl HTTP/1.1: attribution and original destination ------------------------------------
pid=$(client_bg_pid "$R/c1.out" curl -4 -sS --max-time 10 --cacert "$MLX_TEST_CA" --http1.1 "https://$MLX_HOST_OPENAI/hello")
assert_eq "curl --http1.1 exit status" 0 "$(cat "$R/c1.out.rc")"
assert_contains "curl --http1.1 got the provider's answer over http/1.1" "$R/c1.out" "alpn=http/1.1"
line=$(flow_of_pid agent "$pid")
assert_contains "h1 flow logged for curl's pid $pid" "$line" "pid=$pid "
assert_contains "h1 flow: provider openai, spliced (interception off)" "$line" "kind=provider provider=openai tls=splice sni=api.openai.com"
assert_contains "h1 flow: original destination" "$line" "dst=$MLX_ADDR_OPENAI:443"
assert_contains "h1 flow: executable" "$line" "exe=$(readlink -f "$(command -v curl)")"
assert_contains "h1 flow: user" "$line" "uid=0 user=root"
assert_match "h1 flow: bytes both ways" "$line" "bytes_up=[1-9][0-9]* bytes_down=[1-9][0-9]*"
# curl may close with a reset when TLS records (tickets, close_notify) are still unread; either
# way the end is the client's, never an agent or upstream error.
assert_match "h1 flow ended by the client, not by an error" "$line" "end=(eof|client_reset)$"
cg_id=$(stat -c %i "$MLX_CG_CLIENT")
assert_contains "h1 flow: client cgroup id" "$line" "cgroup=$cg_id "

# --- curl HTTP/2, nghttp, Python ---------------------------------------------------------------
pid=$(client_bg_pid "$R/c2.out" curl -sS --max-time 10 --cacert "$MLX_TEST_CA" --http2 "https://$MLX_HOST_OPENAI/hello")
assert_contains "curl --http2 negotiated h2 end to end" "$R/c2.out" "alpn=h2"
assert_contains "h2 flow logged with ALPN offer" "$(flow_of_pid agent "$pid")" "alpn=h2,http/1.1"

pid=$(client_bg_pid "$R/ng.out" nghttp --no-verify-peer -v "https://$MLX_HOST_OPENAI/hello")
assert_contains "nghttp over the redirect" "$R/ng.out" "alpn=h2"
assert_contains "nghttp flow attributed" "$(flow_of_pid agent "$pid")" "comm=nghttp"

pid=$(MLX_AS_USER=nobody client_bg_pid "$R/py.out" "$MLX_PY" -c '
import requests, sys
r = requests.get("https://api.openai.com/hello", verify=sys.argv[1], timeout=10)
print(r.status_code, r.text)' "$MLX_TEST_CA")
assert_contains "python requests as nobody" "$R/py.out" "200 hello sni=api.openai.com"
line=$(flow_of_pid agent "$pid")
assert_contains "python flow: user nobody" "$line" "uid=65534 user=nobody"
assert_contains "python flow: interpreter path" "$line" "exe=$(readlink -f "$MLX_PY")"

pid=$(client_bg_pid "$R/httpx.out" "$MLX_PY" -c '
import httpx, sys
r = httpx.get("https://api.openai.com/hello", verify=sys.argv[1], timeout=10)
print(r.status_code, r.text)' "$MLX_TEST_CA")
assert_contains "python httpx" "$R/httpx.out" "200 hello"
check "httpx flow logged" flow_of_pid agent "$pid"

# --- what the application sees ------------------------------------------------------------------
cat >"$R/peer.py" <<'PYEOF'
import socket, ssl, sys
ca, host, addr, fam = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.connect((addr, 443))
print("peer", s.getpeername()[0], s.getpeername()[1])
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(s, server_hostname=host)
t.sendall(b"GET /hello HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = t.recv(4096)
    if not b:
        break
    data += b
print(data.split(b"\r\n\r\n", 1)[1].decode().strip())
PYEOF
pid=$(client_bg_pid "$R/peer4.out" "$MLX_PY" "$R/peer.py" "$MLX_TEST_CA" "$MLX_HOST_OPENAI" "$MLX_ADDR_OPENAI" 4)
assert_contains "getpeername shows the provider, not the agent" "$R/peer4.out" "peer $MLX_ADDR_OPENAI 443"
check "...and the connection did go through the agent" flow_of_pid agent "$pid"

pid=$(client_bg_pid "$R/peerm.out" "$MLX_PY" "$R/peer.py" "$MLX_TEST_CA" "$MLX_HOST_OPENAI" "::ffff:$MLX_ADDR_OPENAI" 6)
assert_contains "v4-mapped socket: peer is the mapped provider address" "$R/peerm.out" "peer ::ffff:$MLX_ADDR_OPENAI 443"
assert_contains "v4-mapped socket: request served" "$R/peerm.out" "hello sni=api.openai.com"
assert_contains "v4-mapped flow: original destination" "$(flow_of_pid agent "$pid")" "dst=$MLX_ADDR_OPENAI:443"

pid=$(client_bg_pid "$R/c6.out" curl -6 -sS --max-time 10 --cacert "$MLX_TEST_CA" "https://$MLX_HOST_OPENAI/hello")
assert_contains "curl -6 to the provider's IPv6 address" "$R/c6.out" "hello sni=api.openai.com"
assert_contains "IPv6 flow: original destination" "$(flow_of_pid agent "$pid")" "dst=[$MLX_ADDR_OPENAI6]:443"

n=$(status_field "$R/agent.conf" flows.origdst_sockopt)
check "original destination came from the SO_ORIGINAL_DST hook ($n times)" test "$n" -ge 5
check "the agent's own upstream connects were skipped by their mark" \
	test "$(status_field "$R/agent.conf" bpf.skip_mark)" -ge 5

# --- bytes untouched -------------------------------------------------------------------------------
want=$(mlx_bytes_sha256 3000000 7)
got=$(client_curl --http2 "https://$MLX_HOST_OPENAI/bytes?n=3000000&seed=7" | sha256sum | cut -d' ' -f1)
assert_eq "3 MB download through the agent is byte-identical" "$want" "$got"
head -c 20000000 /dev/urandom >"$R/up.bin"
got=$(client_curl --http1.1 --data-binary "@$R/up.bin" "https://$MLX_HOST_OPENAI/echo" | sha256sum | cut -d' ' -f1)
assert_eq "20 MB upload echoed through the agent is byte-identical" "$(sha256sum <"$R/up.bin" | cut -d' ' -f1)" "$got"

before=$(flow_count agent "sni=cdn.example.net")
want=$(mlx_bytes_sha256 2000000 3)
got=$(client_curl "https://$MLX_HOST_CDN/bytes?n=2000000&seed=3" | sha256sum | cut -d' ' -f1)
assert_eq "non-provider SNI on a provider IP: bytes identical" "$want" "$got"
wait_for "non-provider SNI spliced and counted as other_sni" 5 \
	flows_at_least agent $((before + 1)) "kind=other_sni" "sni=cdn.example.net"

got=$(client_curl "https://$MLX_HOST_PLAIN/bytes?n=2000000&seed=3" | sha256sum | cut -d' ' -f1)
assert_eq "non-target host: bytes identical" "$want" "$got"
assert_eq "non-target host never reached the agent" 0 "$(flow_count agent "dst=$MLX_ADDR_PLAIN:")"

out=$(client_curl -4 "http://$MLX_HOST_OPENAI/hello")
assert_contains "plain HTTP on a target port is passed through" "$out" "hello"
wait_for "...and logged as not_tls" 5 flows_at_least agent 1 "kind=not_tls" "dst=$MLX_ADDR_OPENAI:80"

# Garbage on the wire: a fake TLS record the parser refuses. Spliced as-is, logged malformed,
# and the agent keeps serving everyone else.
in_client "$MLX_PY" -c '
import socket
s = socket.create_connection(("10.201.0.2", 443), timeout=5)
s.sendall(bytes([0x16, 3, 1, 0, 8, 1, 0, 0, 200]) + b"\xff" * 8)
try:
    s.recv(100)
except OSError:
    pass' >/dev/null 2>&1
wait_for "malformed ClientHello logged as malformed" 5 flows_at_least agent 1 "kind=malformed"
check "agent still serves after garbage" client_curl "https://$MLX_HOST_OPENAI/hello"

# --- QUIC -------------------------------------------------------------------------------------------
out=$(in_client "$MLX_PY" -c '
import errno, socket, time
def attempt(fam, addr, connect):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    t = time.monotonic()
    try:
        if connect:
            s.connect((addr, 443)); s.send(b"x")
        else:
            s.sendto(b"x", (addr, 443))
        s.settimeout(2)
        return "sent:" + s.recv(10).decode()
    except OSError as e:
        return "%s:%.1fms" % (errno.errorcode.get(e.errno, e.errno), (time.monotonic() - t) * 1000)
print("v4send", attempt(socket.AF_INET, "10.201.0.2", False))
print("v4conn", attempt(socket.AF_INET, "10.201.0.2", True))
print("v6send", attempt(socket.AF_INET6, "fd00:201::2", False))
print("plain", attempt(socket.AF_INET, "10.201.0.9", False))
' 2>&1)
note "$out"
assert_match "UDP/443 sendto a provider refused at once" "$out" "v4send EPERM:[0-9]\.[0-9]ms"
assert_match "UDP/443 connect to a provider refused at once" "$out" "v4conn EPERM:[0-9]\.[0-9]ms"
assert_match "UDP/443 to a provider over IPv6 refused at once" "$out" "v6send EPERM:[0-9]\.[0-9]ms"
assert_contains "UDP/443 to a non-provider still works" "$out" "plain sent:x"

# --- scope: the host's own processes are never captured ------------------------------------------
before=$(flow_count agent)
out=$(nsenter --net="/run/netns/$CLIENT_NS" curl -sS --max-time 10 --cacert "$MLX_TEST_CA" \
	--resolve "$MLX_HOST_OPENAI:443:$MLX_ADDR_OPENAI" "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_contains "process outside the scope cgroup reaches the provider" "$out" "hello"
sleep 0.3
assert_eq "...directly, without the agent" "$before" "$(flow_count agent)"

# --- status --------------------------------------------------------------------------------------------
out=$("$CTL" -c "$R/agent.conf" status 2>&1)
assert_contains "modeluxctl status: attached" "$out" "attached to $MLX_CG_ROOT"
assert_match "modeluxctl status: learned target listed" "$out" "$MLX_ADDR_OPENAI +openai +api.openai.com"
assert_contains "modeluxctl status: recent flows" "$out" "api.openai.com"

check "programs attached while the agent runs" \
	sh -c "bpftool cgroup show '$MLX_CG_ROOT' | grep -q connect4"
agent_stop agent
check_fails "no programs left on the cgroup after a clean stop" \
	sh -c "bpftool cgroup show '$MLX_CG_ROOT' | grep -q connect4"
integ_finish

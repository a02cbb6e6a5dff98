#!/bin/bash
# TLS interception through the real BPF redirect: the client's TLS is terminated with a leaf
# minted from the corporate CA for its SNI, the provider is reached over verified TLS, and
# HTTP/1.1 and HTTP/2 are proxied with streaming intact over pooled provider connections (HTTP/2
# to the provider by default, HTTP/1.1 when configured). A provider with a bad certificate is
# refused and the client told why; a client that refuses our certificate is spliced on its next
# attempt.
set -u -o pipefail
source "$(dirname "$0")/lib.sh"
integ_setup
source "$(dirname "$0")/agent.sh"
R=$MLX_RUN

make_corp_ca "$R/corp" || not_ok "corporate CA"
CLIENTS=$R/corp/clients.pem
mlx_agent_conf "$R/agent.conf" "ca_cert = $R/corp/ca.crt" "ca_key = $R/corp/ca.key" \
	"upstream_ca_file = $MLX_TEST_CA" "target_ports = 443, 8443"
agent_start agent "$R/agent.conf" || integ_finish
wait_for "target learned" 5 grep -q "target learned provider=openai" "$R/agent.log"
icurl() { in_client curl -sS --max-time 20 --cacert "$CLIENTS" "$@"; }
h2c() { in_client node "$MLX_LIB_DIR/tools/h2client.js" --ca "$CLIENTS" --origin "https://$MLX_HOST_OPENAI" "$@"; }
jq_py() { "$MLX_PY" -c "import json,sys; d=json.loads(sys.stdin.read()); print($1)"; }
gaps_ok() {	# <json with "times">: yes when 5 chunks arrived with 200..450 ms gaps
	"$MLX_PY" -c '
import json, sys
t = json.loads(sys.argv[1])["times"]
g = [b - a for a, b in zip(t, t[1:])]
print("yes" if len(t) == 5 and all(200 <= x <= 450 for x in g) else "no %s" % t)' "$1" 2>&1
}

# --- the leaf the client sees ---------------------------------------------------------------------
in_client sh -c "openssl s_client -connect $MLX_ADDR_OPENAI:443 -servername $MLX_HOST_OPENAI -CAfile $CLIENTS </dev/null 2>/dev/null | openssl x509 -noout -issuer -ext subjectAltName" >"$R/leaf.txt"
assert_contains "leaf issued by the corporate CA" "$R/leaf.txt" "modelux integ corporate CA"
assert_contains "leaf SAN is the SNI" "$R/leaf.txt" "DNS:$MLX_HOST_OPENAI"
out=$(in_client sh -c "openssl s_client -connect $MLX_ADDR_OPENAI:443 -servername $MLX_HOST_OPENAI -verify_hostname $MLX_HOST_OPENAI -CAfile $R/corp/ca.crt </dev/null 2>&1")
assert_contains "leaf verifies against the corporate CA with the hostname" "$out" "Verify return code: 0 (ok)"
check_fails "CA private key never in the agent's log" grep -q "PRIVATE KEY" "$R/agent.log"

# --- clients --------------------------------------------------------------------------------------
pid=$(client_bg_pid "$R/h1.out" curl -4 -sS --max-time 10 --cacert "$CLIENTS" --http1.1 "https://$MLX_HOST_OPENAI/hello")
assert_contains "curl --http1.1 through interception (HTTP/2 to the provider)" "$R/h1.out" "hello sni=api.openai.com alpn=h2"
line=$(flow_of_pid agent "$pid")
assert_contains "flow marked intercepted" "$line" "tls=intercepted"
assert_contains "flow attributed" "$line" "exe=$(readlink -f "$(command -v curl)")"
wait_for "request logged with method, path, status and provider protocol" 3 grep -qE "http id=[0-9]+\.1 proto=http/1.1 method=GET path=/hello status=200 .* up=h2" "$R/agent.log"

pid=$(client_bg_pid "$R/h2.out" curl -4 -sS --max-time 10 --cacert "$CLIENTS" --http2 "https://$MLX_HOST_OPENAI/hello")
assert_contains "curl --http2 client served through interception" "$R/h2.out" "hello sni=api.openai.com alpn=h2"
fid=$(flow_of_pid agent "$pid" | sed -n 's/.*flow id=\([0-9]*\) .*/\1/p')
wait_for "...spoken as HTTP/2 on the client side (ALPN h2)" 3 grep -qE "http id=$fid\.1 proto=h2 method=GET path=/hello status=200 .* up=h2" "$R/agent.log"
in_client nghttp -n -m 20 "https://$MLX_HOST_OPENAI/hello" >"$R/nghttp.out" 2>&1
assert_eq "nghttp: 20 requests on one HTTP/2 connection" 0 "$?"
wait_for "...each logged as an h2 exchange" 3 sh -c "[ \$(grep -cE 'http id=[0-9]+\.20 proto=h2 method=GET path=/hello status=200' '$R/agent.log') -ge 1 ]"
out=$(h2c many /hello 50)
assert_eq "50 concurrent streams on one client connection all answered" 50 "$(echo "$out" | jq_py 'd["ok"]')"

out=$(in_client "$MLX_PY" -c '
import requests, sys
s = requests.Session()
for i in range(3):
    r = s.post("https://api.openai.com/echo", data=b"x" * 1000 * (i + 1), verify=sys.argv[1], timeout=10)
    print(r.status_code, len(r.content))' "$CLIENTS" 2>&1)
assert_eq "python requests, 3 POSTs on one keep-alive connection" "200 1000
200 2000
200 3000" "$out"

out=$(icurl -4 -H "X-Api-Key: sk-test-SECRETSECRET" "https://$MLX_HOST_OPENAI/hello?key=AIzaSECRETQUERY")
assert_contains "request with a secret in the query string served" "$out" "hello"
check_fails "query-string secret never logged" grep -q "AIzaSECRETQUERY" "$R/agent.log"
assert_contains "path logged with the query redacted" "$R/agent.log" "path=/hello?<redacted>"

# --- bytes and streaming --------------------------------------------------------------------------
want=$(mlx_bytes_sha256 5000000 11)
got=$(icurl --http1.1 "https://$MLX_HOST_OPENAI/bytes?n=5000000&seed=11" | sha256sum | cut -d' ' -f1)
assert_eq "5 MB download through interception is byte-identical" "$want" "$got"
head -c 20000000 /dev/urandom >"$R/up.bin"
got=$(icurl --http1.1 --data-binary "@$R/up.bin" "https://$MLX_HOST_OPENAI/echo" | sha256sum | cut -d' ' -f1)
assert_eq "20 MB upload echoed through interception is byte-identical" "$(sha256sum <"$R/up.bin" | cut -d' ' -f1)" "$got"
got=$(icurl --http1.1 -H "Transfer-Encoding: chunked" --data-binary "@$R/up.bin" "https://$MLX_HOST_OPENAI/echo" | sha256sum | cut -d' ' -f1)
assert_eq "chunked 20 MB upload byte-identical" "$(sha256sum <"$R/up.bin" | cut -d' ' -f1)" "$got"
got=$(icurl --http2 "https://$MLX_HOST_OPENAI/bytes?n=5000000&seed=11" | sha256sum | cut -d' ' -f1)
assert_eq "5 MB download over HTTP/2 byte-identical" "$want" "$got"
out=$(h2c post /echo "$R/up.bin")
assert_eq "20 MB HTTP/2 upload echoed byte-identical" "$(sha256sum <"$R/up.bin" | cut -d' ' -f1)" "$(echo "$out" | jq_py 'd["sha256"]')"

out=$(in_client "$MLX_PY" -c '
import http.client, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("api.openai.com", 443, context=ctx, timeout=10)
c.request("GET", "/slow?n=5&ms=300")
r = c.getresponse()
t0 = time.monotonic(); arr = []
while True:
    line = r.fp.readline()
    if not line:
        break
    if line.startswith(b"chunk"):
        arr.append(round((time.monotonic() - t0) * 1000))
    if len(arr) == 5:
        break
print(" ".join(map(str, arr)))' "$CLIENTS" 2>&1)
note "streamed chunk arrival (ms): $out"
gaps_ok=$("$MLX_PY" -c '
import sys
t = [int(x) for x in sys.argv[1].split()]
g = [b - a for a, b in zip(t, t[1:])]
print("yes" if len(t) == 5 and all(200 <= x <= 450 for x in g) else "no")' "$out" 2>/dev/null)
assert_eq "streamed events arrive one by one with their 300 ms gaps" yes "$gaps_ok"
out=$(h2c times "/slow?n=5&ms=300")
note "HTTP/2 chunk arrival (ms): $out"
assert_eq "...and over HTTP/2 (client) and HTTP/2 (provider)" yes "$(gaps_ok "$out")"

# --- resets and garbage over HTTP/2 ----------------------------------------------------------------
out=$(h2c cancel "/slow?n=100&ms=100" /hello 400)
assert_contains "client cancels one stream; the next one on the connection is served" "$out" '"other_status":200'
wait_for "...the cancelled exchange is logged as reset" 3 grep -qE "proto=h2 method=GET path=/slow\?<redacted> status=200 .* end=reset" "$R/agent.log"
out=$(in_client "$MLX_PY" -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1]); ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("api.openai.com", 443), timeout=5), server_hostname="api.openai.com")
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\xff" * 64)
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except Exception:
    pass
types, i = [], 0
while i + 9 <= len(data):
    n = int.from_bytes(data[i:i + 3], "big"); types.append(data[i + 3]); i += 9 + n
print("goaway" if 7 in types else "no goaway %s" % types, "closed")' "$CLIENTS" 2>&1)
assert_eq "garbage HTTP/2 frames: GOAWAY and that connection closes" "goaway closed" "$out"
wait_for "...logged" 3 grep -q "HTTP/2 error from client" "$R/agent.log"
check "agent keeps serving others over HTTP/2" icurl --http2 "https://$MLX_HOST_OPENAI/hello"

out=$("$CTL" -c "$R/agent.conf" status --json | "$MLX_PY" -c 'import json,sys; d=json.load(sys.stdin)["intercept"]; print(d["http_requests"], d["upstream_conns"], d["upstream_conns_h2"], d["upstream_reused"])')
read -r nreq nconn nh2 nreused <<<"$out"
note "requests=$nreq provider connections=$nconn (h2: $nh2) reused=$nreused"
check "provider connections are pooled: far fewer than requests" test "$((nconn * 5))" -lt "$nreq"
check "...and reused" test "$nreused" -gt 50

# --- HTTP/1.1 to the provider (upstream_h2 = no), h2 clients served over it ------------------------
sed -i '/^upstream_h2/d' "$R/agent.conf"
echo "upstream_h2 = no" >>"$R/agent.conf"
"$CTL" -s "$R/agent.sock" reload >/dev/null 2>&1
wait_for "reload applied" 5 sh -c "[ \$(grep -c 'configuration reloaded' '$R/agent.log') -ge 1 ]"
out=$(icurl --http2 "https://$MLX_HOST_OPENAI/hello")
assert_contains "h2 client served over an HTTP/1.1 provider connection" "$out" "hello sni=api.openai.com alpn=http/1.1"
wait_for "...logged as proto=h2 up=http/1.1" 3 grep -qE "proto=h2 method=GET path=/hello status=200 .* up=http/1.1" "$R/agent.log"
out=$(h2c post /echo "$R/up.bin")
assert_eq "20 MB HTTP/2 upload over HTTP/1.1 (chunked) byte-identical" "$(sha256sum <"$R/up.bin" | cut -d' ' -f1)" "$(echo "$out" | jq_py 'd["sha256"]')"
got=$(icurl --http2 "https://$MLX_HOST_OPENAI/bytes?n=5000000&seed=11" | sha256sum | cut -d' ' -f1)
assert_eq "5 MB download HTTP/1.1 -> HTTP/2 byte-identical" "$want" "$got"
out=$(h2c times "/slow?n=5&ms=300")
assert_eq "streamed chunks keep their gaps HTTP/1.1 -> HTTP/2" yes "$(gaps_ok "$out")"
out=$(h2c many /hello 30)
assert_eq "30 concurrent h2 streams over pooled HTTP/1.1 connections" 30 "$(echo "$out" | jq_py 'd["ok"]')"
out=$(in_client "$MLX_PY" -c '
import requests, sys
s = requests.Session()
for i in range(3):
    r = s.post("https://api.openai.com/echo", data=b"x" * 1000 * (i + 1), verify=sys.argv[1], timeout=10)
    print(r.status_code, len(r.content))' "$CLIENTS" 2>&1)
assert_eq "HTTP/1.1 both sides: 3 POSTs on one keep-alive connection" "200 1000
200 2000
200 3000" "$out"
# --- a provider with a bad certificate ----------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$MLX_HOST_OPENAI" \
	-addext "subjectAltName=DNS:$MLX_HOST_OPENAI" -keyout "$R/bad.key" -out "$R/bad.crt" 2>/dev/null
start_bg badsrv in_provider openssl s_server -accept 8443 -cert "$R/bad.crt" -key "$R/bad.key" -www -quiet
wait_for "bad-certificate server up" 5 sh -c "ip netns exec '$PROV_NS' ss -Hltn 'sport = :8443' | grep -q 8443"
out=$(icurl -4 -i --http1.1 "https://$MLX_HOST_OPENAI:8443/" 2>&1)
assert_contains "provider with an untrusted certificate: client gets 502" "$out" "502 Bad Gateway"
assert_contains "...and is told why" "$out" "certificate failed verification (self-signed certificate)"
assert_contains "...logged" "$R/agent.log" "failed verification"
out=$(icurl -4 --http2 -w '\n%{http_code}' "https://$MLX_HOST_OPENAI:8443/" 2>&1)
assert_contains "...and an HTTP/2 client too" "$out" "certificate failed verification (self-signed certificate)"

# --- pinning: a client that does not trust our CA -----------------------------------------------
pid=$(client_bg_pid "$R/pin1.out" curl -4 -sS --max-time 10 --cacert "$MLX_TEST_CA" "https://$MLX_HOST_OPENAI/hello")
assert_eq "client trusting only the provider's CA refuses our leaf (curl exit 60)" 60 "$(cat "$R/pin1.out.rc")"
wait_for "refusal remembered as pinned" 3 grep -q "client refused our certificate exe=$(readlink -f "$(command -v curl)") sni=$MLX_HOST_OPENAI" "$R/agent.log"
out=$(in_client curl -4 -sS --max-time 10 --cacert "$MLX_TEST_CA" "https://$MLX_HOST_OPENAI/hello" 2>&1)
assert_contains "same client spliced on retry: talks to the real provider" "$out" "hello sni=api.openai.com"
wait_for "...logged as pinned_splice" 3 flows_at_least agent 1 "tls=pinned_splice"
out=$("$MLX_PY" -c 'print(1)' >/dev/null; in_client "$MLX_PY" -c '
import requests, sys
print(requests.get("https://api.openai.com/hello", verify=sys.argv[1], timeout=10).status_code)' "$CLIENTS" 2>&1)
assert_eq "another executable is still intercepted" 200 "$out"

# --- garbage on the wire ---------------------------------------------------------------------------
out=$(in_client "$MLX_PY" -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
s = ctx.wrap_socket(socket.create_connection(("api.openai.com", 443), timeout=5), server_hostname="api.openai.com")
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
print(s.recv(200).split(b"\r\n")[0].decode())' "$CLIENTS" 2>&1)
assert_eq "smuggling-shaped request refused with 400" "HTTP/1.1 400 Bad Request" "$out"
check "agent keeps serving others" icurl --http1.1 "https://$MLX_HOST_OPENAI/hello"

out=$("$CTL" -c "$R/agent.conf" status --json | "$MLX_PY" -c 'import json,sys; d=json.load(sys.stdin)["intercept"]; print(d["enabled"], d["flows"] > 5, d["upstream_verify_fail"] >= 1, d["pinned_refusals"] >= 1, d["upstream_resumed"] >= 1)')
assert_eq "status: interception counters, provider sessions resumed" "True True True True True" "$out"
agent_stop agent
integ_finish

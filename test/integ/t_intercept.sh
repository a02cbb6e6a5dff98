#!/bin/bash
# TLS interception through the real BPF redirect: the client's TLS is terminated with a leaf
# minted from the corporate CA for its SNI, the provider is reached over verified TLS, and
# HTTP/1.1 is proxied with streaming intact. A provider with a bad certificate is refused and the
# client told why; a client that refuses our certificate is spliced on its next attempt.
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

# --- the leaf the client sees ---------------------------------------------------------------------
in_client sh -c "openssl s_client -connect $MLX_ADDR_OPENAI:443 -servername $MLX_HOST_OPENAI -CAfile $CLIENTS </dev/null 2>/dev/null | openssl x509 -noout -issuer -ext subjectAltName" >"$R/leaf.txt"
assert_contains "leaf issued by the corporate CA" "$R/leaf.txt" "modelux integ corporate CA"
assert_contains "leaf SAN is the SNI" "$R/leaf.txt" "DNS:$MLX_HOST_OPENAI"
out=$(in_client sh -c "openssl s_client -connect $MLX_ADDR_OPENAI:443 -servername $MLX_HOST_OPENAI -verify_hostname $MLX_HOST_OPENAI -CAfile $R/corp/ca.crt </dev/null 2>&1")
assert_contains "leaf verifies against the corporate CA with the hostname" "$out" "Verify return code: 0 (ok)"
check_fails "CA private key never in the agent's log" grep -q "PRIVATE KEY" "$R/agent.log"

# --- clients --------------------------------------------------------------------------------------
pid=$(client_bg_pid "$R/h1.out" curl -4 -sS --max-time 10 --cacert "$CLIENTS" --http1.1 "https://$MLX_HOST_OPENAI/hello")
assert_contains "curl --http1.1 through interception" "$R/h1.out" "hello sni=api.openai.com alpn=http/1.1"
line=$(flow_of_pid agent "$pid")
assert_contains "flow marked intercepted" "$line" "tls=intercepted"
assert_contains "flow attributed" "$line" "exe=$(readlink -f "$(command -v curl)")"
wait_for "request logged with method, path and status" 3 grep -qE "http id=[0-9]+\.1 proto=http/1.1 method=GET path=/hello status=200" "$R/agent.log"

out=$(icurl --http2 "https://$MLX_HOST_OPENAI/hello")
assert_contains "curl --http2 client served through interception" "$out" "hello sni=api.openai.com"

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

# --- a provider with a bad certificate ----------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$MLX_HOST_OPENAI" \
	-addext "subjectAltName=DNS:$MLX_HOST_OPENAI" -keyout "$R/bad.key" -out "$R/bad.crt" 2>/dev/null
start_bg badsrv in_provider openssl s_server -accept 8443 -cert "$R/bad.crt" -key "$R/bad.key" -www -quiet
wait_for "bad-certificate server up" 5 sh -c "ip netns exec '$PROV_NS' ss -Hltn 'sport = :8443' | grep -q 8443"
out=$(icurl -4 -i "https://$MLX_HOST_OPENAI:8443/" 2>&1)
assert_contains "provider with an untrusted certificate: client gets 502" "$out" "502 Bad Gateway"
assert_contains "...and is told why" "$out" "certificate failed verification (self-signed certificate)"
assert_contains "...logged" "$R/agent.log" "failed verification"

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

out=$("$CTL" -c "$R/agent.conf" status --json | "$MLX_PY" -c 'import json,sys; d=json.load(sys.stdin)["intercept"]; print(d["enabled"], d["flows"] > 5, d["upstream_verify_fail"], d["pinned_refusals"] >= 1, d["upstream_resumed"] >= 3)')
assert_eq "status: interception counters, provider sessions resumed" "True True 1 True True" "$out"
agent_stop agent
integ_finish

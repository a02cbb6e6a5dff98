#!/bin/bash
# Provider awareness, keys, the intercept log, policy and budgets through the real interception:
# the official SDKs (openai, @anthropic-ai/sdk, @google/genai) run unmodified against the
# simulated providers with the corporate CA trusted via NODE_EXTRA_CA_CERTS, and every request
# leaves one record whose tokens and model match what the SDK reported. Keys are fingerprinted
# and classified (never stored raw), the policy blocks and downgrades in each provider's own
# error shape, a budget refuses with 429 once spent, and records survive kill -9.
set -u -o pipefail
source "$(dirname "$0")/lib.sh"
integ_setup
source "$(dirname "$0")/agent.sh"
R=$MLX_RUN
"$MLX_REPO/scripts/npm-deps.sh" || not_ok "npm packages for the SDK clients"

make_corp_ca "$R/corp" || not_ok "corporate CA"
CLIENTS=$R/corp/clients.pem
G=$MLX_LIB_DIR/govern
# The log on a small file system of its own, to fill it later.
mkdir -p "$R/logfs" && mount -t tmpfs -o size=4m tmpfs "$R/logfs" || not_ok "tmpfs for the log"
# Tags by unix group, user and executable; the header may not set "cost".
cat >"$R/tags.map" <<'EOF_MAP'
group root     team=ops-group,cost=c0   # root's primary group
user  root     team=ops                 # the user rule overrides the group's team
exe   */node   tool=node
exe   */python3* tool=python
EOF_MAP
mlx_agent_conf "$R/agent.conf" "ca_cert = $R/corp/ca.crt" "ca_key = $R/corp/ca.key" \
	"upstream_ca_file = $MLX_TEST_CA" "policy = $G/policy.json" "budgets = $G/budgets.json" \
	"tags = env=test,site=lab" "log_db = $R/logfs/intercept.db" "payload_projects = kb" \
	"tag_map = $R/tags.map" "tags_locked = cost"
agent_start agent "$R/agent.conf" || integ_finish
wait_for "targets learned" 5 grep -q "target learned provider=anthropic" "$R/agent.log"
CL=$MLX_LIB_DIR/clients
# A key of OpenAI's project format, made up; the test greps for it everywhere afterwards.
KEY="sk-proj-$(head -c 60 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)Zq7"
AKEY="sk-ant-api03-$(head -c 90 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 80)xY9"
sdk() {	# <name> <openai|anthropic|gemini> <args...>: the SDK's JSON line in $R/NAME.json
	local name=$1 prog=$2
	shift 2
	NODE_EXTRA_CA_CERTS=$CLIENTS in_client node "$CL/sdk_$prog.mjs" "$@" >"$R/$name.json" 2>"$R/$name.err"
}
jf() { "$MLX_PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$R/$1.json" 2>&1; }
# The newest record (JSON) of the log, after the agent committed what it has.
last_rec() {
	local n=$1
	wait_for "record $n written" 5 sh -c "[ \$('$CTL' -c '$R/agent.conf' log --json -n 1000 | wc -l) -ge $n ]"
	"$CTL" -c "$R/agent.conf" log --json -n 1 >"$R/rec.json"
}
rf() { "$MLX_PY" -c "import json,sys; d=json.loads(open(sys.argv[1]).read()); print($1)" "$R/rec.json" "${@:2}" 2>&1; }
NREC=0
next() { NREC=$((NREC + 1)); last_rec "$NREC"; }

# --- OpenAI chat, non-streaming: the record matches the SDK ------------------------------------
sdk oa openai --key "$KEY" --model gpt-4o --prompt "Say hello to the auditors."
assert_eq "openai SDK through interception succeeds" True "$(jf oa 'd["ok"]')"
next
assert_eq "record: provider, endpoint, requested and served model" \
	"openai /v1/chat/completions gpt-4o $(jf oa 'd["model"]')" \
	"$(rf 'd["provider"], d["endpoint"], d["model_requested"], d["model_served"]')"
assert_eq "record: tokens equal the SDK's usage" "$(jf oa 'd["usage"]["prompt_tokens"], d["usage"]["completion_tokens"]')" \
	"$(rf 'd["tokens"]["in"], d["tokens"]["out"]')"
assert_eq "record: priced (micro-dollars), not estimated, HTTP 200" "True False 200" \
	"$(rf 'd["cost_micro"] > 0 and d["price_known"], d["estimated"], d["http_status"]')"
assert_eq "record: who (exe, user); host tags, then group, user and exe rules of the tag map" \
	"node root env=test,site=lab,team=ops,cost=c0,tool=node" \
	"$(rf 'd["exe"].split("/")[-1], d["user"], ",".join(t for t in d["tags"].split(",") if not t.startswith(("sensitivity=", "pii=", "secrets=")))')"
assert_eq "record: key fingerprint (64 hex), last 4, format, shadow" "64 ${KEY: -4} openai-project shadow" \
	"$(rf 'len(d["key"]["fingerprint"]), d["key"]["last4"], d["key"]["format"], d["key"]["state"]')"
FP=$(rf 'd["key"]["fingerprint"]')

# --- streaming, each SDK --------------------------------------------------------------------------
sdk oas openai --key "$KEY" --model gpt-4o --stream --prompt "Stream to me."
next
assert_eq "openai stream: tokens from the final usage chunk = SDK" "$(jf oas 'd["usage"]["prompt_tokens"], d["usage"]["completion_tokens"]')" \
	"$(rf 'd["tokens"]["in"], d["tokens"]["out"]')"
assert_eq "...stream flag" True "$(rf 'd["stream"]')"
sdk ans anthropic --key "$AKEY" --model claude-sonnet-4-5 --stream --prompt "Stream, Claude."
assert_eq "anthropic SDK stream through interception succeeds" True "$(jf ans 'd["ok"]')"
next
assert_eq "anthropic stream: input/output = SDK (message_start + message_delta)" \
	"$(jf ans 'd["usage"]["input_tokens"], d["usage"]["output_tokens"]')" "$(rf 'd["tokens"]["in"], d["tokens"]["out"]')"
assert_eq "...key classified" "anthropic-api shadow" "$(rf 'd["key"]["format"], d["key"]["state"]')"
sdk gms gemini --model gemini-2.5-flash --stream --prompt "Stream, Gemini."
assert_eq "gemini SDK stream through interception succeeds" True "$(jf gms 'd["ok"]')"
next
assert_eq "gemini stream: usageMetadata = SDK" \
	"$(jf gms 'd["usage"]["promptTokenCount"], d["usage"]["candidatesTokenCount"]')" "$(rf 'd["tokens"]["in"], d["tokens"]["out"]')"
assert_eq "...provider and model" "gemini gemini-2.5-flash" "$(rf 'd["provider"], d["model_requested"]')"

sdk an anthropic --key "$AKEY" --model claude-haiku-4-5 --prompt "Plain, Claude."
next
assert_eq "anthropic non-streaming: record = SDK usage and served model" \
	"$(jf an 'd["usage"]["input_tokens"], d["usage"]["output_tokens"], d["model"]')" "$(rf 'd["tokens"]["in"], d["tokens"]["out"], d["model_served"]')"
sdk gm gemini --model gemini-2.5-pro --prompt "Plain, Gemini."
next
assert_eq "gemini non-streaming: record = SDK usageMetadata" \
	"$(jf gm 'd["usage"]["promptTokenCount"], d["usage"]["candidatesTokenCount"]')" "$(rf 'd["tokens"]["in"], d["tokens"]["out"]')"

# --- a stream cut before its usage is estimated -------------------------------------------------
sdk cut openai --key "$KEY" --model gpt-4o --stream --sim cut=2
next
assert_eq "stream cut before usage: record marked estimated, tokens > 0" "True True" \
	"$(rf 'd["estimated"], d["tokens"]["out"] > 0')"

# --- a provider key pasted in a prompt ---------------------------------------------------------
sdk leak openai --key "$KEY" --prompt "my other key is $AKEY please keep it"
next
assert_eq "key leaked inside the prompt is flagged" 1 "$(rf 'd["leaked_keys"]')"

# --- policy: block, downgrade, sanctioned-only -------------------------------------------------
sdk blk openai --key "$KEY" --header "X-Modelux-Tags: team=blocked"
assert_eq "blocked: the SDK raises its own error class with our reason" \
	"PermissionDeniedError 403 True" "$(jf blk 'd["error"]["class"], d["error"]["status"], "team blocked in this test" in d["error"]["message"]')"
next
assert_eq "...recorded as block with the rule and group" "block 0 @blocked" "$(rf 'd["decision"], d["rule"]["index"], d["rule"]["group"]')"
sdk ablk anthropic --key "$AKEY" --header "X-Modelux-Tags: team=blocked"
assert_eq "blocked, Anthropic: its SDK's error class" "PermissionDeniedError 403" "$(jf ablk 'd["error"]["class"], d["error"]["status"]')"
next
sdk dg openai --key "$KEY" --model gpt-4o --header "X-Modelux-Tags: team=cheap"
assert_eq "downgrade: the provider served the cheaper model" True "$(jf dg 'd["ok"] and d["model"].startswith("gpt-4o-mini")')"
next
assert_eq "...recorded: requested gpt-4o, downgraded" "gpt-4o downgrade @cheap" "$(rf 'd["model_requested"], d["decision"], d["rule"]["group"]')"
check_fails "X-Modelux-Tags never reaches the provider" grep -qi "x-modelux-tags" "$MLX_SERVER_LOG"
sdk strict openai --key "$KEY" --header "X-Modelux-Tags: team=strict"
assert_eq "shadow key where the policy requires a sanctioned one: refused" 403 "$(jf strict 'd["error"]["status"]')"
next
out=$("$CTL" -c "$R/agent.conf" keys sanction "$FP" openai "test key" 2>&1)
assert_contains "modeluxctl keys sanction" "$out" "sanctioned $FP"
sdk strict2 openai --key "$KEY" --header "X-Modelux-Tags: team=strict"
assert_eq "...once sanctioned (agent reloaded), the same request passes" True "$(jf strict2 'd["ok"]')"
next
assert_eq "...and the record says sanctioned" sanctioned "$(rf 'd["key"]["state"]')"

# --- content sensitivity: PII routes to the PII-safe group, a secret is blocked ----------------
PII="Please write to jane.doe@example.com and charge card 4111 1111 1111 1111 for the renewal."
sdk piioa openai --key "$KEY" --prompt "$PII" --header "X-Modelux-Tags: sensitivity=none"
assert_eq "PII in an OpenAI prompt: @pii-safe allows only anthropic, so the SDK gets a 403" "403 True" \
	"$(jf piioa 'd["error"]["status"], "not allowed in @pii-safe" in d["error"]["message"]')"
next
assert_match "...recorded with the computed tags (the header cannot set sensitivity)" "$(rf 'd["tags"]')" \
	"(^|,)sensitivity=pii,pii=email\+card(,|$)"
assert_eq "...and the rule that matched" "block @pii-safe" "$(rf 'd["decision"], d["rule"]["group"]')"
sdk piian anthropic --key "$AKEY" --prompt "$PII"
assert_eq "the same prompt to Anthropic (allowed by @pii-safe) succeeds" True "$(jf piian 'd["ok"]')"
next
assert_eq "...recorded as allowed by @pii-safe" "allow @pii-safe" "$(rf 'd["decision"], d["rule"]["group"]')"
AWSID="AKIA$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Z2-7' | head -c 16)"
sdk sec openai --key "$KEY" --prompt "deploy with aws_access_key_id=$AWSID today"
assert_eq "a cloud credential in the prompt: blocked with the policy's reason" "403 True" \
	"$(jf sec 'd["error"]["status"], "contains a secret" in d["error"]["message"]')"
next
assert_match "...recorded as a secret, with its kind" "$(rf 'd["tags"]')" "(^|,)sensitivity=secret,secrets=aws_key_id(,|$)"
sdk clean openai --key "$KEY" --prompt "Summarise the plot of Hamlet in two sentences."
next
assert_eq "a clean prompt is tagged sensitivity=none and allowed" "True allow" \
	"$(rf '"sensitivity=none" in d["tags"].split(","), d["decision"]')"

# --- budget ------------------------------------------------------------------------------------
for i in 1 2 3 4 5 6 7 8; do
	sdk "b$i" openai --key "$KEY" --model gpt-4o --max-tokens 50 --header "X-Modelux-Tags: team=tight"
	next
done
assert_eq "budget: the first request within the cap passes" True "$(jf b1 'd["ok"]')"
assert_eq "budget: once the cap is reached, 429 in OpenAI's shape (RateLimitError, no retry)" \
	"RateLimitError 429 True" "$(jf b8 'd["error"]["class"], d["error"]["status"], "budget exceeded" in d["error"]["message"]')"
out=$("$CTL" -c "$R/agent.conf" budgets --json)
assert_eq "modeluxctl budgets: spend never above the cap" True \
	"$("$MLX_PY" -c 'import json,sys; b=[x for x in json.loads(sys.argv[1])["budgets"] if x["name"] == "tight-monthly"][0]; print(b["spent_micro"] <= b["cap_micro"] and b["spent_micro"] > 0)' "$out" 2>&1)"

# Concurrency: 10 requests in flight at once (the provider answers after 5 s) against a cap that
# fits the maximum cost of exactly 4 (gpt-4o, 1000 max tokens: about $0.0100 each; cap $0.045).
pids=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	sdk "c$i" openai --key "$KEY" --model gpt-4o --max-tokens 1000 --prompt "concurrent" \
		--header "X-Modelux-Tags: project=conc" --sim ttfb=5000 &
	pids+=($!)
done
wait "${pids[@]}"
ok=0 limited=0
for i in 0 1 2 3 4 5 6 7 8 9; do
	[ "$(jf "c$i" 'd["ok"]')" = True ] && ok=$((ok + 1))
	[ "$(jf "c$i" 'd.get("error", {}).get("status")')" = 429 ] && limited=$((limited + 1))
done
assert_eq "budget under concurrency: exactly the 4 that fit pass, the 6 others get 429" "4 6" "$ok $limited"
NREC=$((NREC + 10))
last_rec "$NREC"
out=$("$CTL" -c "$R/agent.conf" budgets --json)
assert_eq "...and spend stays within the cap" True \
	"$("$MLX_PY" -c 'import json,sys; b=[x for x in json.loads(sys.argv[1])["budgets"] if x["name"] == "conc-daily"][0]; print(0 < b["spent_micro"] <= b["cap_micro"] and b["reserved_micro"] == 0)' "$out" 2>&1)"

# --- inventory, log, prices ----------------------------------------------------------------------
out=$("$CTL" -c "$R/agent.conf" keys --json)
assert_eq "modeluxctl keys: the OpenAI key with its use and the executable" "True True" \
	"$("$MLX_PY" -c '
import json, sys
ks = {k["fingerprint"]: k for k in json.loads(sys.argv[1])}
k = ks[sys.argv[2]]
print(k["requests"] >= 10, any(u["exe"].endswith("node") for u in k["used_by"]))' "$out" "$FP" 2>&1)"
out=$("$CTL" -c "$R/agent.conf" log -n 10 --provider anthropic)
assert_contains "modeluxctl log filters by provider" "$out" "claude-sonnet-4-5"
out=$("$CTL" -c "$R/agent.conf" prices)
assert_contains "modeluxctl prices shows the table in use" "$out" "gpt-4o"

# --- curl and Python through the same path ------------------------------------------------------
out=$(in_client curl -sS --cacert "$CLIENTS" https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $KEY" \
	-H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}')
assert_contains "curl through interception" "$out" '"usage"'
next
assert_eq "...recorded" "gpt-4o-mini curl" "$(rf 'd["model_requested"], d["exe"].split("/")[-1]')"

out=$(in_client "$MLX_PY" -c '
import requests, sys
r = requests.post("https://api.anthropic.com/v1/messages", verify=sys.argv[1], timeout=10,
    headers={"x-api-key": sys.argv[2], "anthropic-version": "2023-06-01"},
    json={"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]})
print(r.status_code, r.json()["usage"]["output_tokens"])' "$CLIENTS" "$AKEY" 2>&1)
assert_match "python requests (x-api-key) through interception" "$out" "^200 [0-9]+$"
next
assert_eq "...recorded with its tokens, TTFB and bytes" "True True True" \
	"$(rf 'd["tokens"]["out"] == int(sys.argv[2]), d["ttfb_ms"] is not None, d["bytes_down"] > 0' "${out#200 }")"
assert_match "...tagged by the exe rule for python" "$(rf 'd["tags"]')" "(^|,)tool=python(,|$)"
out=$(in_client curl -sS --cacert "$CLIENTS" -w ' %{http_code}' https://api.openai.com/v1/models \
	-H "Authorization: Bearer $KEY" -H "X-Modelux-Tags: team=blocked")
assert_match "a GET is decided on its head: the policy blocks it too (403, OpenAI error shape)" "$out" \
	'"error":.*team blocked in this test.* 403$'
next
assert_eq "...recorded as blocked by rule 0" "block 0" "$(rf 'd["decision"], d["rule"]["index"]')"
# --- WebSocket: OpenAI's Realtime API through the interception ----------------------------------
ws() {	# <name> <realtime|echo> <args...>: the client's JSON line in $R/NAME.json
	local name=$1
	shift
	NODE_EXTRA_CA_CERTS=$CLIENTS in_client node "$CL/ws_client.mjs" "$@" >"$R/$name.json" 2>"$R/$name.err"
}
RT_PROMPT="Realtime, through the interception."
ws rt realtime --key "$KEY" --model gpt-realtime --prompt "$RT_PROMPT"
assert_eq "the openai SDK's Realtime client (WebSocket) works through the interception" \
	"True gpt-realtime 12 $(ptoks "$RT_PROMPT") 12" \
	"$(jf rt 'd["ok"], d.get("session_model"), d.get("deltas"), (d.get("usage") or {}).get("input_tokens"), (d.get("usage") or {}).get("output_tokens")')"
next
assert_eq "...recorded: 101, the endpoint, the key's fingerprint, bytes both ways, no error" \
	"101 /v1/realtime True True True None" \
	"$(rf 'd["http_status"], d["endpoint"], d["key"]["fingerprint"] == sys.argv[2], d["bytes_up"] > 100, d["bytes_down"] > 1000, d["error"]' "$FP")"
assert_eq "...with the session's model and the tokens of its response.done (= the SDK's usage)" \
	"gpt-realtime gpt-realtime $(jf rt 'd["usage"]["input_tokens"], d["usage"]["output_tokens"]') False" \
	"$(rf 'd["model_requested"], d["model_served"], d["tokens"]["in"], d["tokens"]["out"], d["estimated"]')"
ws wse echo --binary 1048576 --texts 100
assert_eq "WebSocket tunnel: 1 MiB binary and 100 text messages come back identical, in order" \
	"True True True 101" "$(jf wse 'd["ok"], d.get("binary_same"), d.get("texts_same"), d.get("messages")')"
next
# The ws client offers permessage-deflate; compressed, the events could not be read on the way.
assert_eq "...the client's Sec-WebSocket-Extensions offer is not passed on (the provider saw none)" \
	"/ws-echo None" "$(grep '"proto":"websocket"' "$MLX_SERVER_LOG" | tail -n 1 |
		"$MLX_PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["path"], d["extensions"])')"
WSH=(-H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13"
	-H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" -H "Authorization: Bearer $KEY")
out=$(in_client curl -sS --http1.1 --cacert "$CLIENTS" -w ' %{http_code}' "${WSH[@]}" \
	"https://api.openai.com/v1/realtime?model=gpt-realtime" --data-binary $'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n' -X GET)
assert_match "an upgrade carrying a body (a request smuggled behind it) is refused with 400" "$out" \
	"carries no body.* 400$"
next
out=$(in_client curl -sS --http1.1 --cacert "$CLIENTS" -w ' %{http_code}' "${WSH[@]}" \
	"https://api.openai.com/v1/realtime?model=gpt-realtime&model=gpt-4o")
assert_match "a Realtime upgrade naming two models is refused with 400 (the policy saw one)" "$out" \
	"names its model more than once.* 400$"
next
out=$(in_client curl -sS --http1.1 --cacert "$CLIENTS" -w ' %{http_code}' "${WSH[@]}" \
	-H "X-Modelux-Tags: team=cheap" "https://api.openai.com/v1/realtime?model=gpt-4o")
assert_match "a Realtime session the policy would downgrade is refused (403), not let through" "$out" \
	"cannot be rewritten.* 403$"
next
assert_eq "...recorded as blocked, the model named" "block gpt-4o" "$(rf 'd["decision"], d["model_requested"]')"
out=$(in_client curl -sS --http1.1 --cacert "$CLIENTS" -w ' %{http_code}' \
	"https://api.openai.com/v1/realtime?model=gpt-realtime" -H "Connection: Upgrade" \
	-H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
assert_match "an upgrade the provider refuses (no key) comes back as its ordinary answer" "$out" \
	"You didn't provide an API key.* 401$"
next
assert_eq "...recorded as that answer (401, no key)" "401 None" "$(rf 'd["http_status"], d["key"]')"
ws rtb realtime --key "$KEY" --header "X-Modelux-Tags: team=blocked"
assert_eq "a WebSocket upgrade is decided on its head: a blocked team gets 403, no tunnel" \
	"False 403" "$(jf rtb 'd["ok"], d["error"]["status"]')"
next
assert_eq "...recorded as blocked by rule 0" "block 0 403" "$(rf 'd["decision"], d["rule"]["index"], d["http_status"]')"
out=$(in_client curl -sS --http1.1 --cacert "$CLIENTS" -w ' %{http_code}' \
	"https://api.openai.com/v1/models" -H "Authorization: Bearer $KEY" \
	-H "Connection: Upgrade" -H "Upgrade: h2c")
assert_match "another protocol switch (h2c) is refused with 501 and the reason, not sent mangled" \
	"$out" "only a WebSocket upgrade of an HTTP/1.1 GET can switch protocols.* 501$"
next
assert_eq "...and recorded (501, the key fingerprinted)" "501 True" \
	"$(rf 'd["http_status"], d["key"]["fingerprint"] == sys.argv[2]' "$FP")"
sdk hdr openai --key "$KEY" --header "X-Modelux-Tags: team=hdr-team,cost=stolen,feature=f1"
next
assert_match "header tags override the map, except the locked name (cost)" \
	"$(rf 'd["tags"]')" "^env=test,site=lab,team=hdr-team,cost=c0,tool=node,feature=f1(,|$)"
sdk gblk gemini --header "X-Modelux-Tags: team=blocked"
assert_eq "blocked, Gemini: its SDK's ApiError with status 403" "403 True" \
	"$(jf gblk 'd["error"]["status"], "team blocked" in d["error"]["message"]')"
next

# --- a bad policy on reload is refused; the running one stays --------------------------------------
cp "$MLX_LIB_DIR/govern/policy.json" "$R/policy.json"
sed -i "s|^policy = .*|policy = $R/policy.json|" "$R/agent.conf"
"$CTL" -s "$R/agent.sock" reload >/dev/null
sed -i 's/tags.team == .blocked./tags.teem == 1 +/' "$R/policy.json"
out=$("$CTL" -s "$R/agent.sock" reload 2>&1)
assert_match "bad policy on reload: rejected with file:line:col" "$out" "policy.json:[0-9]+:[0-9]+: rules\[0\]"
sdk blk2 openai --key "$KEY" --header "X-Modelux-Tags: team=blocked"
assert_eq "...and the previous policy still blocks" 403 "$(jf blk2 'd["error"]["status"]')"
next
cp "$MLX_LIB_DIR/govern/policy.json" "$R/policy.json"
cp "$R/tags.map" "$R/tags.map.good"
printf 'user root team=ops\nuser bob team=a b=c\n' >"$R/tags.map"
out=$("$CTL" -s "$R/agent.sock" reload 2>&1)
assert_match "bad tag map on reload: rejected with file:line:col" "$out" "tags.map:2:10: blank inside the tag list"
sdk tm2 openai --key "$KEY"
next
assert_match "...and the previous map still tags (group, exe rules kept)" "$(rf 'd["tags"]')" "cost=c0,tool=node"
cp "$R/tags.map.good" "$R/tags.map"
echo "sensitivity = email,emial" >>"$R/agent.conf"
out=$("$CTL" -s "$R/agent.sock" reload 2>&1)
assert_match "unknown detector in sensitivity = on reload: rejected, naming it" "$out" "sensitivity: .*emial"
sed -i '/^sensitivity = /d' "$R/agent.conf"
"$CTL" -s "$R/agent.sock" reload >/dev/null || not_ok "reload after the bad sensitivity list"

# --- payload retention, per project ---------------------------------------------------------------
sdk pl openai --key "$KEY" --header "X-Modelux-Tags: project=kb" --prompt "keep this prompt please"
next
out=$("$CTL" -c "$R/agent.conf" log --json -n 2 --payload)
assert_eq "payload kept for project kb (request and response), not for the request before" "False True True" \
	"$("$MLX_PY" -c '
import json, sys
a, b = [json.loads(l) for l in sys.argv[1].splitlines()]
p = b.get("payload") or {}
print(a.get("payload") is not None, "keep this prompt please" in str(p.get("request")), "chat.completion" in str(p.get("response")))' "$out" 2>&1)"

# --- govern = no: intercept and proxy only, nothing decided or recorded; back on with a reload ---
echo "govern = no" >>"$R/agent.conf"
"$CTL" -s "$R/agent.sock" reload >/dev/null || not_ok "reload with govern = no"
before=$("$CTL" -c "$R/agent.conf" log --json -n 100000 | wc -l)
sdk off openai --key "$KEY" --header "X-Modelux-Tags: team=blocked"
assert_eq "govern = no: a request the policy blocks passes untouched" True "$(jf off 'd["ok"]')"
sleep 0.5
assert_eq "...and leaves no record" "$before" "$("$CTL" -c "$R/agent.conf" log --json -n 100000 | wc -l)"
sed -i '/^govern = no$/d' "$R/agent.conf"
"$CTL" -s "$R/agent.sock" reload >/dev/null || not_ok "reload with governance back on"
sdk on openai --key "$KEY" --header "X-Modelux-Tags: team=blocked"
assert_eq "...reloaded with it on again, the policy blocks again" 403 "$(jf on 'd["error"]["status"]')"
next

# --- the raw keys are nowhere the agent wrote -----------------------------------------------------
found=$(grep -rl -e "$KEY" -e "$AKEY" "$R/state" "$R/logfs" "$R/agent.log" 2>/dev/null)
assert_eq "raw API keys never on disk or in the agent's log (state dir, SQLite + WAL, log)" "" "$found"

# --- disk full: drops counted, traffic keeps flowing, recovery when space returns ---------------
glog() { "$CTL" -c "$R/agent.conf" status --json | "$MLX_PY" -c "import json,sys; g=json.load(sys.stdin)['governance']['log']; print($1)"; }
log_failing() { [ "$(glog 'g["failing"] and g["write_errors"] > 0')" = True ]; }
log_healthy() { [ "$(glog 'not g["failing"]')" = True ]; }
free_kb=$(df -k --output=avail "$R/logfs" | tail -1)
head -c $(((free_kb - 48) * 1024)) /dev/zero >"$R/logfs/filler" 2>/dev/null
w0=$(glog 'g["written"]')
in_client h2load -n 1500 -c 4 --h1 "https://$MLX_HOST_OPENAI/hello" >"$R/h2load.txt" 2>&1
wait_for "log full: the agent says so (failing, write errors counted)" 10 log_failing
assert_contains "...the error is clear" "$(glog 'g["last_error"]')" "full"
assert_contains "...while traffic keeps flowing" "$(in_client curl -sS --cacert "$CLIENTS" "https://$MLX_HOST_OPENAI/hello")" "hello"
rm -f "$R/logfs/filler"
wait_for "space back: the log recovers without a restart" 15 log_healthy
accounted() { [ "$(glog 'g["written"] - '"$w0"' + g["dropped_queue_full"] + g["dropped_disk"]')" -ge 1500 ]; }
wait_for "...every request of the outage is accounted for: written or counted as dropped" 30 accounted
note "after the outage: $(glog '"written since: %d, dropped (counted): %d" % (g["written"] - '"$w0"', g["dropped_queue_full"] + g["dropped_disk"])')"

check_fails "no sanitizer report in the agent's log so far" grep -qE "ERROR: AddressSanitizer|runtime error:" "$R/agent.log"

# --- kill -9: committed records survive -------------------------------------------------------------
n=$("$CTL" -c "$R/agent.conf" log --json -n 100000 | wc -l)
sdk k1 openai --key "$KEY" --prompt "last before the crash"
sleep 0.3
kill -9 "$(bg_pid agent)"
sleep 0.2
n2=$("$CTL" -c "$R/agent.conf" log --json -n 100000 | wc -l)
assert_eq "kill -9 300 ms after a request: its record is on disk" "$((n + 1))" "$n2"

# --- fail-closed: while the log cannot be written nothing leaves unrecorded ----------------------
echo "fail_closed = yes" >>"$R/agent.conf"
agent_start agent2 "$R/agent.conf" || integ_finish
wait_for "fail-closed agent learned its targets" 5 grep -q "target learned provider=openai" "$R/agent2.log"
sdk fc0 openai --key "$KEY"
assert_eq "fail-closed agent, log healthy: requests pass" True "$(jf fc0 'd["ok"]')"
free_kb=$(df -k --output=avail "$R/logfs" | tail -1)
head -c $(((free_kb - 48) * 1024)) /dev/zero >"$R/logfs/filler" 2>/dev/null
in_client h2load -n 1500 -c 4 --h1 "https://$MLX_HOST_OPENAI/hello" >"$R/h2load2.txt" 2>&1
wait_for "log full under fail-closed: the agent says so" 10 log_failing
sdk fc1 openai --key "$KEY"
assert_eq "...and refuses the SDK's request: 503, the reason, no retry" "503 True" \
	"$(jf fc1 'd["error"]["status"], "fail-closed" in d["error"]["message"]')"
out=$(in_client curl -sS --cacert "$CLIENTS" -o /dev/null -w '%{http_code}' "https://$MLX_HOST_OPENAI/hello")
assert_eq "...a GET too" 503 "$out"
rm -f "$R/logfs/filler"
wait_for "space back: the log recovers" 15 log_healthy
n=$("$CTL" -c "$R/agent.conf" log --json -n 100000 | wc -l)
sdk fc2 openai --key "$KEY" --prompt "after the outage"
assert_eq "...and requests pass again" True "$(jf fc2 'd["ok"]')"
wait_for "...recorded" 5 sh -c "[ \$('$CTL' -c '$R/agent.conf' log --json -n 100000 | wc -l) -eq $((n + 1)) ]"
agent_stop agent2
umount "$R/logfs"
integ_finish

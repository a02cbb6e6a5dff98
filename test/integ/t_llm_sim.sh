#!/bin/bash
# shellcheck disable=SC2016
# The simulated LLM providers (servers/llm_sim*.js) against real clients, directly (no agent):
# the official SDKs from npm (openai, @anthropic-ai/sdk, @google/genai, pinned in test/npm),
# unmodified, over HTTPS to the real provider host names with NODE_EXTRA_CA_CERTS, streaming and
# not; then curl (h2 and http/1.1) and Python requests / httpx. Asserts the exact model and
# token counts each client reports (from the token rule in llm_sim.js), that they equal what
# the simulator logged as sent, that error answers raise each SDK's normal error class with the
# provider's message, and the stream cut / in-stream error / slow-stream / key knobs.
# Needs the npm packages: runs scripts/npm-deps.sh (a no-op when they are installed).
set -u -o pipefail

# shellcheck source=test/integ/lib.sh
source "$(dirname "$0")/lib.sh"

if ! "$MLX_REPO/scripts/npm-deps.sh"; then
	not_ok "setup: npm packages (scripts/npm-deps.sh failed)"
	echo "$MLX_SCRIPT: 0 passed, 1 failed"
	exit 1
fi
integ_setup

R=$MLX_RUN
CL=$MLX_LIB_DIR/clients
LLM_SEEN=0 # LLM lines of the server log consumed so far

# --- Helpers -------------------------------------------------------------------------------------
cat >"$R/jf.py" <<'EOF'
# jf.py FILE PATH...: print "PATH=VALUE" per dotted path (list indexes as numbers); strings
# raw, other values as compact JSON with sorted keys; MISSING when absent.
import json, sys
d = json.load(open(sys.argv[1]))
for p in sys.argv[2:]:
    v = d
    try:
        for k in p.split("."):
            v = v[int(k)] if isinstance(v, list) else v[k]
        s = v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
    except (KeyError, IndexError, TypeError, ValueError):
        s = "MISSING"
    print("%s=%s" % (p, s))
EOF

# Value of one path of a JSON file.
jv() {	# <file> <path>
	local out
	out=$("$MLX_PY" "$R/jf.py" "$1" "$2")
	printf '%s' "${out#*=}"
}

# One assertion that every PATH=VALUE holds in FILE; shows the JSON when not.
expect() {	# <file> <desc> <path=value>...
	local f=$1 d=$2 want got kv paths=()
	shift 2
	want=$(printf '%s\n' "$@")
	for kv in "$@"; do paths+=("${kv%%=*}"); done
	got=$("$MLX_PY" "$R/jf.py" "$f" "${paths[@]}" 2>&1)
	if [ "$want" == "$got" ]; then
		ok "$d"
	else
		not_ok "$d" "$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')" \
			"json: $(head -c 1500 "$f")" "stderr: $(head -c 600 "${f%.json}.err" 2>/dev/null)"
	fi
}

# Run an SDK client program in the client netns: its JSON line to $R/NAME.json.
sdk() {	# <name> <openai|anthropic|gemini> <args...>
	local name=$1 prog=$2
	shift 2
	NODE_EXTRA_CA_CERTS=$MLX_TEST_CA in_client node "$CL/sdk_$prog.mjs" "$@" \
		>"$R/$name.json" 2>"$R/$name.err"
}

# The server log's line of the next LLM request (requests run one at a time) to $R/NAME.srv.json.
# shellcheck disable=SC2317 # called through _mlx_poll
_llm_lines_at_least() { [ "$(grep -c '"llm":' "$MLX_SERVER_LOG")" -ge "$1" ]; }
srv_next() {	# <name>
	LLM_SEEN=$((LLM_SEEN + 1))
	if ! _mlx_poll 5 _llm_lines_at_least "$LLM_SEEN"; then
		echo '{}' >"$R/$1.srv.json"
		return 1
	fi
	grep '"llm":' "$MLX_SERVER_LOG" | sed -n "${LLM_SEEN}p" >"$R/$1.srv.json"
}


# The usage the SDK reported equals the usage the simulator logged as sent (the listed fields,
# or the whole object).
same_usage() {	# <name> <desc> [field...]
	local n=$1 d=$2 f a b
	shift 2
	if [ $# -eq 0 ]; then
		a=$(jv "$R/$n.json" usage)
		b=$(jv "$R/$n.srv.json" llm.usage)
	else
		a=
		b=
		for f in "$@"; do
			a+="$f=$(jv "$R/$n.json" "usage.$f") "
			b+="$f=$(jv "$R/$n.srv.json" "llm.usage.$f") "
		done
	fi
	assert_eq "$d" "$b" "$a"
}

PROMPT='Count me: the simulator bills a token per four characters.'
SYSTEM='Answer briefly.'
P=$(ptoks "$PROMPT")
PS=$(ptoks "$SYSTEM" "$PROMPT")
note "prompt tokens: $P (with system prompt: $PS)"

# --- OpenAI SDK: chat completions ------------------------------------------------------------
for mode in plain stream; do
	s=()
	[ $mode = stream ] && s=(--stream)
	n=oa-chat-$mode
	sdk "$n" openai "${s[@]}" --prompt "$PROMPT" --model gpt-4o --sim cached=3,reasoning=2
	srv_next "$n"
	expect "$R/$n.json" "openai chat ($mode): served model and usage" ok=true \
		model=gpt-4o-2024-08-06 usage.prompt_tokens="$P" usage.completion_tokens=14 \
		usage.total_tokens=$((P + 14)) usage.prompt_tokens_details.cached_tokens=3 \
		usage.completion_tokens_details.reasoning_tokens=2 text_len=48 finish=stop \
		text='Simulated reply from the modelux test provider. '
	same_usage "$n" "openai chat ($mode): SDK usage == usage the simulator sent"
	expect "$R/$n.srv.json" "openai chat ($mode): server log" llm.provider=openai \
		llm.endpoint=chat llm.model=gpt-4o llm.served_model=gpt-4o-2024-08-06 \
		llm.stream="$([ $mode = stream ] && echo true || echo false)" llm.completed=true \
		llm.key_where=authorization llm.key_last4=0000 alpn=http/1.1 servername="$MLX_HOST_OPENAI"

	n=oa-chat-max-$mode
	sdk "$n" openai "${s[@]}" --prompt "$PROMPT" --system "$SYSTEM" --model gpt-4o-mini \
		--max-tokens 5
	srv_next "$n"
	expect "$R/$n.json" "openai chat ($mode): max_tokens caps the answer (finish length)" \
		model=gpt-4o-mini-2024-07-18 usage.prompt_tokens="$PS" usage.completion_tokens=5 \
		text_len=20 finish=length
done
sdk oa-chat-nousage openai --stream --no-usage --prompt "$PROMPT"
srv_next oa-chat-nousage
expect "$R/oa-chat-nousage.json" "openai chat stream without include_usage: no usage" ok=true \
	usage=null text_len=48
expect "$R/oa-chat-nousage.srv.json" "openai chat stream without include_usage: none sent" \
	llm.usage=null llm.usage_planned=null

# --- OpenAI SDK: Responses API, embeddings, models ------------------------------------------
for mode in plain stream; do
	s=()
	[ $mode = stream ] && s=(--stream)
	n=oa-resp-$mode
	sdk "$n" openai --api responses "${s[@]}" --prompt "$PROMPT" --system "$SYSTEM" \
		--model 'gpt-4.1' --sim 'cached=4; reasoning=6; out=3'
	srv_next "$n"
	expect "$R/$n.json" "openai responses ($mode): served model and usage" ok=true \
		model=gpt-4.1-2025-04-14 usage.input_tokens="$PS" usage.output_tokens=9 \
		usage.total_tokens=$((PS + 9)) usage.input_tokens_details.cached_tokens=4 \
		usage.output_tokens_details.reasoning_tokens=6 text='Simulated re' finish=completed
	same_usage "$n" "openai responses ($mode): SDK usage == usage the simulator sent"
done
sdk oa-resp-max openai --api responses --stream --prompt "$PROMPT" --max-tokens 2
srv_next oa-resp-max
expect "$R/oa-resp-max.json" "openai responses stream: max_output_tokens -> incomplete" \
	ok=true finish=incomplete usage.output_tokens=2 text_len=8

sdk oa-emb openai --api embeddings --input "$PROMPT" --input "$SYSTEM"
srv_next oa-emb
expect "$R/oa-emb.json" "openai embeddings (SDK's default base64 decoded): usage and vectors" \
	ok=true model=text-embedding-3-small usage.prompt_tokens="$PS" usage.total_tokens="$PS" \
	vectors=2 dims=8
same_usage oa-emb "openai embeddings: SDK usage == usage the simulator sent"
sdk oa-models openai --api models
srv_next oa-models
expect "$R/oa-models.json" "openai models.list()" ok=true ids.0=gpt-4o

# --- Azure OpenAI (AzureOpenAI client: deployment path, api-key, api-version) ---------------
for mode in plain stream; do
	s=()
	[ $mode = stream ] && s=(--stream)
	n=az-chat-$mode
	sdk "$n" openai --azure "${s[@]}" --model gpt-4o --key az-sim-key-1234 \
		--prompt "$PROMPT" --sim cached=1
	srv_next "$n"
	expect "$R/$n.json" "azure chat ($mode): served model and usage" ok=true \
		model=gpt-4o-2024-08-06 usage.prompt_tokens="$P" usage.completion_tokens=12 \
		usage.prompt_tokens_details.cached_tokens=1 text_len=48
	same_usage "$n" "azure chat ($mode): SDK usage == usage the simulator sent"
	expect "$R/$n.srv.json" "azure chat ($mode): server log" llm.provider=azure \
		llm.key_where=api-key llm.key_last4=1234 servername="$MLX_HOST_AZURE" \
		path="/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
done

# --- Anthropic SDK ---------------------------------------------------------------------------
# messages.stream() + finalMessage() (the SDK's accumulator), and raw create({stream: true}).
# The 1.x SDK sends an API key as "Authorization: Bearer", not x-api-key (curl below uses that).
for mode in plain stream raw; do
	s=()
	[ $mode = stream ] && s=(--stream)
	[ $mode = raw ] && s=(--stream --raw)
	n=an-$mode
	sdk "$n" anthropic "${s[@]}" --prompt "$PROMPT" --system "$SYSTEM" \
		--sim cached=2,cache_write=3
	srv_next "$n"
	expect "$R/$n.json" "anthropic messages ($mode): served model and usage" ok=true \
		model=claude-haiku-4-5-20251001 usage.input_tokens=$((PS - 5)) \
		usage.cache_read_input_tokens=2 usage.cache_creation_input_tokens=3 \
		usage.output_tokens=12 text_len=48 finish=end_turn
	same_usage "$n" "anthropic ($mode): SDK usage == usage the simulator sent" input_tokens \
		output_tokens cache_read_input_tokens cache_creation_input_tokens
	expect "$R/$n.srv.json" "anthropic ($mode): server log" llm.provider=anthropic \
		llm.endpoint=messages llm.model=claude-haiku-4-5 llm.key_where=authorization \
		servername="$MLX_HOST_ANTHROPIC" llm.completed=true
done
sdk an-max anthropic --stream --prompt "$PROMPT" --max-tokens 4 --model 'claude-opus-4-7~out=30'
srv_next an-max
expect "$R/an-max.json" "anthropic stream: model-name knob, max_tokens -> max_tokens stop" \
	ok=true model=claude-opus-4-7 usage.output_tokens=4 text_len=16 finish=max_tokens
expect "$R/an-max.srv.json" "anthropic: the log keeps the model as requested" \
	'llm.model=claude-opus-4-7~out=30' llm.served_model=claude-opus-4-7 llm.knobs.out=30
sdk an-count anthropic --api count --prompt "$PROMPT"
srv_next an-count
expect "$R/an-count.json" "anthropic messages.countTokens" ok=true usage.input_tokens="$P"

# --- Gemini SDK ------------------------------------------------------------------------------
for mode in plain stream; do
	s=()
	[ $mode = stream ] && s=(--stream)
	n=gm-$mode
	sdk "$n" gemini "${s[@]}" --prompt "$PROMPT" --system "$SYSTEM" \
		--model gemini-flash-latest --sim cached=2,reasoning=3
	srv_next "$n"
	expect "$R/$n.json" "gemini generateContent ($mode): served model and usageMetadata" \
		ok=true model=gemini-2.5-flash usage.promptTokenCount="$PS" \
		usage.candidatesTokenCount=12 usage.thoughtsTokenCount=3 \
		usage.cachedContentTokenCount=2 usage.totalTokenCount=$((PS + 15)) text_len=48 \
		finish=STOP
	same_usage "$n" "gemini ($mode): SDK usage == usage the simulator sent"
	expect "$R/$n.srv.json" "gemini ($mode): server log" llm.provider=gemini \
		llm.key_where=x-goog-api-key llm.model=gemini-flash-latest \
		servername="$MLX_HOST_GEMINI"
done
sdk gm-plainusage gemini --prompt "$PROMPT" --max-tokens 7
srv_next gm-plainusage
expect "$R/gm-plainusage.json" "gemini: zero counts omitted, maxOutputTokens -> MAX_TOKENS" \
	ok=true usage.thoughtsTokenCount=MISSING usage.cachedContentTokenCount=MISSING \
	usage.candidatesTokenCount=7 finish=MAX_TOKENS

# --- Errors: each SDK's normal error class, status and the provider's message ------------------
err_case() {	# <name> <prog> <knob> <class> <status> <message part> [args...]
	local n=$1 prog=$2 knob=$3 class=$4 status=$5 msg=$6 m
	shift 6
	sdk "$n" "$prog" --sim "error=$knob" "$@"
	srv_next "$n"
	expect "$R/$n.json" "$prog error=$knob $*: $class $status" ok=false \
		error.class="$class" error.api_error=true error.status="$status"
	m=$(jv "$R/$n.json" error.message)
	assert_contains "$prog error=$knob $*: message" "$m" "$msg"
}
for s in "" --stream; do
	err_case oa-e-auth${s:+-s} openai auth AuthenticationError 401 'Incorrect API key provided' $s
	err_case oa-e-rate${s:+-s} openai rate RateLimitError 429 'Rate limit reached' $s
	err_case oa-e-server${s:+-s} openai server InternalServerError 500 'The server had an error' $s
	err_case oa-e-bad${s:+-s} openai bad BadRequestError 400 'Invalid request' $s
	err_case an-e-auth${s:+-s} anthropic auth AuthenticationError 401 '"authentication_error"' $s
	err_case an-e-rate${s:+-s} anthropic rate RateLimitError 429 '"rate_limit_error"' $s
	err_case an-e-server${s:+-s} anthropic server InternalServerError 500 '"api_error"' $s
	err_case an-e-bad${s:+-s} anthropic bad BadRequestError 400 '"invalid_request_error"' $s
	err_case an-e-over${s:+-s} anthropic overloaded OverloadedError 529 '"overloaded_error"' $s
	err_case gm-e-auth${s:+-s} gemini auth ApiError 400 'API_KEY_INVALID' $s
	err_case gm-e-rate${s:+-s} gemini rate ApiError 429 '"RESOURCE_EXHAUSTED"' $s
	err_case gm-e-server${s:+-s} gemini server ApiError 500 '"INTERNAL"' $s
	err_case gm-e-bad${s:+-s} gemini bad ApiError 400 '"INVALID_ARGUMENT"' $s
done
err_case az-e-rate openai rate RateLimitError 429 'exceeded call rate limit' --azure
err_case oa-e-404 openai 404 NotFoundError 404 'does not exist' --model gpt-5-sim

# A key that the simulator rejects by itself, without a knob.
sdk oa-badkey openai --key sk-invalid-0000
srv_next oa-badkey
expect "$R/oa-badkey.json" "openai: a rejected key is an AuthenticationError" \
	error.class=AuthenticationError error.status=401
sdk an-badkey anthropic --key sk-ant-invalid-0000
srv_next an-badkey
expect "$R/an-badkey.json" "anthropic: a rejected key is an AuthenticationError" \
	error.class=AuthenticationError error.status=401

# --- Stream cut mid-way (reset before the usage) and in-stream errors ---------------------------
for c in "oa-cut openai" "oa-rcut openai --api responses" "an-cut anthropic" "gm-cut gemini"; do
	read -r n prog extra <<<"$c"
	# shellcheck disable=SC2086
	sdk "$n" "$prog" --stream --sim cut=3 --prompt "$PROMPT" $extra
	srv_next "$n"
	expect "$R/$n.json" "$prog ${extra:+$extra }stream cut after 3 deltas: the SDK fails, after 12 chars" \
		ok=false error.api_error=false partial.text_len=12
	expect "$R/$n.srv.json" "$prog ${extra:+$extra }cut: logged as cut, not completed" \
		llm.cut=true llm.completed=false
done
expect "$R/oa-cut.srv.json" "openai cut: no usage was sent" llm.usage=null
expect "$R/oa-cut.json" "openai cut: the SDK saw no usage" partial.usage=null
expect "$R/an-cut.srv.json" "anthropic cut: only message_start's usage was sent" \
	llm.usage.input_tokens="$P" llm.usage.output_tokens=1 llm.usage_planned.output_tokens=12
expect "$R/gm-cut.srv.json" "gemini cut: the last usageMetadata sent counts 3" \
	llm.usage.candidatesTokenCount=3
expect "$R/gm-cut.json" "gemini cut: the SDK saw that usageMetadata" \
	partial.usage.candidatesTokenCount=3 partial.usage.totalTokenCount=$((P + 3))

sdk oa-cutplain openai --sim cut=1
srv_next oa-cutplain
expect "$R/oa-cutplain.json" "openai non-stream cut mid-body: a connection error" ok=false \
	error.api_error=false

sdk oa-serr openai --stream --sim stream_error=2
srv_next oa-serr
expect "$R/oa-serr.json" "openai chat in-stream error: APIError with the message" ok=false \
	error.class=APIError error.api_error=true partial.text_len=8 \
	error.message='The server had an error while processing your request. Sorry about that!'
sdk oa-rserr openai --api responses --stream --sim stream_error=2
srv_next oa-rserr
expect "$R/oa-rserr.json" "openai responses in-stream failure: response.failed" ok=true \
	finish=failed usage=null
sdk an-serr anthropic --stream --sim stream_error=2
srv_next an-serr
expect "$R/an-serr.json" "anthropic in-stream error event: APIError overloaded_error" ok=false \
	error.class=APIError error.api_error=true error.type=overloaded_error partial.text_len=8
sdk gm-serr gemini --stream --sim stream_error=2
srv_next gm-serr
expect "$R/gm-serr.json" "gemini in-stream error chunk: ApiError 500" ok=false \
	error.class=ApiError error.status=500 partial.text_len=8
expect "$R/gm-serr.srv.json" "in-stream error logged" llm.error.type=stream_error \
	llm.completed=false

# --- Slow stream -----------------------------------------------------------------------------
t0=${EPOCHREALTIME/./}
sdk oa-slow openai --stream --sim delay=100,out=4
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
srv_next oa-slow
expect "$R/oa-slow.json" "slow stream completes" ok=true text_len=16
# 8 events (role, 4 deltas, finish, usage, [DONE]) 100 ms apart.
check "slow stream takes >= 800 ms ($ms ms)" test "$ms" -ge 800 -a "$ms" -lt 5000

# --- curl: h2 and http/1.1, SSE framing, keys --------------------------------------------------
OA_BODY='{"model":"gpt-4o","messages":[{"role":"system","content":"'"$SYSTEM"'"},{"role":"user","content":"'"$PROMPT"'"}]}'
for v in --http2 --http1.1; do
	n=curl-oa$v
	client_curl "$v" "https://$MLX_HOST_OPENAI/v1/chat/completions" \
		-H 'authorization: Bearer sk-proj-sim-5678' -H 'content-type: application/json' \
		-d "$OA_BODY" >"$R/$n.json"
	srv_next "$n"
	expect "$R/$n.json" "curl $v openai chat" model=gpt-4o-2024-08-06 \
		usage.prompt_tokens="$PS" usage.completion_tokens=12 object=chat.completion
	expect "$R/$n.srv.json" "curl $v: alpn logged" alpn="$([ $v = --http2 ] && echo h2 || echo http/1.1)"
done

U='héllo wörld ✓ ünïcödé – ok'
client_curl "https://$MLX_HOST_OPENAI/v1/chat/completions" -H 'authorization: Bearer sk-sim-0000' \
	-d '{"model":"gpt-4o","messages":[{"role":"user","content":"'"$U"'"}]}' >"$R/curl-u.json"
srv_next curl-u
expect "$R/curl-u.json" "prompt tokens count code points, not bytes" \
	usage.prompt_tokens="$(ptoks "$U")"

# Anthropic SSE over h2: the exact event sequence.
client_curl --http2 -N "https://$MLX_HOST_ANTHROPIC/v1/messages" -H 'x-api-key: sk-ant-api03-sim-9999' \
	-H 'anthropic-version: 2023-06-01' -H 'x-sim: out=3' \
	-d '{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"'"$PROMPT"'"}]}' \
	>"$R/curl-an.sse"
srv_next curl-an
expect "$R/curl-an.srv.json" "anthropic x-api-key found" llm.key_where=x-api-key llm.key_last4=9999 \
	alpn=h2
assert_eq "anthropic SSE event sequence (h2)" \
	"message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop" \
	"$(sed -n 's/^event: //p' "$R/curl-an.sse" | tr '\n' ' ' | sed 's/ $//')"
assert_contains "anthropic message_delta carries the cumulative usage" "$R/curl-an.sse" \
	'"usage":{"input_tokens":'"$P"',"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}'

# OpenAI Responses SSE: the typed events in order.
client_curl -N "https://$MLX_HOST_OPENAI/v1/responses" -H 'authorization: Bearer sk-sim-0000' \
	-d '{"model":"gpt-4o","input":"hi","stream":true}' -H 'x-sim: out=1' >"$R/curl-resp.sse"
srv_next curl-resp
assert_eq "responses SSE event types" \
	"response.created response.in_progress response.output_item.added response.content_part.added response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed" \
	"$(sed -n 's/^event: //p' "$R/curl-resp.sse" | tr '\n' ' ' | sed 's/ $//')"

# Gemini: ?key= (redacted in the log), SSE with \r\n\r\n, and the JSON-array stream.
GM_BODY='{"contents":[{"role":"user","parts":[{"text":"'"$PROMPT"'"}]}]}'
GKEY=AIzaSyRawKeyMustNotBeLogged42
client_curl "https://$MLX_HOST_GEMINI/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=$GKEY" \
	-H 'x-sim: out=2' -d "$GM_BODY" >"$R/curl-gm.sse"
srv_next curl-gm
assert_eq "gemini SSE: 2 chunks framed with CRLF CRLF" 2 "$(grep -c $'^data: .*\r$' "$R/curl-gm.sse")"
expect "$R/curl-gm.srv.json" "gemini ?key=: key found, redacted in the log" llm.key_where=query \
	path="/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=REDACTED"
assert_not_contains "the raw key appears nowhere in the server log" "$MLX_SERVER_LOG" "$GKEY"
client_curl "https://$MLX_HOST_GEMINI/v1beta/models/gemini-2.5-flash:streamGenerateContent" \
	-H "x-goog-api-key: $GKEY" -H 'x-sim: out=3' -d "$GM_BODY" >"$R/curl-gm-array.json"
srv_next curl-gm-array
expect "$R/curl-gm-array.json" "gemini stream without alt=sse: one JSON array" \
	2.usageMetadata.candidatesTokenCount=3 2.candidates.0.finishReason=STOP \
	1.candidates.0.content.parts.0.text=late

# Cuts seen by curl: RST_STREAM on h2, a truncated chunked body on http/1.1.
client_curl --http2 -N "https://$MLX_HOST_OPENAI/v1/chat/completions" -H 'authorization: Bearer sk-sim-0000' \
	-H 'x-sim: cut=2' -d '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	>"$R/curl-cut2.sse" 2>"$R/curl-cut2.err"
assert_eq "h2 cut: curl reports the stream reset (exit 92)" 92 "$?"
srv_next curl-cut2
assert_contains "h2 cut: INTERNAL_ERROR" "$R/curl-cut2.err" INTERNAL_ERROR
assert_eq "h2 cut: 2 text deltas arrived first" 2 "$(grep -c '"delta":{"content":"[^"]' "$R/curl-cut2.sse")"
client_curl --http1.1 -N "https://$MLX_HOST_OPENAI/v1/chat/completions" -H 'authorization: Bearer sk-sim-0000' \
	-H 'x-sim: cut=2' -d '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	>"$R/curl-cut1.sse" 2>"$R/curl-cut1.err"
rc=$?
srv_next curl-cut1
check "http/1.1 cut: curl fails (exit $rc: 18 partial or 56 recv)" test "$rc" = 18 -o "$rc" = 56

# Requests without a key, or without the provider's required headers.
st() { client_curl -o "$R/st.json" -w '%{http_code}' "$@"; }
assert_eq "openai without a key: 401" 401 \
	"$(st "https://$MLX_HOST_OPENAI/v1/chat/completions" -d "$OA_BODY")"
srv_next nokey-oa
assert_contains "openai without a key: OpenAI's message" "$R/st.json" "You didn't provide an API key"
assert_eq "anthropic without a key: 401" 401 "$(st "https://$MLX_HOST_ANTHROPIC/v1/messages" \
	-H 'anthropic-version: 2023-06-01' -d '{}')"
srv_next nokey-an
expect "$R/st.json" "anthropic without a key: authentication_error body" type=error \
	error.type=authentication_error 'error.message=x-api-key header is required'
assert_eq "anthropic without anthropic-version: 400" 400 "$(st "https://$MLX_HOST_ANTHROPIC/v1/messages" \
	-H 'x-api-key: sk-ant-api03-x' -d '{"model":"m","max_tokens":1,"messages":[]}')"
srv_next nover-an
assert_eq "gemini without a key: 403" 403 "$(st \
	"https://$MLX_HOST_GEMINI/v1beta/models/gemini-2.5-flash:generateContent" -d "$GM_BODY")"
srv_next nokey-gm
expect "$R/st.json" "gemini without a key: PERMISSION_DENIED" error.code=403 \
	error.status=PERMISSION_DENIED
assert_eq "azure without api-version: 404" 404 "$(st -H 'api-key: azkey-0001' \
	"https://$MLX_HOST_AZURE/openai/deployments/gpt-4o/chat/completions" -d "$OA_BODY")"
srv_next noversion-az
assert_eq "unknown x-sim knob: 400" 400 "$(st -H 'authorization: Bearer sk-sim-0000' \
	-H 'x-sim: nonsense=1' "https://$MLX_HOST_OPENAI/v1/chat/completions" -d "$OA_BODY")"
srv_next badknob
assert_contains "unknown x-sim knob: said so" "$R/st.json" "unknown knob 'nonsense'"
assert_eq "the other routes are unchanged: unknown path 404" 404 \
	"$(st "https://$MLX_HOST_OPENAI/v1/nothing")"

# --- Python requests (http/1.1) and httpx --------------------------------------------------------
cat >"$R/py_openai_stream.py" <<'EOF'
import json, sys, requests
url, body = sys.argv[1], json.loads(sys.argv[2])
r = requests.post(url, json=body, stream=True, timeout=20,
                  headers={"authorization": "Bearer sk-sim-py-0000"})
r.raise_for_status()
usage, model, text, done = None, None, "", False
for line in r.iter_lines(decode_unicode=True):
    if not line.startswith("data: "):
        continue
    data = line[6:]
    if data == "[DONE]":
        done = True
        continue
    c = json.loads(data)
    model = c["model"]
    usage = c.get("usage") or usage
    for ch in c["choices"]:
        text += ch["delta"].get("content") or ""
print(json.dumps({"model": model, "usage": usage, "text_len": len(text), "done": done}))
EOF
REQUESTS_CA_BUNDLE=$MLX_TEST_CA in_client "$MLX_PY" "$R/py_openai_stream.py" \
	"https://$MLX_HOST_OPENAI/v1/chat/completions" \
	'{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"'"$PROMPT"'"}]}' \
	>"$R/py-req.json" 2>"$R/py-req.err"
srv_next py-req
expect "$R/py-req.json" "python requests: openai chat stream, usage chunk and [DONE]" \
	model=gpt-4o-2024-08-06 usage.prompt_tokens="$P" usage.completion_tokens=12 text_len=48 \
	done=true

cat >"$R/py_httpx.py" <<'EOF'
import json, sys, httpx
an_url, gm_url, prompt, ca = sys.argv[1:5]
out = {}
with httpx.Client(verify=ca, timeout=20) as c:
    body = {"model": "claude-haiku-4-5", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": prompt}]}
    hdr = {"x-api-key": "sk-ant-api03-httpx-0000", "anthropic-version": "2023-06-01"}
    usage, event = {}, None
    with c.stream("POST", an_url, json=body, headers=hdr) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            line = line.rstrip("\r\n")  # older httpx keeps the line ending
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("message_start", "message_delta"):
                d = json.loads(line[6:])
                usage.update(d["message"]["usage"] if event == "message_start" else d["usage"])
    out["anthropic"] = usage
    r = c.post(gm_url, json={"contents": [{"parts": [{"text": prompt}]}]},
               headers={"x-goog-api-key": "AIza-httpx-0000"})
    r.raise_for_status()
    out["gemini"] = r.json()["usageMetadata"]
    out["gemini_model"] = r.json()["modelVersion"]
print(json.dumps(out))
EOF
in_client "$MLX_PY" "$R/py_httpx.py" "https://$MLX_HOST_ANTHROPIC/v1/messages" \
	"https://$MLX_HOST_GEMINI/v1beta/models/gemini-2.5-pro:generateContent" "$PROMPT" \
	"$MLX_TEST_CA" >"$R/py-httpx.json" 2>"$R/py-httpx.err"
srv_next py-httpx-an
srv_next py-httpx-gm
expect "$R/py-httpx.json" "python httpx: anthropic stream usage and gemini usageMetadata" \
	anthropic.input_tokens="$P" anthropic.output_tokens=12 gemini.promptTokenCount="$P" \
	gemini.totalTokenCount=$((P + 12)) gemini_model=gemini-2.5-pro

integ_finish

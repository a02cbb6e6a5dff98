/* llm: provider awareness for one intercepted LLM API exchange. Owns an llm_call per exchange
 * (everything it reports, the parsed request, one SSE event or one capped JSON body); borrows
 * nothing past each call: it is fed copies of the bytes as they pass and never holds them up.
 *
 * Use: llm_call_new() with the request head, llm_request_body() with the whole request body, then
 * llm_response_head(), llm_response_data() with the response body exactly as it streams (any
 * split; Content-Encoding gzip/deflate is decoded here, HTTP framing must already be removed),
 * llm_response_end(), and read llm_info() at any time. One thread at a time per call.
 *
 * Usage is normalized so that cost needs no provider knowledge:
 *   input        every input token, cached and cache-written ones included
 *                (Anthropic: input_tokens + cache_read_input_tokens + cache_creation_input_tokens;
 *                 Gemini: promptTokenCount + toolUsePromptTokenCount)
 *   cached_input input tokens read from a cache (OpenAI *_tokens_details.cached_tokens, DeepSeek
 *                prompt_cache_hit_tokens, Anthropic cache_read_input_tokens, Gemini
 *                cachedContentTokenCount); part of input
 *   cache_write  input tokens written to a cache (Anthropic cache_creation_input_tokens); part of
 *                input
 *   output       every generated token, reasoning included
 *                (Gemini: candidatesTokenCount + thoughtsTokenCount)
 *   reasoning    reasoning tokens (OpenAI *_tokens_details.reasoning_tokens, Gemini
 *                thoughtsTokenCount); part of output
 *
 * Final usage: OpenAI's usage object (the last chunk with include_usage, Groq's x_groq.usage, a
 * whole body), the Responses API's response.completed/incomplete/failed, Anthropic's
 * message_delta or whole message, Gemini's usageMetadata once a candidate has a finishReason (or,
 * Gemini repeating its running totals on every chunk, the last one of a stream that ended
 * complete and without an error).
 *
 * Estimates. When the exchange ends without final usage (a stream cut early, a chat stream
 * without stream_options.include_usage, a body that could not be read) on a billed endpoint
 * (not "other" or "count_tokens") and the response was 2xx or never came, the usage is estimated
 * and usage_estimated is set:
 *   output = max(output already reported, ceil(G / 4)), G = bytes of generated text seen (text,
 *            refusal, reasoning/thinking and tool-argument deltas or message parts, JSON-decoded;
 *            a skipped oversized event counts with its whole size; a body that could not be
 *            parsed, or not decoded at all, counts with all its bytes)
 *   input  = input already reported (Anthropic message_start, a Gemini chunk's usageMetadata), or
 *            else ceil(T / 4), T = bytes of the request's text parts (attachments count nothing;
 *            a request body that is not JSON counts with all its bytes)
 * Error responses (status >= 300) carry no usage and are not estimated. */
#ifndef MODELUX_LLM_H
#define MODELUX_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hook.h"

/* Caps; each call can lower them with llm_call_set_limits(). */
#ifndef LLM_SSE_EVENT_CAP
#define LLM_SSE_EVENT_CAP (1u << 20) /* one SSE event's data; larger ones are skipped, counted */
#endif
#ifndef LLM_JSON_BODY_CAP
#define LLM_JSON_BODY_CAP (8u << 20) /* a non-SSE response body kept for parsing at its end */
#endif
#ifndef LLM_REQUEST_BODY_CAP
#define LLM_REQUEST_BODY_CAP (64u << 20) /* request bodies beyond this are not parsed */
#endif
#ifndef LLM_DECODED_CAP
#define LLM_DECODED_CAP (256u << 20) /* decompressed response bytes looked at, in all */
#endif
#define LLM_STRING_CAP 1024   /* model names, error types/codes/messages: longer is cut */
#define LLM_BYTES_PER_TOKEN 4 /* the estimate's bytes-per-token rule */

enum llm_provider {
	LLM_PROVIDER_UNKNOWN = 0,
	LLM_PROVIDER_OPENAI,
	LLM_PROVIDER_AZURE_OPENAI,
	LLM_PROVIDER_ANTHROPIC,
	LLM_PROVIDER_GEMINI,
	LLM_PROVIDER_GROQ,
	LLM_PROVIDER_MISTRAL,
	LLM_PROVIDER_XAI,
	LLM_PROVIDER_OPENROUTER,
	LLM_PROVIDER_DEEPSEEK,
	LLM_PROVIDER_TOGETHER,
	LLM_PROVIDER_PERPLEXITY,
	LLM_PROVIDER_COHERE,
};

/* The wire format an endpoint speaks (xAI and DeepSeek also serve Anthropic-style messages,
 * Gemini an OpenAI-style chat endpoint). */
enum llm_dialect {
	LLM_DIALECT_NONE = 0,
	LLM_DIALECT_OPENAI,
	LLM_DIALECT_ANTHROPIC,
	LLM_DIALECT_GEMINI,
};

enum llm_endpoint {
	LLM_EP_OTHER = 0,	 /* "other": anything not below, and every non-POST */
	LLM_EP_CHAT_COMPLETIONS, /* "chat.completions" */
	LLM_EP_COMPLETIONS,	 /* "completions" (legacy text completions) */
	LLM_EP_RESPONSES,	 /* "responses" */
	LLM_EP_EMBEDDINGS,	 /* "embeddings" */
	LLM_EP_MESSAGES,	 /* "messages" */
	LLM_EP_COUNT_TOKENS, /* "count_tokens" (Anthropic messages/count_tokens, Gemini countTokens)
			      */
	LLM_EP_GENERATE_CONTENT,	/* "generateContent" */
	LLM_EP_STREAM_GENERATE_CONTENT, /* "streamGenerateContent" */
	LLM_EP_EMBED_CONTENT,		/* "embedContent" */
	LLM_EP_BATCH_EMBED_CONTENTS,	/* "batchEmbedContents" */
	LLM_EP_REALTIME, /* "realtime": OpenAI's Realtime API, a WebSocket session (GET) */
};

struct llm_usage {
	uint64_t input, output, cached_input, cache_write, reasoning; /* see the top of this file */
};

/* What the call was, so far. Strings are owned by the call, NUL-terminated, control characters
 * replaced by '?', cut to LLM_STRING_CAP; NULL when not known. */
struct llm_info {
	enum llm_provider provider;
	const char *provider_name; /* "openai", "azure-openai", ... "unknown" (config's names) */
	enum llm_dialect dialect;
	enum llm_endpoint endpoint;
	const char *endpoint_name;

	/* request */
	bool request_parsed; /* the body was a JSON object and was read */
	const char
	    *model_requested;	/* body "model"; Gemini: path models/{model}; Azure: deployment */
	bool is_deployment;	/* model_requested names an Azure deployment, not a model */
	bool model_ambiguous;	/* the body has "model" more than once at its top level */
	bool stream;		/* "stream": true, or streamGenerateContent */
	bool include_usage;	/* stream_options.include_usage: true */
	int64_t max_tokens;	/* max_tokens / max_completion_tokens / max_output_tokens /
				   generationConfig.maxOutputTokens; -1 when absent */
	uint32_t n_messages;	/* messages / input items / contents / embedding inputs */
	uint32_t n_attachments; /* image, audio, file and document parts */
	uint64_t request_text_bytes; /* bytes of the request's text parts (for the estimate) */

	/* response */
	int status;		  /* 0 until llm_response_head() */
	bool sse;		  /* the response was read as an event stream */
	const char *model_served; /* response "model" / "modelVersion" */
	struct llm_usage usage;
	bool has_usage;		/* usage holds numbers (reported, partly reported or estimated) */
	bool usage_estimated;	/* see the top of this file */
	bool complete;		/* llm_response_end(complete=true) */
	const char *error_type; /* provider error type (OpenAI type, Anthropic error.type,
				   Gemini status); also from a mid-stream error event */
	const char *error_code; /* OpenAI code / Gemini numeric code, when given */
	const char *error_message;
	uint64_t generated_text_bytes; /* G of the estimate rule */
	uint64_t response_bytes;       /* body bytes fed (before decoding) */
	uint64_t sse_events;	       /* events dispatched, skipped ones included */
	uint64_t oversized_events;     /* events skipped for size */
	bool body_truncated;	       /* a JSON body over its cap: not parsed */
	bool body_undecodable;	       /* a Content-Encoding we cannot decode (br, zstd, ...) or a
					  corrupt one: the body was not read */
};

struct llm_call;

/* llm_provider_from_host - the provider serving <host> (authority or SNI; a port, a trailing dot
 * and letter case are ignored), LLM_PROVIDER_UNKNOWN when none. */
enum llm_provider llm_provider_from_host(const char *host);
const char *llm_provider_name(enum llm_provider p);
const char *llm_endpoint_name(enum llm_endpoint e);
const char *llm_dialect_name(enum llm_dialect d);

/* llm_call_new - a call for the request <method> <path> (request target, query included) sent
 * to <host>, with its header fields <fields>/<nfields> (may be NULL/0). An unknown host still
 * gets a dialect guessed from the path. NULL only when out of memory. */
struct llm_call *llm_call_new(const char *host, const char *method, const char *path,
			      const struct http_field *fields, size_t nfields);

/* llm_call_set_limits - lower the SSE event cap and the JSON body cap (0 keeps a value); before
 * any response data. */
void llm_call_set_limits(struct llm_call *c, size_t sse_event_cap, size_t json_body_cap);

/* llm_request_body - the whole request body, once. 0 when read; -EBADMSG when not a JSON object
 * (or not UTF-8), -E2BIG over LLM_REQUEST_BODY_CAP, -ENOTSUP for an encoded or non-JSON body,
 * -EALREADY on a second call, -ENOMEM. What the path says (Gemini model, Azure deployment,
 * endpoint) is known even when this fails. */
int llm_request_body(struct llm_call *c, const char *body, size_t len);

/* llm_response_head - the response status and header fields (Content-Type decides SSE or JSON,
 * Content-Encoding the decoding). */
void llm_response_head(struct llm_call *c, int status, const struct http_field *fields,
		       size_t nfields);

/* llm_response_data - <len> more body bytes, split anywhere. */
void llm_response_data(struct llm_call *c, const char *data, size_t len);

/* llm_response_end - the exchange is over; <complete> is false when it was cut (reset, timeout,
 * proxy error). Parses a kept JSON body and settles the usage (estimated when needed). Further
 * calls do nothing. */
void llm_response_end(struct llm_call *c, bool complete);

/* llm_info - the call's state; valid until the next llm_* call on <c>. */
const struct llm_info *llm_info(const struct llm_call *c);

/* Each text part of the request in order, with its role ("system", "developer", "user",
 * "assistant", "tool", "model", "function", "input" for embeddings and prompts): message text,
 * system/instructions, tool results and tool-call arguments. <text> is not NUL-terminated (JSON
 * allows NUL inside). Return nonzero to stop; llm_request_text_foreach() returns that value, 0
 * after the last part, -ENOENT when the request body was not read. */
typedef int (*llm_text_cb)(void *ctx, const char *role, const char *text, size_t len);
int llm_request_text_foreach(const struct llm_call *c, llm_text_cb cb, void *ctx);

/* llm_request_strings_foreach - every string of the request body, decoded, with the member
 * name holding it as <role> (object keys themselves come with role "key"): for scanners that must
 * not miss text outside the conversation (metadata, tool definitions) or escaped spellings. Same
 * returns as llm_request_text_foreach(). */
int llm_request_strings_foreach(const struct llm_call *c, llm_text_cb cb, void *ctx);

/* llm_request_forget - drop the kept request tree early (text iteration then returns -ENOENT). */
void llm_request_forget(struct llm_call *c);

/* ---- rewriting a request to another model (downgrades) ---- */

struct llm_rewrite {
	char *body;	 /* new body, malloc'ed; NULL when the body stays as it was */
	size_t body_len; /* set Content-Length to this */
	char *path;	 /* new request target, malloc'ed; NULL when the path stays as it was */
};

/* llm_rewrite_model - make the request of <c> ask for <model> instead. <body>/<len> is the
 * original body (as given to llm_request_body()). OpenAI-style and Anthropic bodies get every
 * top-level "model" value replaced, every other byte kept; Gemini gets a new path
 * (models/<model>:method, query kept); Azure deployment paths get the deployment segment replaced
 * (and a body "model" too, if any). <model> must be 1..256 bytes of printable ASCII other than
 * '"' and '\', and for paths only [A-Za-z0-9._-] (a "models/" prefix is accepted for Gemini).
 * 0 on success; -EINVAL for a bad <model> or no model to replace; -EBADMSG when <body> is not
 * a JSON object; -ENOMEM. <err> gets a message on failure. */
int llm_rewrite_model(const struct llm_call *c, const char *body, size_t len, const char *model,
		      struct llm_rewrite *out, char *err, size_t errlen);
void llm_rewrite_free(struct llm_rewrite *rw);

/* llm_json_replace_model - the body half of llm_rewrite_model(): <body> with every top-level
 * "model" member's value replaced by the JSON string <model>; *out is malloc'ed. Returns the
 * number of members replaced (0: none, *out is NULL) or a negative errno as above. */
int llm_json_replace_model(const char *body, size_t len, const char *model, char **out,
			   size_t *out_len, char *err, size_t errlen);

/* ---- answering a request ourselves (blocks), in the provider's own error shape ---- */

struct llm_reply {
	int status;
	const char *content_type; /* static string */
	char *body;		  /* malloc'ed */
	size_t body_len;
	/* A header field to add: "x-should-retry: false" so the OpenAI and Anthropic SDKs (which
	 * otherwise retry 429 and 5xx twice) raise at once. */
	const char *extra_name, *extra_value;
};

/* llm_error_reply - an error answer for <dialect> (NONE answers like OpenAI):
 *   OpenAI    <status> {"error":{"message":M,"type":"modelux_policy","param":null,"code":C}}
 *   Anthropic <status> {"type":"error","error":{"type":T,"message":M}} with T the type the API
 *             uses for that status (403 permission_error, 429 rate_limit_error, ...)
 *   Gemini    <status> {"error":{"code":<status>,"message":M,"status":S,"details":[ErrorInfo
 *             reason=C upper-cased, domain "modelux"]}} with S the RPC status name
 * With <as_sse> (OpenAI and Anthropic only) the same error is sent as a 200 event stream instead:
 * OpenAI chat `data: {"error":{...}}`, OpenAI responses (<responses>) `event: error` with
 * {"type":"error","code","message","param"}, Anthropic `event: error` with the body above. The
 * SDKs raise on both, but only the plain status answer gives their typed exception
 * (PermissionDeniedError, RateLimitError, ...) and lets the HTTP status be logged, so it is the
 * right answer before a stream started; SSE is for an error inside an already started stream.
 * Gemini has no such form (the genai SDKs raise only on a non-2xx status): always plain. <code>
 * is a short snake_case reason ("blocked_by_policy", "budget_exceeded"). 0, -EINVAL (status not
 * 400..599, NULL message) or -ENOMEM. */
int llm_error_reply(enum llm_dialect dialect, bool as_sse, bool responses, int status,
		    const char *code, const char *message, struct llm_reply *out);

/* llm_call_error_reply - llm_error_reply() for the dialect and endpoint of <c>; plain status. */
int llm_call_error_reply(const struct llm_call *c, int status, const char *code,
			 const char *message, struct llm_reply *out);
void llm_reply_free(struct llm_reply *r);

/* llm_call_free - release <c> and everything llm_info() pointed to. NULL is fine. */
void llm_call_free(struct llm_call *c);

#endif

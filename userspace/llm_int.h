/* llm_int: the llm module's insides, shared by its files (llm.c, llm_route.c, llm_json.c,
 * llm_openai.c, llm_anthropic.c, llm_gemini.c, llm_error.c, llm_rewrite.c, llm_inflate.c) and
 * by tests that reach them. Not for use outside the module. */
#ifndef MODELUX_LLM_INT_H
#define MODELUX_LLM_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llm.h"
#include "llm_sse.h"
#include "wsframe.h"

enum llm_body_kind {
	LLM_BODY_NONE = 0, /* no response head yet */
	LLM_BODY_SSE,	   /* event stream: parsed event by event */
	LLM_BODY_JSON,	   /* kept (capped) and parsed at the end */
	LLM_BODY_IGNORE,   /* not readable (encoding) or nothing to read */
	LLM_BODY_WEBSOCKET, /* after a 101 to a Realtime upgrade: the provider's frames */
};

struct llm_inflate;

struct llm_call {
	struct llm_info info; /* its strings point into the owned copies below */
	char *path;	      /* request target, for rewrites */
	char *model_requested, *model_served, *error_type, *error_code, *error_message;
	bool model_from_path; /* Gemini model / Azure deployment: the body's "model" does not count
			       */
	bool request_fed, request_unreadable;
	json_t *req; /* the parsed request, kept for text iteration */

	/* response */
	enum llm_body_kind body_kind;
	size_t sse_cap, json_cap;
	struct llm_sse sse;
	char *body;
	size_t body_len, body_alloc;
	struct llm_inflate *inflate;
	uint64_t decoded_bytes;
	bool ended;
	bool usage_final;   /* the provider's last word on usage arrived */
	bool usage_partial; /* some usage numbers arrived (maybe not final) */

	/* Anthropic reports its counts in separate events: the raw ones, -1 until seen. */
	int64_t an_input, an_output, an_cache_read, an_cache_write;
	/* Gemini: a candidate's finishReason arrived (its usage after that is the last word). */
	bool gm_finished;
	/* Realtime (LLM_BODY_WEBSOCKET): the provider's side of the session, and the usage of
	 * its responses so far (each response.done reports its own). */
	struct wsframe ws;
	struct llm_usage rt_usage;
	uint32_t rt_open; /* responses created and not yet done */
};

/* One wire format: how to read its requests, stream events and whole bodies. */
struct llm_dialect_ops {
	void (*request)(struct llm_call *c, json_t *root);
	int (*text_foreach)(json_t *root, enum llm_endpoint ep, llm_text_cb cb, void *ctx);
	void (*event)(struct llm_call *c, const char *type, json_t *data); /* one SSE event */
	void (*body)(struct llm_call *c, json_t *root); /* a whole body or one array element */
};

extern const struct llm_dialect_ops llm_openai_ops;
extern const struct llm_dialect_ops llm_anthropic_ops;
extern const struct llm_dialect_ops llm_gemini_ops;

/* llm_route.c: dialect, endpoint and path-borne model of <c> from its host, method and path. */
void llm_route(struct llm_call *c, const char *method, const char *path);

/* llm.c: the usage the provider reported (replacing what was there); <final> when it is the
 * provider's last word. */
void llm_usage_report(struct llm_call *c, const struct llm_usage *u, bool final);

/* llm_json.c */
int64_t llm_json_count(json_t *obj, const char *key); /* a non-negative count, -1 if absent */
json_t *llm_json_path(json_t *obj, const char *a, const char *b); /* obj.a.b or NULL */
bool llm_json_true(json_t *obj, const char *key);
/* Replace <*slot> by a sanitized, capped copy of <s>/<len>; the info field <*pub> follows it. */
void llm_set_string(char **slot, const char **pub, const char *s, size_t len);
void llm_set_json_string(char **slot, const char **pub, json_t *str);
/* Add the byte length of the JSON string <str> (if it is one) to the generated text. */
void llm_add_text(struct llm_call *c, json_t *str);
/* Elements of the top-level JSON array in <buf>, each parsed and passed to <cb>; stops at the
 * first incomplete or invalid element (a cut stream). Returns how many were passed, -1 when
 * <buf> does not start an array. */
int llm_json_array_each(const char *buf, size_t len, void (*cb)(void *ctx, json_t *el), void *ctx);

/* A byte range of a body. */
struct llm_span {
	size_t off, len;
};
/* The values of every top-level member named <key> (escapes in names decoded) of the JSON
 * object in <buf>, up to <max> of them in <spans>. Returns the number found (may exceed <max>),
 * or -EBADMSG when <buf> is not a well-formed object. */
int llm_json_members(const char *buf, size_t len, const char *key, struct llm_span *spans,
		     size_t max);

/* llm_error.c: a provider error object in <root> ({"error":{...}} in any of the three shapes, or
 * the Responses stream's {"type":"error","code","message"}) recorded on <c>. */
bool llm_error_from_json(struct llm_call *c, json_t *root);

/* llm_realtime.c: one WebSocket message from the provider in a Realtime session. */
void llm_realtime_message(void *ctx, int opcode, const char *p, size_t len, bool compressed);
/* llm_openai.c: an OpenAI-shaped usage object (also OpenRouter, DeepSeek, Groq, Perplexity). */
bool llm_openai_usage(json_t *usage, struct llm_usage *out);

/* llm_inflate.c: Content-Encoding decoding. */
enum llm_coding {
	LLM_CODING_IDENTITY = 0,
	LLM_CODING_GZIP,
	LLM_CODING_DEFLATE,
	LLM_CODING_UNKNOWN,
};
enum llm_coding llm_coding_parse(const char *v, size_t len);
struct llm_inflate *llm_inflate_new(enum llm_coding coding);
/* Decode <len> bytes, passing output to <sink> in pieces; -1 on corrupt input (then stays -1). */
int llm_inflate_feed(struct llm_inflate *z, const char *p, size_t len,
		     void (*sink)(void *ctx, const char *p, size_t len), void *ctx);
void llm_inflate_free(struct llm_inflate *z);

/* Header field lookup, case-insensitive; NULL when absent. */
const struct http_field *llm_field_find(const struct http_field *f, size_t n, const char *name);

#endif

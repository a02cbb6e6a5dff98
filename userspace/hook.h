/* hook: the point where provider awareness, keys, policy and budgets plug into intercepted HTTP.
 * An exchange is one request/response pair. The proxy calls the hook with the request head before
 * forwarding anything; the hook may answer at once, let it go, or hold it until the whole body
 * has arrived and then answer, forward it, or forward a rewritten body and path. Request body
 * data is shown as it passes, response events as they stream. Header fields named x-modelux-*
 * are for the agent (e.g. X-Modelux-Tags): the hook sees them, the provider never does.
 * Owns nothing: every pointer is valid only during the call. */
#ifndef MODELUX_HOOK_H
#define MODELUX_HOOK_H

#include <stddef.h>
#include <stdint.h>

struct http_field {
	const char *name, *value;
	size_t name_len, value_len;
};

struct http_exchange {
	uint64_t flow_id;
	uint64_t seq;            /* 1, 2, ... within the connection */
	const char *provider;    /* configured provider name */
	const char *sni;
	const char *proto;       /* "http/1.1" or "h2" on the client side */
	const char *method;
	const char *path;        /* request target as received (may carry secrets in the query) */
	const char *authority;
	const struct http_field *fields; /* request header fields as received */
	size_t nfields;
	int status;              /* response status once known, else 0 */
	const struct http_field *resp_fields; /* response fields, during response_head only */
	size_t resp_nfields;
	/* who: from the kernel's record of the connecting process */
	uint32_t pid, uid;
	const char *exe, *username;
	/* filled before response_end */
	int64_t ttfb_ms;         /* request start to response head, -1 when none came */
	uint64_t req_body_bytes, resp_body_bytes;
	void *user;              /* the hook's per-exchange state */
};

enum hook_verdict {
	HOOK_FORWARD = 0, /* send the request on */
	HOOK_ANSWER = 1,  /* do not contact the provider: answer with <ans> */
	HOOK_HOLD = 2,    /* request_head only: keep the request until its body is whole, then
			   * call request_body (bodies over hold_max are answered 413) */
	HOOK_REWRITE = 3, /* request_body only: forward <rw> instead */
};

struct hook_answer {
	int status;
	const char *content_type;
	const char *body;
	size_t body_len;
	const char *extra_name, *extra_value; /* one more response field (lowercase), or NULL */
};

/* A rewritten request: the body replaces the received one (its length and framing are
 * recomputed for each protocol); <path>, when not NULL, replaces the request target. Both are
 * copied by the proxy. */
struct hook_rewrite {
	const char *body;
	size_t body_len;
	const char *path;
};

struct http_hook {
	/* Before anything is forwarded. May fill <ans> and return HOOK_ANSWER, or HOOK_HOLD. */
	enum hook_verdict (*request_head)(void *ctx, struct http_exchange *ex, struct hook_answer *ans);
	/* Held requests: the whole body. Returns HOOK_FORWARD, HOOK_ANSWER (<ans>) or
	 * HOOK_REWRITE (<rw>). */
	enum hook_verdict (*request_body)(void *ctx, struct http_exchange *ex, const char *body,
					  size_t len, struct hook_answer *ans, struct hook_rewrite *rw);
	void (*request_data)(void *ctx, struct http_exchange *ex, const char *data, size_t len);
	void (*response_head)(void *ctx, struct http_exchange *ex);
	void (*response_data)(void *ctx, struct http_exchange *ex, const char *data, size_t len);
	/* <reset> is nonzero when the exchange ended abnormally (either side broke off). */
	void (*response_end)(void *ctx, struct http_exchange *ex, int reset);
	void *ctx;
	size_t hold_max; /* largest body a held request may have (0: 32 MiB) */
};

#endif

/* hook: the point where provider awareness, keys, policy and budgets plug into intercepted HTTP.
 * An exchange is one request/response pair. The proxy calls the hook with the request head before
 * forwarding anything, with request body data as it passes, and with response events as they
 * stream. Owns nothing: every pointer is valid only during the call. */
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
	void *user;              /* the hook's per-exchange state */
};

enum hook_verdict {
	HOOK_FORWARD = 0, /* send the request on */
	HOOK_ANSWER = 1,  /* do not contact the provider: answer with <answer_*> below */
};

struct hook_answer {
	int status;
	const char *content_type;
	const char *body;
	size_t body_len;
};

struct http_hook {
	/* Before anything is forwarded. May fill <ans> and return HOOK_ANSWER. */
	enum hook_verdict (*request_head)(void *ctx, struct http_exchange *ex, struct hook_answer *ans);
	void (*request_data)(void *ctx, struct http_exchange *ex, const char *data, size_t len);
	void (*response_head)(void *ctx, struct http_exchange *ex);
	void (*response_data)(void *ctx, struct http_exchange *ex, const char *data, size_t len);
	/* <reset> is nonzero when the exchange ended abnormally (either side broke off). */
	void (*response_end)(void *ctx, struct http_exchange *ex, int reset);
	void *ctx;
};

#endif

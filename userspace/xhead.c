/* xhead: see xhead.h. Inputs were validated by h1_parse_head or nghttp2; outputs are validated
 * again by h1_write_* and h2conn_submit_*, so this file decides which fields cross, in what
 * shape, and copies them into one allocation per head. */
#include "xhead.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2conv.h"

struct xfield_list {
	struct http_field f[H2_MAX_FIELDS > H1_MAX_HEADERS ? H2_MAX_FIELDS : H1_MAX_HEADERS];
	size_t n;
};

/* Scratch space per worker thread, not per message: conversions run one at a time and the
 * results are copied into the head's own allocation. */
static __thread struct xfield_list scratch_list;
static __thread struct h1_header
    scratch_h1[(H2_MAX_FIELDS > H1_MAX_HEADERS ? H2_MAX_FIELDS : H1_MAX_HEADERS) + 2];
static __thread char scratch_cookies[H2_MAX_HEAD];

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static bool ieq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lit[i])
			return false;
	return true;
}

/* Fields that describe one hop, or that each side writes itself. */
static bool is_hop_or_framing(const char *name, size_t len, bool request)
{
	if (ieq(name, len, "connection") || ieq(name, len, "keep-alive") ||
	    ieq(name, len, "proxy-connection") || ieq(name, len, "transfer-encoding") ||
	    ieq(name, len, "upgrade") || ieq(name, len, "content-length") ||
	    ieq(name, len, "http2-settings"))
		return true;
	return request &&
	       (ieq(name, len, "host") || ieq(name, len, "te") || ieq(name, len, "expect"));
}

static int64_t parse_length(const char *v, size_t len)
{
	int64_t n = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* Copy the strings and fields into one allocation; names lowercased. */
static int build(struct xhead *x, const char *const strs[4], const size_t lens[4],
		 const struct xfield_list *l)
{
	size_t total = 0;
	char *p;

	for (int i = 0; i < 4; i++)
		if (strs[i])
			total += lens[i] + 1;
	for (size_t i = 0; i < l->n; i++)
		total += l->f[i].name_len + l->f[i].value_len + 2;
	x->mem = malloc(l->n * sizeof(struct http_field) + total + 1);
	if (!x->mem)
		return -ENOMEM;
	x->fields = (struct http_field *)x->mem;
	x->nfields = l->n;
	p = x->mem + l->n * sizeof(struct http_field);
	const char **dst[4] = {&x->method, &x->scheme, &x->authority, &x->path};

	for (int i = 0; i < 4; i++) {
		*dst[i] = NULL;
		if (!strs[i])
			continue;
		memcpy(p, strs[i], lens[i]);
		p[lens[i]] = '\0';
		*dst[i] = p;
		p += lens[i] + 1;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct http_field *f = &x->fields[i];

		for (size_t k = 0; k < l->f[i].name_len; k++)
			p[k] = lower(l->f[i].name[k]);
		p[l->f[i].name_len] = '\0';
		f->name = p;
		f->name_len = l->f[i].name_len;
		p += f->name_len + 1;
		memcpy(p, l->f[i].value, l->f[i].value_len);
		p[l->f[i].value_len] = '\0';
		f->value = p;
		f->value_len = l->f[i].value_len;
		p += f->value_len + 1;
	}
	return 0;
}

/* Provider responses must stay readable by the agent (usage is in the body): codings beyond
 * gzip and deflate are not offered to the provider. */
static void narrow_accept_encoding(struct http_field *f)
{
	if (ieq(f->name, f->name_len, "accept-encoding") &&
	    (memmem(f->value, f->value_len, "br", 2) ||
	     memmem(f->value, f->value_len, "zstd", 4))) {
		f->value = "gzip, deflate";
		f->value_len = 13;
	}
}

static void h1_fields(const struct h1_head *h, bool request, struct xfield_list *l)
{
	l->n = 0;
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *f = &h->headers[i];

		if (is_hop_or_framing(f->name.p, f->name.len, request) ||
		    h2conv_named_in_connection(h, f->name.p, f->name.len))
			continue;
		l->f[l->n] = (struct http_field){f->name.p, f->value.p, f->name.len, f->value.len};
		if (request)
			narrow_accept_encoding(&l->f[l->n]);
		l->n++;
	}
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

int xhead_from_h1_request(struct xhead *x, const struct h1_head *h, char *err, size_t errlen)
{
	struct xfield_list *l;
	const char *strs[4];
	size_t lens[4];
	struct h1_span path = h->target;
	int rc;

	memset(x, 0, sizeof(*x));
	if (ieq(h->method.p, h->method.len, "connect")) {
		set_err(err, errlen, "CONNECT is not proxied");
		return -EINVAL;
	}
	if (h->target_form == H1_TARGET_ABSOLUTE) {
		/* "https://host/p?q" -> "/p?q" (Host still names the origin) */
		const char *s = memmem(path.p, path.len, "://", 3), *slash;

		slash = s ? memchr(s + 3, '/', path.len - (size_t)(s + 3 - path.p)) : NULL;
		path = slash ? (struct h1_span){slash, path.len - (size_t)(slash - path.p)}
			     : (struct h1_span){"/", 1};
	}
	if (!h->host.p || h->host.len == 0) {
		set_err(err, errlen, "no Host");
		return -EINVAL;
	}
	l = &scratch_list;
	h1_fields(h, true, l);
	strs[0] = h->method.p, lens[0] = h->method.len;
	strs[1] = "https", lens[1] = 5;
	strs[2] = h->host.p, lens[2] = h->host.len;
	strs[3] = path.p, lens[3] = path.len;
	rc = build(x, strs, lens, l);
	x->content_length = h->chunked ? -1 : (h->content_length >= 0 ? h->content_length : 0);
	x->chunked = h->chunked;
	x->expect_continue = h->expect_100_continue;
	x->upgrade = h->upgrade;
	x->websocket = h->upgrade_websocket;
	return rc;
}

int xhead_from_h1_response(struct xhead *x, const struct h1_head *h, char *err, size_t errlen)
{
	struct xfield_list *l;
	const char *strs[4] = {0};
	size_t lens[4] = {0};
	int rc;

	memset(x, 0, sizeof(*x));
	l = &scratch_list;
	h1_fields(h, false, l);
	rc = build(x, strs, lens, l);
	x->status = h->status;
	/* With Transfer-Encoding too, the parser already dropped the length (RFC 9112 6.3). */
	x->content_length = h->content_length;
	return rc;
}

int xhead_from_h2_request(struct xhead *x, const struct h2_head *h, char *err, size_t errlen)
{
	struct h1_header *hf;
	struct xfield_list *l;
	char *scratch;
	const char *strs[4];
	size_t lens[4];
	int n, rc = -ENOMEM;

	memset(x, 0, sizeof(*x));
	x->content_length = h->end_stream ? 0 : -1;
	hf = scratch_h1;
	l = &scratch_list;
	scratch = scratch_cookies;
	/* h2conv validates :authority against host and joins cookies (RFC 9113 8.2.3). */
	n = h2conv_request_to_h1(h, hf, H2_MAX_FIELDS + 1, scratch, H2_MAX_HEAD, err, errlen);
	if (n < 0) {
		rc = n;
		goto out;
	}
	l->n = 0;
	for (int i = 1; i < n; i++) { /* [0] is Host */
		if (ieq(hf[i].name.p, hf[i].name.len, "content-length")) {
			x->content_length = parse_length(hf[i].value.p, hf[i].value.len);
			continue;
		}
		if (is_hop_or_framing(hf[i].name.p, hf[i].name.len, true))
			continue;
		l->f[l->n] = (struct http_field){hf[i].name.p, hf[i].value.p, hf[i].name.len,
						 hf[i].value.len};
		narrow_accept_encoding(&l->f[l->n++]);
	}
	strs[0] = h->method, lens[0] = h->method_len;
	strs[1] = "https", lens[1] = 5;
	strs[2] = hf[0].value.p, lens[2] = hf[0].value.len;
	strs[3] = h->path, lens[3] = h->path_len;
	rc = build(x, strs, lens, l);
out:
	return rc;
}

int xhead_from_h2_response(struct xhead *x, const struct h2_head *h, char *err, size_t errlen)
{
	struct xfield_list *l;
	const char *strs[4] = {0};
	size_t lens[4] = {0};
	int rc;

	memset(x, 0, sizeof(*x));
	x->content_length = h->end_stream ? 0 : -1;
	l = &scratch_list;
	l->n = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (ieq(f->name, f->name_len, "content-length")) {
			x->content_length = parse_length(f->value, f->value_len);
			continue;
		}
		if (is_hop_or_framing(f->name, f->name_len, false))
			continue;
		l->f[l->n++] = *f;
	}
	rc = build(x, strs, lens, l);
	x->status = h->status;
	return rc;
}

int xhead_local_response(struct xhead *x, int status, const char *content_type, size_t body_len,
			 const char *extra_name, const char *extra_value)
{
	struct xfield_list *l;
	const char *strs[4] = {0};
	size_t lens[4] = {0};
	int rc;

	memset(x, 0, sizeof(*x));
	l = &scratch_list;
	l->f[0] = (struct http_field){"content-type", content_type, 12, strlen(content_type)};
	l->f[1] = (struct http_field){"x-modelux", "local", 9, 5};
	l->n = 2;
	if (extra_name && extra_value)
		l->f[l->n++] = (struct http_field){extra_name, extra_value, strlen(extra_name),
						   strlen(extra_value)};
	rc = build(x, strs, lens, l);
	x->status = status;
	x->content_length = (int64_t)body_len;
	return rc;
}

void xhead_free(struct xhead *x)
{
	free(x->mem);
	memset(x, 0, sizeof(*x));
	x->content_length = -1;
}

const struct http_field *xhead_field(const struct xhead *x, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < x->nfields; i++)
		if (x->fields[i].name_len == n && memcmp(x->fields[i].name, name, n) == 0)
			return &x->fields[i];
	return NULL;
}

/* x-modelux-* fields are addressed to the agent (X-Modelux-Tags): never forwarded. */
static bool agent_only(const struct http_field *f)
{
	return f->name_len > 10 && memcmp(f->name, "x-modelux-", 10) == 0;
}

static int to_h1_headers(const struct xhead *x, struct h1_header *out, size_t at)
{
	for (size_t i = 0; i < x->nfields; i++) {
		if (agent_only(&x->fields[i]))
			continue;
		out[at++] = (struct h1_header){{x->fields[i].name, x->fields[i].name_len},
					       {x->fields[i].value, x->fields[i].value_len}};
	}
	return (int)at;
}

/* Connection and Upgrade of a WebSocket request, and of the 101 that accepts it. */
static const struct h1_header upgrade_fields[2] = {
    {{"Connection", 10}, {"Upgrade", 7}},
    {{"Upgrade", 7}, {"websocket", 9}},
};

int xhead_write_h1_request(const struct xhead *x, bool has_body, char *buf, size_t cap)
{
	struct h1_header *hdrs = scratch_h1;
	struct h1_write_opts o = {0};
	int n, rc;

	hdrs[0] = (struct h1_header){{"Host", 4}, {x->authority, strlen(x->authority)}};
	n = to_h1_headers(x, hdrs, 1);
	if (x->websocket) {
		/* Extensions are not offered: with permessage-deflate the provider's events could
		 * not be read as they pass (llm_realtime.c), and no client needs one. */
		int k = 1;

		for (int i = 1; i < n; i++)
			if (!ieq(hdrs[i].name.p, hdrs[i].name.len, "sec-websocket-extensions"))
				hdrs[k++] = hdrs[i];
		n = k;
		/* The hop-by-hop pair that asks this hop to switch; the other Sec-WebSocket-*
		 * fields are end to end and already in the list. No body: what follows a 101 is
		 * not HTTP. */
		o.extra = upgrade_fields;
		o.nextra = 2;
		o.framing = H1_FRAMING_NONE;
	} else if (x->content_length > 0 || (x->content_length == 0 && has_body)) {
		o.framing = H1_FRAMING_LENGTH;
		o.content_length = (uint64_t)x->content_length;
	} else if (x->content_length < 0 && has_body) {
		o.framing = H1_FRAMING_CHUNKED;
	} else {
		o.framing = H1_FRAMING_NONE;
		/* A bodiless POST still says so: some servers want a length for these methods. */
		if (strcmp(x->method, "POST") == 0 || strcmp(x->method, "PUT") == 0 ||
		    strcmp(x->method, "PATCH") == 0) {
			o.framing = H1_FRAMING_LENGTH;
			o.content_length = 0;
		}
	}
	rc = h1_write_request_head(buf, cap, (struct h1_span){x->method, strlen(x->method)},
				   (struct h1_span){x->path, strlen(x->path)}, hdrs, (size_t)n, &o);
	return rc;
}

int xhead_write_h1_response(const struct xhead *x, enum h1_framing framing, bool close, char *buf,
			    size_t cap)
{
	struct h1_header *hdrs = scratch_h1;
	struct h1_header extra[2];
	struct h1_write_opts o = {.framing = framing, .extra = extra};
	char digits[24];
	const char *reason = xhead_reason(x->status);
	int n, rc;

	n = to_h1_headers(x, hdrs, 0);
	if (framing == H1_FRAMING_LENGTH)
		o.content_length = (uint64_t)(x->content_length > 0 ? x->content_length : 0);
	if (framing == H1_FRAMING_VERBATIM && x->content_length >= 0) {
		int k = snprintf(digits, sizeof(digits), "%lld", (long long)x->content_length);

		hdrs[n++] = (struct h1_header){{"content-length", 14}, {digits, (size_t)k}};
	}
	if (x->status == 101) {
		/* Only a WebSocket upgrade is ever let through (exch.c): say which, on this hop. */
		o.extra = upgrade_fields;
		o.nextra = 2;
		o.framing = H1_FRAMING_NONE;
	} else if (close) {
		extra[o.nextra++] = (struct h1_header){{"Connection", 10}, {"close", 5}};
	}
	rc = h1_write_response_head(buf, cap, x->status, (struct h1_span){reason, strlen(reason)},
				    hdrs, (size_t)n, &o);
	return rc;
}

int xhead_h2_fields(const struct xhead *x, struct http_field *out, size_t cap, char *digits)
{
	size_t n = 0;

	if (x->nfields + 1 > cap)
		return -E2BIG;
	for (size_t i = 0; i < x->nfields; i++)
		if (!agent_only(&x->fields[i]))
			out[n++] = x->fields[i];
	if (x->content_length >= 0) {
		int k = snprintf(digits, 24, "%lld", (long long)x->content_length);

		out[n++] = (struct http_field){"content-length", digits, 14, (size_t)k};
	}
	return (int)n;
}

const char *xhead_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 529:
		return "Site Overloaded";
	default:
		return "";
	}
}

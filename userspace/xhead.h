/* xhead: a message head in the proxy's neutral form, independent of the protocol it arrived in
 * and of the one it leaves in. Requests carry method, :scheme, authority (from :authority or
 * Host) and path; responses a status. Fields never include connection-specific ones, Host,
 * Content-Length or Transfer-Encoding: the body length is <content_length> and each side frames
 * the body its own way (so a response with both Content-Length and Transfer-Encoding leaves
 * correctly framed). Names are lowercase. Owns one allocation holding every string. */
#ifndef MODELUX_XHEAD_H
#define MODELUX_XHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "h1.h"
#include "h2conn.h"
#include "hook.h"

struct xhead {
	char *mem;
	const char *method, *scheme, *authority, *path; /* requests */
	int status;					/* responses */
	struct http_field *fields;
	size_t nfields;
	int64_t content_length; /* -1: not known */
	bool chunked;		/* HTTP/1.1 request body was chunked (length unknown) */
	bool expect_continue;	/* the client asked for 100-continue (not forwarded) */
	bool upgrade;		/* HTTP/1.1 request asking to switch protocols */
	bool websocket;		/* ... to WebSocket (RFC 6455): written with its Upgrade fields */
};

/* xhead_from_h1_request / xhead_from_h1_response - from a parsed HTTP/1.1 head (h1_parse_head).
 * An absolute-form target becomes origin form. Returns 0, -EINVAL (CONNECT, or no usable
 * target/authority; <err> says why) or -ENOMEM. */
int xhead_from_h1_request(struct xhead *x, const struct h1_head *h, char *err, size_t errlen);
int xhead_from_h1_response(struct xhead *x, const struct h1_head *h, char *err, size_t errlen);

/* xhead_from_h2_request / xhead_from_h2_response - from a head received over HTTP/2. */
int xhead_from_h2_request(struct xhead *x, const struct h2_head *h, char *err, size_t errlen);
int xhead_from_h2_response(struct xhead *x, const struct h2_head *h, char *err, size_t errlen);

/* xhead_local_response - a response we make ourselves: <status>, content-type and length,
 * "x-modelux: local", and <extra_name>: <extra_value> when not NULL. */
int xhead_local_response(struct xhead *x, int status, const char *content_type, size_t body_len,
			 const char *extra_name, const char *extra_value);

void xhead_free(struct xhead *x);

/* xhead_field - the value of the first field named <name> (lowercase), or NULL. */
const struct http_field *xhead_field(const struct xhead *x, const char *name);

/* xhead_write_h1_request - the HTTP/1.1 request head for <x> into <buf>: Host first, then the
 * fields, then Content-Length when known, else "Transfer-Encoding: chunked" when <has_body>.
 * Returns the length or a negative errno (h1_write_request_head). */
int xhead_write_h1_request(const struct xhead *x, bool has_body, char *buf, size_t cap);

/* xhead_write_h1_response - the HTTP/1.1 response head for <x> with <framing> (LENGTH uses
 * x->content_length; VERBATIM writes Content-Length when known and no Transfer-Encoding, for
 * bodiless answers to HEAD and 304), plus "Connection: close" when <close>. */
int xhead_write_h1_response(const struct xhead *x, enum h1_framing framing, bool close, char *buf,
			    size_t cap);

/* xhead_h2_fields - <x>'s fields for HTTP/2 into <out> (<cap> entries), content-length added
 * when known (<digits>: scratch of 24 bytes for it). Returns the count or -E2BIG. */
int xhead_h2_fields(const struct xhead *x, struct http_field *out, size_t cap, char *digits);

/* xhead_reason - the standard reason phrase of <status> ("" when none is known). */
const char *xhead_reason(int status);

#endif

/* h2conv: see h2conv.h. Inputs have been checked by nghttp2 or h1_parse_head, and the outputs
 * are checked again by h1_write_request_head / h2conn_submit_response, so this file only
 * decides which fields cross and in what shape. */
#include "h2conv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static unsigned char h2v_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool h2v_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (h2v_lower((unsigned char)a[i]) != h2v_lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool h2v_is(const char *name, size_t len, const char *lit)
{
	return h2v_ieq(name, len, lit, strlen(lit));
}

/* Fields that describe one hop of the connection, never the message (RFC 9110 section 7.6.1,
 * RFC 9113 section 8.2.2). */
static bool h2v_hop_by_hop(const char *name, size_t len)
{
	return h2v_is(name, len, "connection") || h2v_is(name, len, "keep-alive") ||
	       h2v_is(name, len, "proxy-connection") || h2v_is(name, len, "transfer-encoding") ||
	       h2v_is(name, len, "upgrade") || h2v_is(name, len, "te");
}

static void h2v_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

int h2conv_request_to_h1(const struct h2_head *h, struct h1_header *out, size_t cap, char *scratch,
			 size_t scratch_cap, char *err, size_t errlen)
{
	struct h1_span host = {h->authority, h->authority_len};
	size_t n = 0, ncookies = 0, cookie_len = 0, cookie_at = 0, nhost = 0;

	if (!h->method || !h->path || h2v_is(h->method, h->method_len, "CONNECT")) {
		h2v_err(err, errlen,
			"CONNECT and requests without :path have no HTTP/1.1 form here");
		return -EINVAL;
	}
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (h2v_is(f->name, f->name_len, "host")) {
			nhost++;
			if (!h->authority) {
				host = (struct h1_span){f->value, f->value_len};
			} else if (!h2v_ieq(f->value, f->value_len, h->authority,
					    h->authority_len)) {
				/* RFC 9113 section 8.3.1: two answers to "which host" is how
				 * requests get routed past a policy; refuse. */
				h2v_err(err, errlen, "host field differs from :authority");
				return -EINVAL;
			}
		} else if (h2v_is(f->name, f->name_len, "cookie")) {
			cookie_len += (ncookies ? 2 : 0) + f->value_len;
			ncookies++;
		}
	}
	if (!h->authority && nhost != 1) {
		h2v_err(err, errlen,
			nhost ? "several host fields and no :authority"
			      : "no :authority and no host");
		return -EINVAL;
	}
	if (!host.p || host.len == 0) {
		h2v_err(err, errlen, "empty authority");
		return -EINVAL;
	}
	if (ncookies > 1 && cookie_len > scratch_cap) {
		h2v_err(err, errlen, "cookies do not fit the scratch buffer");
		return -E2BIG;
	}
	if (cap == 0)
		goto too_many;
	out[n++] = (struct h1_header){{"Host", 4}, host};
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (h2v_is(f->name, f->name_len, "host") || h2v_hop_by_hop(f->name, f->name_len))
			continue;
		if (h2v_is(f->name, f->name_len, "cookie")) {
			if (ncookies > 1 && cookie_at) {
				/* joined below into the first cookie's entry */
				size_t at = out[cookie_at].value.len;

				memcpy(scratch + at, "; ", 2);
				memcpy(scratch + at + 2, f->value, f->value_len);
				out[cookie_at].value.len = at + 2 + f->value_len;
				continue;
			}
			if (n == cap)
				goto too_many;
			if (ncookies > 1) {
				cookie_at = n;
				memcpy(scratch, f->value, f->value_len);
				out[n++] = (struct h1_header){{f->name, f->name_len},
							      {scratch, f->value_len}};
				continue;
			}
		}
		if (n == cap)
			goto too_many;
		out[n++] = (struct h1_header){{f->name, f->name_len}, {f->value, f->value_len}};
	}
	return (int)n;
too_many:
	h2v_err(err, errlen, "more fields than the output holds");
	return -E2BIG;
}

bool h2conv_named_in_connection(const struct h1_head *h, const char *name, size_t len)
{
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *c = &h->headers[i];
		const char *p, *end;

		if (!h2v_is(c->name.p, c->name.len, "connection"))
			continue;
		p = c->value.p;
		end = p + c->value.len;
		while (p < end) {
			const char *e = memchr(p, ',', (size_t)(end - p));
			const char *b, *t;

			if (!e)
				e = end;
			for (b = p; b < e && (*b == ' ' || *b == '\t'); b++)
				;
			for (t = e; t > b && (t[-1] == ' ' || t[-1] == '\t'); t--)
				;
			if (h2v_ieq(b, (size_t)(t - b), name, len))
				return true;
			p = e + 1;
		}
	}
	return false;
}

int h2conv_response_from_h1(const struct h1_head *h, struct http_field *out, size_t cap,
			    char *scratch, size_t scratch_cap, char *err, size_t errlen)
{
	size_t n = 0, used = 0;

	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *f = &h->headers[i];

		if (h2v_hop_by_hop(f->name.p, f->name.len) ||
		    h2conv_named_in_connection(h, f->name.p, f->name.len))
			continue;
		if (n == cap) {
			h2v_err(err, errlen, "more fields than the output holds");
			return -E2BIG;
		}
		if (f->name.len > scratch_cap - used) {
			h2v_err(err, errlen, "field names do not fit the scratch buffer");
			return -E2BIG;
		}
		for (size_t k = 0; k < f->name.len; k++)
			scratch[used + k] = (char)h2v_lower((unsigned char)f->name.p[k]);
		out[n++] =
		    (struct http_field){scratch + used, f->value.p, f->name.len, f->value.len};
		used += f->name.len;
	}
	return (int)n;
}

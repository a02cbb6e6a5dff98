/* fuzz_h1: libFuzzer driver for the HTTP/1.1 head parser, body state machine and writers.
 * Input: byte 0 picks the kind (bit 0) and the request method a response answers (bits 1-2),
 * byte 1 seeds the split points, the rest is the wire. Beyond "no crash" it checks what the proxy
 * relies on: results never change as more bytes arrive, nothing points outside the input, a
 * body decodes the same however it is split, and a re-serialized head parses to the same fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/h1.c"

#define FUZZ_PAYLOAD_CAP (1 << 20)

static char fuzz_payload[2][FUZZ_PAYLOAD_CAP];
static char fuzz_out[H1_MAX_HEAD * 2 + 4096];
static char fuzz_wire[FUZZ_PAYLOAD_CAP + 64];

struct fuzz_sink {
	char *buf;
	size_t len;
};

static int fuzz_sink_cb(void *ctx, const char *data, size_t len)
{
	struct fuzz_sink *s = ctx;

	if (len == 0 || len > FUZZ_PAYLOAD_CAP - s->len)
		abort();
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

static void fuzz_check_span(struct h1_span s, const char *buf, size_t len)
{
	if (s.p == NULL) {
		if (s.len)
			abort();
		return;
	}
	if (s.p < buf || s.p > buf + len || s.len > (size_t)(buf + len - s.p))
		abort();
}

static bool fuzz_span_same(struct h1_span a, struct h1_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* What every successfully parsed head must look like. */
static void fuzz_check_head(const struct h1_head *h, const char *buf, int rc)
{
	size_t len = (size_t)rc;

	if (h->head_len != len || len > H1_MAX_HEAD || h->nheaders > H1_MAX_HEADERS)
		abort();
	if (h->version != 10 && h->version != 11)
		abort();
	if (h->content_length < -1 || (h->chunked && h->content_length != -1))
		abort();
	if (h->kind == H1_REQUEST) {
		if (!h1_span_is_token(h->method) || h->target.len == 0 || h->status != 0)
			abort();
		if (h->version == 11 && h->host.p == NULL)
			abort();
		if (h->target_form < H1_TARGET_ORIGIN || h->target_form > H1_TARGET_ASTERISK)
			abort();
	} else if (h->status < 100 || h->status > 599 || h->method.p || h->host.p) {
		abort();
	}
	fuzz_check_span(h->method, buf, len);
	fuzz_check_span(h->target, buf, len);
	fuzz_check_span(h->reason, buf, len);
	fuzz_check_span(h->host, buf, len);
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *f = &h->headers[i];

		fuzz_check_span(f->name, buf, len);
		fuzz_check_span(f->value, buf, len);
		if (!h1_span_is_token(f->name) || !h1_valid_value(f->value))
			abort();
		if (f->value.len && (h1_is_ows((unsigned char)f->value.p[0]) ||
				     h1_is_ows((unsigned char)f->value.p[f->value.len - 1])))
			abort();
	}
}

/* Two parses of the same bytes: the same fields, spans at the same places. */
static bool fuzz_same_parse(const struct h1_head *a, const struct h1_head *b)
{
	return a->kind == b->kind && a->head_len == b->head_len && a->version == b->version &&
	       a->method.p == b->method.p && a->method.len == b->method.len &&
	       a->target.p == b->target.p && a->target.len == b->target.len &&
	       a->target_form == b->target_form && a->status == b->status &&
	       a->reason.p == b->reason.p && a->reason.len == b->reason.len &&
	       a->nheaders == b->nheaders &&
	       memcmp(a->headers, b->headers, a->nheaders * sizeof(a->headers[0])) == 0 &&
	       a->content_length == b->content_length && a->chunked == b->chunked &&
	       a->keep_alive == b->keep_alive && a->expect_100_continue == b->expect_100_continue &&
	       a->upgrade == b->upgrade && a->host.p == b->host.p && a->host.len == b->host.len;
}

/* Write <h> back (verbatim, then re-framed and stripped) and parse it again. */
static void fuzz_reserialize(const struct h1_head *h)
{
	static const struct h1_header close_hdr = {{"Connection", 10}, {"close", 5}};
	struct h1_write_opts strip = {.framing = H1_FRAMING_CHUNKED, .strip_hop_by_hop = true};
	struct h1_write_opts length = {.framing = H1_FRAMING_LENGTH,
				       .content_length = (uint64_t)h->head_len * 7919,
				       .strip_hop_by_hop = true,
				       .extra = &close_hdr,
				       .nextra = 1};
	struct h1_head again;
	char err[256];
	int n, rc;

	if (h->kind == H1_REQUEST)
		n = h1_write_request_head(fuzz_out, sizeof(fuzz_out), h->method, h->target,
					  h->headers, h->nheaders, NULL);
	else
		n = h1_write_response_head(fuzz_out, sizeof(fuzz_out), h->status, h->reason,
					   h->headers, h->nheaders, NULL);
	if (n <= 0)
		abort(); /* everything parsed is writable, and the buffer is large enough */
	rc = h1_parse_head(fuzz_out, (size_t)n, h->kind, &again, err, sizeof(err));
	if (n > H1_MAX_HEAD) {
		/* ": " after every name can push a full-size head over the cap */
		if (rc != -E2BIG)
			abort();
		return;
	}
	if (h->kind == H1_REQUEST && h->version == 10 && h->host.p == NULL) {
		/* written as HTTP/1.1, which needs a Host */
		if (rc != -EBADMSG || !strstr(err, "missing Host"))
			abort();
		return;
	}
	if (rc != n)
		abort();
	if (again.status != h->status || !fuzz_span_same(again.method, h->method) ||
	    !fuzz_span_same(again.target, h->target) || again.target_form != h->target_form ||
	    !fuzz_span_same(again.reason, h->reason) || again.nheaders != h->nheaders ||
	    again.content_length != h->content_length || again.chunked != h->chunked ||
	    again.upgrade != h->upgrade || !fuzz_span_same(again.host, h->host) ||
	    (again.host.p == NULL) != (h->host.p == NULL))
		abort();
	if (h->version == 11 && (again.keep_alive != h->keep_alive ||
				 again.expect_100_continue != h->expect_100_continue))
		abort();
	for (size_t i = 0; i < h->nheaders; i++)
		if (!fuzz_span_same(again.headers[i].name, h->headers[i].name) ||
		    !fuzz_span_same(again.headers[i].value, h->headers[i].value))
			abort();

	/* Stripped and re-framed: no hop-by-hop field survives, the framing is ours. */
	if (h->kind == H1_REQUEST)
		n = h1_write_request_head(fuzz_out, sizeof(fuzz_out), h->method, h->target,
					  h->headers, h->nheaders, &strip);
	else
		n = h1_write_response_head(fuzz_out, sizeof(fuzz_out), h->status, h->reason,
					   h->headers, h->nheaders, &strip);
	if (n <= 0)
		abort();
	rc = h1_parse_head(fuzz_out, (size_t)n, h->kind, &again, err, sizeof(err));
	if (rc < 0) {
		/* Host may be named in Connection, and so stripped */
		if (rc == -E2BIG || (h->kind == H1_REQUEST && strstr(err, "missing Host")))
			return;
		abort();
	}
	if (rc != n || !again.chunked || again.content_length != -1 || again.upgrade ||
	    h1_header_find(&again, "connection") || h1_header_find(&again, "keep-alive") ||
	    h1_header_find(&again, "te") || h1_header_find(&again, "proxy-connection"))
		abort();

	/* A length of our choosing and "Connection: close" added after stripping. */
	if (h->kind == H1_REQUEST)
		n = h1_write_request_head(fuzz_out, sizeof(fuzz_out), h->method, h->target,
					  h->headers, h->nheaders, &length);
	else
		n = h1_write_response_head(fuzz_out, sizeof(fuzz_out), h->status, h->reason,
					   h->headers, h->nheaders, &length);
	if (n <= 0)
		abort();
	rc = h1_parse_head(fuzz_out, (size_t)n, h->kind, &again, err, sizeof(err));
	if (rc < 0) {
		if (rc == -E2BIG || (h->kind == H1_REQUEST && strstr(err, "missing Host")))
			return;
		abort();
	}
	if (rc != n || again.chunked || again.content_length != (int64_t)length.content_length ||
	    again.keep_alive ||
	    h1_header_find(&again, "connection") != &again.headers[again.nheaders - 1])
		abort();
}

/* A small deterministic generator for split sizes. */
static size_t fuzz_next(uint32_t *st, size_t max)
{
	*st = *st * 1103515245u + 12345u;
	return 1 + (*st >> 8) % max;
}

/* Feed the body <buf>/<len> at once and in random pieces; both must agree on everything. */
static void fuzz_body(const struct h1_head *h, const char *method, const char *buf, size_t len,
		      uint32_t seed)
{
	struct h1_body whole, split;
	struct fuzz_sink s0 = {fuzz_payload[0], 0}, s1 = {fuzz_payload[1], 0};
	char e0[256] = "", e1[256] = "";
	int r0, r1 = 0;
	size_t off = 0;
	int n;

	h1_body_init(&whole, h, method, strlen(method));
	h1_body_init(&split, h, method, strlen(method));
	r0 = h1_body_feed(&whole, buf, len, fuzz_sink_cb, &s0, e0, sizeof(e0));
	if (r0 > (int)len || (r0 >= 0 && (size_t)r0 < len && !whole.done))
		abort();
	while (off < len && !split.done) {
		size_t k = fuzz_next(&seed, len - off < 64 ? len - off : 64);

		if (k > len - off)
			abort();
		r1 = h1_body_feed(&split, buf + off, k, fuzz_sink_cb, &s1, e1, sizeof(e1));
		if (r1 < 0)
			break;
		if ((size_t)r1 > k || ((size_t)r1 < k && !split.done))
			abort();
		off += (size_t)r1;
	}
	if ((r0 < 0) != (r1 < 0))
		abort();
	if (r0 < 0) {
		if (r0 != r1 || strcmp(e0, e1) != 0)
			abort();
		return;
	}
	if ((size_t)r0 != off || whole.done != split.done || s0.len != s1.len ||
	    memcmp(s0.buf, s1.buf, s0.len) != 0 || whole.payload != s0.len ||
	    whole.offset != (uint64_t)r0)
		abort();
	if (whole.mode == H1_BODY_LENGTH && s0.len > (uint64_t)h->content_length)
		abort();
	if (h1_body_eof(&whole, e0, sizeof(e0)) == 0 && !whole.done)
		abort();

	/* Chunked payloads re-encode and decode back to themselves. */
	if (whole.mode == H1_BODY_CHUNKED && s0.len) {
		struct h1_body again;
		struct fuzz_sink s2 = {fuzz_payload[1], 0};
		size_t w = 0, p = 0;

		while (p < s0.len) {
			size_t k = fuzz_next(&seed, s0.len - p);

			n = h1_write_chunk(fuzz_wire + w, sizeof(fuzz_wire) - w, s0.buf + p, k);
			if (n <= 0)
				return; /* many tiny chunks may not fit; nothing to check then */
			w += (size_t)n;
			p += k;
		}
		if ((n = h1_write_last_chunk(fuzz_wire + w, sizeof(fuzz_wire) - w)) <= 0)
			return;
		w += (size_t)n;
		h1_body_init(&again, h, method, strlen(method));
		if (h1_body_feed(&again, fuzz_wire, w, fuzz_sink_cb, &s2, NULL, 0) != (int)w ||
		    !again.done || s2.len != s0.len || memcmp(s2.buf, s0.buf, s0.len) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "CONNECT", "POST"};
	static const struct h1_head chunked_head = {
	    .kind = H1_REQUEST, .chunked = true, .content_length = -1};
	enum h1_kind kind;
	const char *buf, *method;
	struct h1_head full, part;
	char ferr[256] = "", perr[256] = "";
	size_t len, cut;
	int rc, rp;

	if (size < 2 || size > FUZZ_PAYLOAD_CAP)
		return 0;
	kind = (data[0] & 1) ? H1_RESPONSE : H1_REQUEST;
	method = methods[(data[0] >> 1) & 3];
	buf = (const char *)data + 2;
	len = size - 2;

	rc = h1_parse_head(buf, len, kind, &full, ferr, sizeof(ferr));
	if (rc < 0 && rc != -EBADMSG && rc != -E2BIG)
		abort();
	if (rc < 0 && (strnlen(ferr, sizeof(ferr)) == 0 || !strstr(ferr, " at offset ")))
		abort();
	if (rc > 0 && (size_t)rc > len)
		abort();

	/* A prefix either waits or already says what the whole says. */
	cut = (size_t)data[1] * len / 256;
	rp = h1_parse_head(buf, cut, kind, &part, perr, sizeof(perr));
	if (rp != 0 && (rp != rc || (rc < 0 && strcmp(perr, ferr) != 0)))
		abort();
	if (rc > 0 && (size_t)rc <= cut && !fuzz_same_parse(&part, &full))
		abort();

	if (rc > 0) {
		fuzz_check_head(&full, buf, rc);
		fuzz_reserialize(&full);
		fuzz_body(&full, method, buf + rc, len - (size_t)rc, data[1]);
	} else {
		/* Not a head: still a good source of chunked-body shapes. */
		fuzz_body(&chunked_head, method, buf, len, data[1]);
	}
	return 0;
}

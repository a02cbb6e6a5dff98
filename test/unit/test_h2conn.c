/* test_h2conn: the HTTP/2 endpoint and the h1<->h2 header translation. A server-role and a
 * client-role h2conn are connected back to back in memory (real nghttp2 on both ends) and
 * bytes are pumped between them; protocol violations come from a raw nghttp2 peer (which sends
 * whatever it is given) or from hand-made frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "h2conn.h"
#include "h2conv.h"

#define MAXS 160

/* What one side saw of one stream. */
struct rs {
	int32_t id;
	int heads, ends, resets;
	uint32_t reset_code;
	int status;
	char method[16], scheme[16], authority[128], path[256];
	bool head_end_stream;
	size_t nfields;
	char names[32][64], values[32][256];
	char *body;
	size_t len, cap;
	size_t ndata;
	char last[512]; /* the last data event */
	size_t last_len;
	bool events_after_end; /* anything reported after *_end or stream_reset */
};

struct side {
	struct h2conn *c;
	struct rs s[MAXS];
	size_t n;
	bool manual_consume; /* else credit goes back inside the data event */
	size_t unconsumed, max_unconsumed;
	bool pattern; /* check bodies against pattern() instead of storing them */
	uint64_t pattern_off;
	size_t sent; /* data_sent total */
	int goaways;
	uint32_t goaway_code;
	int32_t goaway_last;
	/* server role: answer inside request_end with this status and body */
	int auto_status;
	const char *auto_body;
};

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 131) ^ (i >> 9) ^ (i >> 17));
}

static struct side *side_new(void)
{
	struct side *sd = calloc(1, sizeof(*sd));

	assert_non_null(sd);
	return sd;
}

static void side_free(struct side *sd)
{
	h2conn_free(sd->c);
	for (size_t i = 0; i < sd->n; i++)
		free(sd->s[i].body);
	free(sd);
}

static struct rs *rs_get(struct side *sd, int32_t id)
{
	for (size_t i = 0; i < sd->n; i++)
		if (sd->s[i].id == id)
			return &sd->s[i];
	assert_true(sd->n < MAXS);
	memset(&sd->s[sd->n], 0, sizeof(sd->s[0]));
	sd->s[sd->n].id = id;
	return &sd->s[sd->n++];
}

static struct rs *rs_find(struct side *sd, int32_t id)
{
	for (size_t i = 0; i < sd->n; i++)
		if (sd->s[i].id == id)
			return &sd->s[i];
	return NULL;
}

static void copy_str(char *dst, size_t cap, const char *p, size_t n)
{
	if (!p) {
		dst[0] = '\0';
		return;
	}
	assert_true(n < cap);
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void on_head(void *ctx, int32_t id, const struct h2_head *h)
{
	struct side *sd = ctx;
	struct rs *r = rs_get(sd, id);

	if (r->ends || r->resets)
		r->events_after_end = true;
	r->heads++;
	r->status = h->status;
	r->head_end_stream = h->end_stream;
	copy_str(r->method, sizeof(r->method), h->method, h->method_len);
	copy_str(r->scheme, sizeof(r->scheme), h->scheme, h->scheme_len);
	copy_str(r->authority, sizeof(r->authority), h->authority, h->authority_len);
	copy_str(r->path, sizeof(r->path), h->path, h->path_len);
	r->nfields = h->nfields < 32 ? h->nfields : 32;
	for (size_t i = 0; i < r->nfields; i++) {
		/* NUL-terminated as promised */
		assert_int_equal(h->fields[i].name[h->fields[i].name_len], '\0');
		assert_int_equal(h->fields[i].value[h->fields[i].value_len], '\0');
		copy_str(r->names[i], sizeof(r->names[i]), h->fields[i].name,
			 h->fields[i].name_len);
		copy_str(r->values[i], sizeof(r->values[i]), h->fields[i].value,
			 h->fields[i].value_len);
	}
}

static void on_data(void *ctx, int32_t id, const char *data, size_t len)
{
	struct side *sd = ctx;
	struct rs *r = rs_get(sd, id);

	if (r->ends || r->resets || !r->heads)
		r->events_after_end = true;
	assert_true(len > 0);
	r->ndata++;
	if (sd->pattern) {
		for (size_t i = 0; i < len; i++)
			if ((uint8_t)data[i] != pattern(sd->pattern_off + i))
				fail_msg("byte %llu differs",
					 (unsigned long long)(sd->pattern_off + i));
		sd->pattern_off += len;
	} else {
		if (r->len + len > r->cap) {
			r->cap = (r->len + len) * 2;
			r->body = realloc(r->body, r->cap);
			assert_non_null(r->body);
		}
		memcpy(r->body + r->len, data, len);
		r->len += len;
	}
	r->last_len = len < sizeof(r->last) ? len : sizeof(r->last);
	memcpy(r->last, data, r->last_len);
	if (sd->manual_consume) {
		sd->unconsumed += len;
		if (sd->unconsumed > sd->max_unconsumed)
			sd->max_unconsumed = sd->unconsumed;
	} else {
		assert_int_equal(h2conn_window_consumed(sd->c, id, len), 0);
	}
}

static void on_end(void *ctx, int32_t id)
{
	struct side *sd = ctx;
	struct rs *r = rs_get(sd, id);

	if (r->ends || r->resets || !r->heads)
		r->events_after_end = true;
	r->ends++;
	if (sd->auto_status) {
		size_t n = sd->auto_body ? strlen(sd->auto_body) : 0;

		assert_int_equal(h2conn_submit_response(sd->c, id, sd->auto_status, NULL, 0, n > 0),
				 0);
		if (n)
			assert_int_equal(h2conn_send_data(sd->c, id, sd->auto_body, n, true), 0);
	}
}

static void on_reset(void *ctx, int32_t id, uint32_t code)
{
	struct side *sd = ctx;
	struct rs *r = rs_get(sd, id);

	if (r->resets)
		r->events_after_end = true;
	r->resets++;
	r->reset_code = code;
	/* the stream is already gone for every call */
	assert_null(h2conn_stream_user(sd->c, id));
	assert_int_equal(h2conn_send_room(sd->c, id), 0);
	assert_int_equal(h2conn_send_data(sd->c, id, "x", 1, false), -ENOENT);
}

static void on_sent(void *ctx, int32_t id, size_t len)
{
	struct side *sd = ctx;

	sd->sent += len;
}

static void on_goaway(void *ctx, uint32_t code, int32_t last)
{
	struct side *sd = ctx;

	sd->goaways++;
	sd->goaway_code = code;
	sd->goaway_last = last;
}

static const struct h2conn_callbacks server_cb = {
    .request_head = on_head,
    .request_data = on_data,
    .request_end = on_end,
    .stream_reset = on_reset,
    .data_sent = on_sent,
    .goaway = on_goaway,
};

static const struct h2conn_callbacks client_cb = {
    .response_head = on_head,
    .response_data = on_data,
    .response_end = on_end,
    .stream_reset = on_reset,
    .data_sent = on_sent,
    .goaway = on_goaway,
};

struct pair {
	struct side srv, cli;
	size_t chunk; /* transport read size */
};

static void pair_free(struct pair *p)
{
	struct side *sides[2] = {&p->srv, &p->cli};

	for (int k = 0; k < 2; k++) {
		h2conn_free(sides[k]->c);
		for (size_t i = 0; i < sides[k]->n; i++)
			free(sides[k]->s[i].body);
	}
	free(p);
}

static struct pair *pair_new(size_t chunk)
{
	struct pair *p = calloc(1, sizeof(*p));
	char err[128];

	assert_non_null(p);
	p->chunk = chunk;
	p->srv.c = h2conn_new(H2_SERVER, &server_cb, &p->srv, err, sizeof(err));
	p->cli.c = h2conn_new(H2_CLIENT, &client_cb, &p->cli, err, sizeof(err));
	assert_non_null(p->srv.c);
	assert_non_null(p->cli.c);
	return p;
}

/* Move everything <from> has to write into <to>, <chunk> bytes at a time. */
static size_t move(struct h2conn *from, struct h2conn *to, size_t chunk)
{
	static uint8_t buf[65536];
	size_t w, total = 0;

	assert_true(chunk <= sizeof(buf));
	do {
		assert_int_equal(h2conn_drain(from, buf, chunk, &w), 0);
		assert_true(w <= chunk);
		if (w)
			assert_int_equal(h2conn_feed(to, buf, w), (ssize_t)w);
		total += w;
	} while (w == chunk);
	assert_int_equal(h2conn_pending(from), 0);
	return total;
}

static void pump(struct pair *p)
{
	int guard = 0;

	while (move(p->cli.c, p->srv.c, p->chunk) + move(p->srv.c, p->cli.c, p->chunk))
		assert_true(++guard < 100000);
}

static void assert_body(const struct rs *r, const char *want)
{
	size_t n = strlen(want);

	if (r->len != n || memcmp(r->body, want, n) != 0)
		fail_msg("body \"%.*s\" != \"%s\"", (int)r->len, r->body ? r->body : "", want);
}

static struct http_field fld(const char *n, const char *v)
{
	return (struct http_field){n, v, strlen(n), strlen(v)};
}

/* ---- streaming through a pair ---- */

static void request_and_response_round_trip(void **state)
{
	/* Odd transport sizes: frames split everywhere, output taken in small pieces. */
	const size_t chunks[] = {16384, 1, 7, 100};

	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct pair *p = pair_new(chunks[k]);
		struct http_field req[] = {fld("content-type", "application/json"),
					   fld("authorization", "Bearer sk-test-not-a-key"),
					   fld("x-empty", "")};
		struct http_field resp[] = {fld("content-type", "text/event-stream"),
					    fld("x-request-id", "req_1")};
		int marker = 42;
		struct rs *r;
		int32_t id;

		id = h2conn_submit_request(p->cli.c, "POST", "https", "api.openai.com",
					   "/v1/chat/completions?x=1", req, 3, true);
		assert_int_equal(id, 1);
		assert_int_equal(h2conn_set_stream_user(p->cli.c, id, &marker), 0);
		assert_ptr_equal(h2conn_stream_user(p->cli.c, id), &marker);
		assert_int_equal(h2conn_send_data(p->cli.c, id, "{\"model\":", 9, false), 0);
		pump(p);
		r = rs_find(&p->srv, id);
		assert_non_null(r);
		assert_int_equal(r->heads, 1);
		assert_string_equal(r->method, "POST");
		assert_string_equal(r->scheme, "https");
		assert_string_equal(r->authority, "api.openai.com");
		assert_string_equal(r->path, "/v1/chat/completions?x=1");
		assert_false(r->head_end_stream);
		assert_int_equal(r->nfields, 3);
		assert_string_equal(r->names[0], "content-type");
		assert_string_equal(r->values[1], "Bearer sk-test-not-a-key");
		assert_string_equal(r->names[2], "x-empty");
		assert_string_equal(r->values[2], "");
		assert_int_equal(r->ends, 0);
		assert_int_equal(h2conn_send_data(p->cli.c, id, "\"x\"}", 4, true), 0);
		/* the body has ended: nothing more may be queued */
		assert_int_equal(h2conn_send_data(p->cli.c, id, "z", 1, false), -EPIPE);
		pump(p);
		assert_int_equal(r->ends, 1);
		assert_body(r, "{\"model\":\"x\"}");

		assert_int_equal(h2conn_submit_response(p->srv.c, id, 200, resp, 2, true), 0);
		assert_int_equal(h2conn_submit_response(p->srv.c, id, 200, resp, 2, true),
				 -EALREADY);
		assert_int_equal(h2conn_send_data(p->srv.c, id, "data: a\n\n", 9, false), 0);
		assert_int_equal(h2conn_send_data(p->srv.c, id, "data: b\n\n", 9, false), 0);
		pump(p);
		r = rs_find(&p->cli, id);
		assert_non_null(r);
		assert_int_equal(r->heads, 1);
		assert_int_equal(r->status, 200);
		assert_int_equal(r->nfields, 2);
		assert_string_equal(r->values[0], "text/event-stream");
		assert_int_equal(r->ends, 0);
		assert_int_equal(h2conn_send_data(p->srv.c, id, "data: [DONE]\n\n", 14, true), 0);
		pump(p);
		assert_int_equal(r->ends, 1);
		assert_body(r, "data: a\n\ndata: b\n\ndata: [DONE]\n\n");
		assert_int_equal(r->resets, 0);
		assert_int_equal(rs_find(&p->srv, id)->resets, 0);
		assert_false(r->events_after_end);
		assert_int_equal(p->srv.sent, 32);
		assert_int_equal(p->cli.sent, 13);
		/* the stream is gone on both sides */
		assert_null(h2conn_stream_user(p->cli.c, id));
		assert_int_equal(h2conn_send_data(p->srv.c, id, "x", 1, false), -ENOENT);
		assert_true(h2conn_want_io(p->srv.c));
		assert_true(h2conn_want_io(p->cli.c));
		pair_free(p);
	}
}

static void bodiless_request_and_response(void **state)
{
	struct pair *p = pair_new(16384);
	struct rs *r;
	int32_t id;

	id = h2conn_submit_request(p->cli.c, "GET", "https", "api.anthropic.com", "/v1/models",
				   NULL, 0, false);
	assert_true(id > 0);
	assert_int_equal(h2conn_send_data(p->cli.c, id, "x", 1, true), -EINVAL);
	pump(p);
	r = rs_find(&p->srv, id);
	assert_non_null(r);
	assert_true(r->head_end_stream);
	assert_int_equal(r->ends, 1);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 204, NULL, 0, false), 0);
	pump(p);
	r = rs_find(&p->cli, id);
	assert_int_equal(r->status, 204);
	assert_true(r->head_end_stream);
	assert_int_equal(r->ends, 1);
	assert_int_equal(r->resets, 0);
	pair_free(p);
}

static void fifty_concurrent_streams(void **state)
{
	struct pair *p = pair_new(4096);
	int32_t ids[50];
	char buf[128];

	for (int i = 0; i < 50; i++) {
		struct http_field f = fld("x-n", "1");

		ids[i] = h2conn_submit_request(p->cli.c, "POST", "https", "h", "/s", &f, 1, true);
		assert_int_equal(ids[i], 1 + 2 * i);
		snprintf(buf, sizeof(buf), "request-%d", i);
		assert_int_equal(h2conn_send_data(p->cli.c, ids[i], buf, strlen(buf), false), 0);
	}
	pump(p);
	for (int i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "-end-%d", i);
		assert_int_equal(h2conn_send_data(p->cli.c, ids[i], buf, strlen(buf), true), 0);
	}
	pump(p);
	/* answers in reverse order, bodies interleaved round-robin */
	for (int i = 49; i >= 0; i--)
		assert_int_equal(h2conn_submit_response(p->srv.c, ids[i], 200, NULL, 0, true), 0);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 50; i++) {
			snprintf(buf, sizeof(buf), "<%d.%d>", i, round);
			assert_int_equal(h2conn_send_data(p->srv.c, ids[(i * 7) % 50], buf,
							  strlen(buf), round == 9),
					 0);
		}
		pump(p);
	}
	for (int i = 0; i < 50; i++) {
		struct rs *rq = rs_find(&p->srv, ids[i]), *rp = rs_find(&p->cli, ids[i]);
		char want[512];
		size_t n = 0;

		assert_non_null(rq);
		assert_non_null(rp);
		snprintf(want, sizeof(want), "request-%d-end-%d", i, i);
		assert_body(rq, want);
		assert_int_equal(rq->ends, 1);
		/* stream ids[(j * 7) % 50] got "<j.round>" */
		for (int j = 0; j < 50; j++)
			if ((j * 7) % 50 == i)
				for (int round = 0; round < 10; round++)
					n += (size_t)snprintf(want + n, sizeof(want) - n, "<%d.%d>",
							      j, round);
		assert_body(rp, want);
		assert_int_equal(rp->status, 200);
		assert_int_equal(rp->ends, 1);
		assert_int_equal(rp->resets + rq->resets, 0);
	}
	pair_free(p);
}

/* 20 MB through a receiver that takes 256 KiB per round: the sender's queue fills (-EAGAIN) and
 * it resumes when data_sent says room came back; nothing beyond the window is ever unconsumed. */
static void large_body_backpressure(void **state)
{
	const uint64_t total = 20u << 20;
	struct pair *p = pair_new(16384);
	static char chunk[65536];
	uint64_t off = 0;
	int eagain = 0, rounds = 0;
	int32_t id;
	struct rs *r;

	p->cli.manual_consume = true;
	p->cli.pattern = true;
	id = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/big", NULL, 0, false);
	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 200, NULL, 0, true), 0);
	while (off < total || p->cli.unconsumed) {
		/* the sender pushes until refused */
		while (off < total) {
			size_t n =
			    total - off < sizeof(chunk) ? (size_t)(total - off) : sizeof(chunk);
			int rv;

			for (size_t i = 0; i < n; i++)
				chunk[i] = (char)pattern(off + i);
			rv = h2conn_send_data(p->srv.c, id, chunk, n, off + n == total);
			if (rv == -EAGAIN) {
				assert_true(h2conn_send_room(p->srv.c, id) < n);
				eagain++;
				break;
			}
			assert_int_equal(rv, 0);
			off += n;
		}
		pump(p);
		assert_true(p->cli.unconsumed <= H2_STREAM_WINDOW);
		/* the receiver takes a little */
		size_t take = p->cli.unconsumed < (256u << 10) ? p->cli.unconsumed : (256u << 10);

		assert_int_equal(h2conn_window_consumed(p->cli.c, id, take), 0);
		p->cli.unconsumed -= take;
		pump(p);
		assert_true(++rounds < 10000);
	}
	r = rs_find(&p->cli, id);
	assert_int_equal(p->cli.pattern_off, total);
	assert_int_equal(r->ends, 1);
	assert_int_equal(r->resets, 0);
	assert_true(eagain > 10);
	assert_true(p->cli.max_unconsumed <= H2_STREAM_WINDOW);
	assert_true(p->cli.max_unconsumed >= H2_STREAM_WINDOW / 2); /* the window was used */
	assert_int_equal(p->srv.sent, total);
	pair_free(p);
}

/* Server-sent events leave one by one: each is its own data event on the other side, before the
 * end, with nothing held back. */
static void sse_events_arrive_one_by_one(void **state)
{
	struct pair *p = pair_new(16384);
	int32_t id = h2conn_submit_request(p->cli.c, "POST", "https", "h", "/sse", NULL, 0, false);
	struct rs *r;
	char ev[128];

	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 200, NULL, 0, true), 0);
	pump(p);
	r = rs_find(&p->cli, id);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->ndata, 0);
	for (int i = 0; i < 20; i++) {
		int n = snprintf(ev, sizeof(ev), "data: {\"delta\":\"tok%d\"}\n\n", i);

		assert_int_equal(h2conn_send_data(p->srv.c, id, ev, (size_t)n, false), 0);
		pump(p);
		assert_int_equal(r->ndata, (size_t)i + 1);
		assert_int_equal(r->last_len, (size_t)n);
		assert_memory_equal(r->last, ev, (size_t)n);
		assert_int_equal(r->ends, 0);
	}
	assert_int_equal(h2conn_send_data(p->srv.c, id, NULL, 0, true), 0);
	pump(p);
	assert_int_equal(r->ends, 1);
	assert_int_equal(r->ndata, 20);
	pair_free(p);
}

static void stream_reset_propagates(void **state)
{
	struct pair *p = pair_new(16384);
	int32_t a, b, c;
	struct rs *r;

	a = h2conn_submit_request(p->cli.c, "POST", "https", "h", "/a", NULL, 0, true);
	b = h2conn_submit_request(p->cli.c, "POST", "https", "h", "/b", NULL, 0, true);
	c = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/c", NULL, 0, false);
	assert_int_equal(h2conn_send_data(p->cli.c, a, "aa", 2, false), 0);
	assert_int_equal(h2conn_send_data(p->cli.c, b, "bb", 2, false), 0);
	pump(p);
	assert_int_equal(rs_find(&p->srv, a)->heads, 1);

	/* client gives up on a: the server hears CANCEL, b goes on */
	assert_int_equal(h2conn_reset_stream(p->cli.c, a, NGHTTP2_CANCEL), 0);
	assert_int_equal(h2conn_reset_stream(p->cli.c, a, NGHTTP2_CANCEL), -ENOENT);
	assert_int_equal(h2conn_send_data(p->cli.c, a, "x", 1, false), -EPIPE);
	pump(p);
	r = rs_find(&p->srv, a);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_CANCEL);
	assert_int_equal(rs_find(&p->cli, a) ? rs_find(&p->cli, a)->resets : 0, 0);
	assert_int_equal(h2conn_submit_response(p->srv.c, a, 200, NULL, 0, false), -ENOENT);

	/* the server refuses c: the client hears the code */
	assert_int_equal(h2conn_reset_stream(p->srv.c, c, NGHTTP2_REFUSED_STREAM), 0);
	pump(p);
	r = rs_find(&p->cli, c);
	assert_non_null(r);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_REFUSED_STREAM);
	assert_int_equal(r->heads, 0);
	assert_int_equal(rs_find(&p->srv, c)->resets, 0); /* our own reset is not reported */

	/* b still works */
	assert_int_equal(h2conn_send_data(p->cli.c, b, "!", 1, true), 0);
	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, b, 200, NULL, 0, true), 0);
	assert_int_equal(h2conn_send_data(p->srv.c, b, "ok", 2, true), 0);
	pump(p);
	assert_body(rs_find(&p->srv, b), "bb!");
	r = rs_find(&p->cli, b);
	assert_body(r, "ok");
	assert_int_equal(r->ends, 1);
	assert_int_equal(r->resets, 0);

	/* a reset in the middle of a response body */
	c = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/d", NULL, 0, false);
	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, c, 200, NULL, 0, true), 0);
	assert_int_equal(h2conn_send_data(p->srv.c, c, "part", 4, false), 0);
	pump(p);
	assert_int_equal(h2conn_reset_stream(p->srv.c, c, NGHTTP2_INTERNAL_ERROR), 0);
	pump(p);
	r = rs_find(&p->cli, c);
	assert_body(r, "part");
	assert_int_equal(r->ends, 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_INTERNAL_ERROR);
	assert_false(r->events_after_end);
	pair_free(p);
}

/* The server answers before the request body ended (a local answer): the client gets the whole
 * response, then is told to stop sending (RST_STREAM NO_ERROR). */
static void early_response_stops_request_body(void **state)
{
	struct pair *p = pair_new(16384);
	int32_t id = h2conn_submit_request(p->cli.c, "POST", "https", "h", "/up", NULL, 0, true);
	struct rs *r;

	assert_int_equal(h2conn_send_data(p->cli.c, id, "first", 5, false), 0);
	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 403, NULL, 0, true), 0);
	assert_int_equal(h2conn_send_data(p->srv.c, id, "denied", 6, true), 0);
	pump(p);
	r = rs_find(&p->cli, id);
	assert_int_equal(r->status, 403);
	assert_body(r, "denied");
	assert_int_equal(r->ends, 1);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_NO_ERROR);
	assert_int_equal(h2conn_send_data(p->cli.c, id, "more", 4, false), -ENOENT);
	/* the server's side: the request never ended, and that is not reported as a reset */
	r = rs_find(&p->srv, id);
	assert_int_equal(r->ends, 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_NO_ERROR);
	pair_free(p);
}

/* Bytes the caller never consumed come back to the connection window when their stream closes:
 * otherwise a few reset streams would stall the whole connection. */
static void closed_streams_return_connection_credit(void **state)
{
	struct pair *p = pair_new(16384);
	static char block[65536];
	int32_t ids[5];

	p->cli.manual_consume = true; /* and never consumes */
	memset(block, 'x', sizeof(block));
	for (int round = 0; round < 3; round++) {
		/* each round fills 4 streams x 4 MiB = the whole 16 MiB connection window */
		for (int i = 0; i < 4; i++) {
			ids[i] = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", NULL, 0,
						       false);
		}
		pump(p);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(
			    h2conn_submit_response(p->srv.c, ids[i], 200, NULL, 0, true), 0);
			for (int k = 0; k < (int)(H2_STREAM_WINDOW / sizeof(block)); k++)
				assert_int_equal(
				    h2conn_send_data(p->srv.c, ids[i], block, sizeof(block), false),
				    0);
		}
		pump(p);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(rs_find(&p->cli, ids[i])->len, H2_STREAM_WINDOW);
			assert_int_equal(h2conn_reset_stream(p->cli.c, ids[i], NGHTTP2_CANCEL), 0);
		}
		pump(p);
	}
	/* a fresh stream still gets data */
	ids[4] = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", NULL, 0, false);
	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, ids[4], 200, NULL, 0, true), 0);
	assert_int_equal(h2conn_send_data(p->srv.c, ids[4], "alive", 5, true), 0);
	pump(p);
	assert_body(rs_find(&p->cli, ids[4]), "alive");
	assert_int_equal(rs_find(&p->cli, ids[4])->ends, 1);
	pair_free(p);
}

static void graceful_goaway(void **state)
{
	struct pair *p = pair_new(16384);
	int32_t a = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/a", NULL, 0, false);
	struct rs *r;

	pump(p);
	assert_int_equal(h2conn_goaway(p->srv.c), 0);
	pump(p);
	assert_int_equal(p->cli.goaways, 1);
	assert_int_equal(p->cli.goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(p->cli.goaway_last, a);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "/b", NULL, 0, false),
			 -EPIPE);
	assert_true(h2conn_want_io(p->srv.c)); /* a is still open */
	assert_int_equal(h2conn_submit_response(p->srv.c, a, 200, NULL, 0, true), 0);
	assert_int_equal(h2conn_send_data(p->srv.c, a, "bye", 3, true), 0);
	pump(p);
	r = rs_find(&p->cli, a);
	assert_body(r, "bye");
	assert_int_equal(r->ends, 1);
	assert_false(h2conn_want_io(p->srv.c));
	assert_false(h2conn_want_io(p->cli.c));
	assert_string_equal(h2conn_error(p->srv.c), "");
	pair_free(p);
}

/* ---- a raw nghttp2 peer: sends whatever it is told to ---- */

struct raw {
	nghttp2_session *ng;
	int nrst;
	int32_t rst_id[16];
	uint32_t rst_code[16];
	int goaways;
	uint32_t goaway_code;
	int status[16]; /* by (stream id - 1) / 2 */
	int nheads;
	char data[4096];
	size_t data_len;
};

static int raw_on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
	struct raw *w = user;

	if (f->hd.type == NGHTTP2_RST_STREAM && w->nrst < 16) {
		w->rst_id[w->nrst] = f->hd.stream_id;
		w->rst_code[w->nrst++] = f->rst_stream.error_code;
	} else if (f->hd.type == NGHTTP2_GOAWAY) {
		w->goaways++;
		w->goaway_code = f->goaway.error_code;
	} else if (f->hd.type == NGHTTP2_HEADERS) {
		w->nheads++;
	}
	return 0;
}

static int raw_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
			 size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
			 void *user)
{
	struct raw *w = user;
	int idx = (f->hd.stream_id - 1) / 2;

	if (namelen == 7 && memcmp(name, ":status", 7) == 0 && idx >= 0 && idx < 16)
		w->status[idx] = atoi((const char *)value);
	return 0;
}

static int raw_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
		       size_t len, void *user)
{
	struct raw *w = user;

	if (len <= sizeof(w->data) - w->data_len) {
		memcpy(w->data + w->data_len, data, len);
		w->data_len += len;
	}
	return 0;
}

static struct raw *raw_new(bool server)
{
	struct raw *w = calloc(1, sizeof(*w));
	nghttp2_session_callbacks *cbs;

	assert_non_null(w);
	assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, raw_on_frame);
	nghttp2_session_callbacks_set_on_header_callback(cbs, raw_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, raw_on_data);
	if (server)
		assert_int_equal(nghttp2_session_server_new(&w->ng, cbs, w), 0);
	else
		assert_int_equal(nghttp2_session_client_new(&w->ng, cbs, w), 0);
	nghttp2_session_callbacks_del(cbs);
	assert_int_equal(nghttp2_submit_settings(w->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	return w;
}

static void raw_free(struct raw *w)
{
	nghttp2_session_del(w->ng);
	free(w);
}

/* Pump between a raw peer and an h2conn until quiet; returns the last h2conn_feed() result
 * that was not a full success, or 0. */
static ssize_t raw_pump(struct raw *w, struct h2conn *c)
{
	static uint8_t buf[16384];
	ssize_t bad = 0;
	bool moved;

	do {
		const uint8_t *p;
		ssize_t n;
		size_t got;

		moved = false;
		while ((n = nghttp2_session_mem_send(w->ng, &p)) > 0) {
			ssize_t r = h2conn_feed(c, p, (size_t)n);

			if (r != n)
				bad = r;
			moved = true;
		}
		do {
			(void)h2conn_drain(c, buf, sizeof(buf),
					   &got); /* a dead one still flushes */
			if (got) {
				assert_true(nghttp2_session_mem_recv(w->ng, buf, got) >= 0);
				moved = true;
			}
		} while (got == sizeof(buf));
	} while (moved && bad == 0);
	return bad;
}

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,                      \
		    NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                   \
	}

/* Stream-level violations reset only that stream (RST_STREAM PROTOCOL_ERROR); the connection and
 * later streams carry on. nghttp2 would lowercase names it copies, hence NO_COPY_NAME. */
static void invalid_request_headers_reset_stream(void **state)
{
	static const nghttp2_nv base[] = {NV(":method", "GET"), NV(":scheme", "https"),
					  NV(":authority", "h"), NV(":path", "/")};
	static const nghttp2_nv bad[] = {
	    NV("X-Upper", "1"),			/* uppercase name */
	    NV("connection", "keep-alive"),	/* connection-specific */
	    NV("transfer-encoding", "chunked"), /* connection-specific */
	    NV("upgrade", "h2c"),		/* connection-specific */
	    NV("te", "gzip"),			/* only "trailers" is allowed */
	    NV("x y", "1"),			/* not a token (nghttp2 alone would drop it) */
	    NV("x-bad", "a\rb"),		/* CR in a value */
	    NV("x-ws", " lead"),		/* leading whitespace (RFC 9113) */
	};
	const size_t nbad = sizeof(bad) / sizeof(bad[0]);

	for (size_t i = 0; i < nbad; i++) {
		struct side *sd = side_new();
		struct raw *w = raw_new(false);
		nghttp2_nv nva[5];
		int32_t id, ok;
		char err[64];

		sd->c = h2conn_new(H2_SERVER, &server_cb, sd, err, sizeof(err));
		sd->auto_status = 200;
		sd->auto_body = "fine";
		memcpy(nva, base, sizeof(base));
		nva[4] = bad[i];
		id = nghttp2_submit_request(w->ng, NULL, nva, 5, NULL, NULL);
		ok = nghttp2_submit_request(w->ng, NULL, base, 4, NULL, NULL);
		assert_int_equal(raw_pump(w, sd->c), 0);
		assert_null(rs_find(sd, id)); /* never reported */
		assert_int_equal(w->nrst, 1);
		assert_int_equal(w->rst_id[0], id);
		assert_int_equal(w->rst_code[0], NGHTTP2_PROTOCOL_ERROR);
		assert_int_equal(w->goaways, 0);
		assert_int_equal(rs_find(sd, ok)->ends, 1);
		assert_int_equal(w->status[(ok - 1) / 2], 200);
		assert_int_equal(w->data_len, 4);
		assert_true(h2conn_want_io(sd->c));
		side_free(sd);
		raw_free(w);
	}
}

/* A header section over our caps never reaches the caller: the client gets 431. */
static void oversized_request_head_gets_431(void **state)
{
	static char names[200][16];
	nghttp2_nv nva[204] = {NV(":method", "POST"), NV(":scheme", "https"), NV(":authority", "h"),
			       NV(":path", "/")};
	struct side *sd = side_new();
	struct raw *w = raw_new(false);
	char err[64];
	int32_t id;

	sd->c = h2conn_new(H2_SERVER, &server_cb, sd, err, sizeof(err));
	for (int i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "x-f%d", i);
		nva[4 + i] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)"v", strlen(names[i]), 1,
					  NGHTTP2_NV_FLAG_NONE};
	}
	id = nghttp2_submit_request(w->ng, NULL, nva, 204, NULL, NULL);
	assert_int_equal(raw_pump(w, sd->c), 0);
	assert_null(rs_find(sd, id));
	assert_int_equal(w->status[0], 431);
	assert_int_equal(w->goaways, 0);
	side_free(sd);
	raw_free(w);
}

/* Client role: a response with an invalid field resets that stream (reported), a 100 Continue
 * is skipped, trailers are dropped, an oversized head is cancelled (reported), a status beyond
 * 599 is refused (reported). */
static void response_side_checks(void **state)
{
	static const nghttp2_nv ok[] = {NV(":status", "200"), NV("content-type", "text/plain")};
	static const nghttp2_nv upper[] = {NV(":status", "200"), NV("Content-Type", "text/plain")};
	static const nghttp2_nv interim[] = {NV(":status", "100")};
	static const nghttp2_nv trailer[] = {NV("x-trailer", "t")};
	static const nghttp2_nv s999[] = {NV(":status", "999")};
	static char names[200][16];
	nghttp2_nv big[201] = {NV(":status", "200")};
	struct side *sd = side_new();
	struct raw *w = raw_new(true);
	int32_t a, b, c, d;
	struct rs *r;
	char err[64];

	sd->c = h2conn_new(H2_CLIENT, &client_cb, sd, err, sizeof(err));
	a = h2conn_submit_request(sd->c, "GET", "https", "h", "/a", NULL, 0, false);
	b = h2conn_submit_request(sd->c, "GET", "https", "h", "/b", NULL, 0, false);
	c = h2conn_submit_request(sd->c, "GET", "https", "h", "/c", NULL, 0, false);
	d = h2conn_submit_request(sd->c, "GET", "https", "h", "/d", NULL, 0, false);
	assert_int_equal(raw_pump(w, sd->c), 0);

	assert_int_equal(
	    nghttp2_submit_headers(w->ng, NGHTTP2_FLAG_END_STREAM, a, NULL, upper, 2, NULL), 0);
	assert_int_equal(
	    nghttp2_submit_headers(w->ng, NGHTTP2_FLAG_NONE, b, NULL, interim, 1, NULL), 0);
	assert_int_equal(nghttp2_submit_headers(w->ng, NGHTTP2_FLAG_NONE, b, NULL, ok, 2, NULL), 0);
	assert_int_equal(
	    nghttp2_submit_headers(w->ng, NGHTTP2_FLAG_END_STREAM, b, NULL, trailer, 1, NULL), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "x-f%d", i);
		big[1 + i] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)"v", strlen(names[i]), 1,
					  NGHTTP2_NV_FLAG_NONE};
	}
	assert_int_equal(
	    nghttp2_submit_headers(w->ng, NGHTTP2_FLAG_END_STREAM, c, NULL, big, 201, NULL), 0);
	/* nghttp2 takes any three digits */
	assert_int_equal(
	    nghttp2_submit_headers(w->ng, NGHTTP2_FLAG_END_STREAM, d, NULL, s999, 1, NULL), 0);
	assert_int_equal(raw_pump(w, sd->c), 0);

	r = rs_find(sd, a);
	assert_non_null(r);
	assert_int_equal(r->heads, 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_PROTOCOL_ERROR);

	r = rs_find(sd, b);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->nfields, 1);
	assert_int_equal(r->ends, 1);
	assert_int_equal(r->resets, 0);

	r = rs_find(sd, c);
	assert_int_equal(r->heads, 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_CANCEL);

	r = rs_find(sd, d);
	assert_int_equal(r->heads, 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_code, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(w->goaways, 0);
	side_free(sd);
	raw_free(w);
}

/* The peer's GOAWAY refuses the streams it did not take: each is reported, and the caller may
 * retry them on a new connection. */
static void peer_goaway_refuses_streams(void **state)
{
	struct side *sd = side_new();
	struct raw *w = raw_new(true);
	int32_t a, b;
	char err[64];

	sd->c = h2conn_new(H2_CLIENT, &client_cb, sd, err, sizeof(err));
	a = h2conn_submit_request(sd->c, "GET", "https", "h", "/a", NULL, 0, false);
	b = h2conn_submit_request(sd->c, "GET", "https", "h", "/b", NULL, 0, false);
	assert_int_equal(raw_pump(w, sd->c), 0);
	assert_int_equal(
	    nghttp2_submit_goaway(w->ng, NGHTTP2_FLAG_NONE, a, NGHTTP2_NO_ERROR, NULL, 0), 0);
	assert_int_equal(raw_pump(w, sd->c), 0);
	assert_int_equal(sd->goaways, 1);
	assert_int_equal(sd->goaway_last, a);
	assert_int_equal(rs_find(sd, b)->resets, 1);
	assert_int_equal(rs_find(sd, b)->reset_code, NGHTTP2_REFUSED_STREAM);
	assert_null(rs_find(sd, a));
	assert_int_equal(h2conn_submit_request(sd->c, "GET", "https", "h", "/c", NULL, 0, false),
			 -EPIPE);
	side_free(sd);
	raw_free(w);
}

/* What each role advertises: the windows, the stream limit, the header cap, no push. */
static void advertised_settings(void **state)
{
	struct side *sd = side_new();
	struct raw *w = raw_new(false);
	char err[64];

	sd->c = h2conn_new(H2_SERVER, &server_cb, sd, err, sizeof(err));
	assert_int_equal(raw_pump(w, sd->c), 0);
	assert_int_equal(
	    nghttp2_session_get_remote_settings(w->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
	    H2_MAX_STREAMS);
	assert_int_equal(
	    nghttp2_session_get_remote_settings(w->ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
	    H2_STREAM_WINDOW);
	assert_int_equal(
	    nghttp2_session_get_remote_settings(w->ng, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
	    H2_MAX_HEAD);
	assert_int_equal(nghttp2_session_get_remote_window_size(w->ng), H2_CONN_WINDOW);
	h2conn_free(sd->c);
	raw_free(w);

	w = raw_new(true);
	sd->c = h2conn_new(H2_CLIENT, &client_cb, sd, err, sizeof(err));
	assert_int_equal(raw_pump(w, sd->c), 0);
	assert_int_equal(nghttp2_session_get_remote_settings(w->ng, NGHTTP2_SETTINGS_ENABLE_PUSH),
			 0);
	assert_int_equal(
	    nghttp2_session_get_remote_settings(w->ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
	    H2_STREAM_WINDOW);
	assert_int_equal(nghttp2_session_get_remote_window_size(w->ng), H2_CONN_WINDOW);
	side_free(sd);
	raw_free(w);
}

/* ---- connection errors from hand-made bytes ---- */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static const uint8_t empty_settings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

/* The error code of the first GOAWAY in <buf>, or -1. */
static long find_goaway(const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off + 9 <= len) {
		size_t flen = (size_t)buf[off] << 16 | (size_t)buf[off + 1] << 8 | buf[off + 2];

		if (off + 9 + flen > len)
			break;
		if (buf[off + 3] == NGHTTP2_GOAWAY && flen >= 8)
			return (long)((uint32_t)buf[off + 13] << 24 |
				      (uint32_t)buf[off + 14] << 16 | (uint32_t)buf[off + 15] << 8 |
				      buf[off + 16]);
		off += 9 + flen;
	}
	return -1;
}

/* Feed <in> after <prefix> to a fresh server; return the feed result, the GOAWAY code drained. */
static ssize_t feed_server(const void *prefix, size_t plen, const void *in, size_t len,
			   long *goaway, char *err, size_t errlen)
{
	struct side *sd = side_new();
	static uint8_t out[65536];
	size_t got, total = 0;
	ssize_t r = 0;
	char e[64];

	sd->c = h2conn_new(H2_SERVER, &server_cb, sd, e, sizeof(e));
	if (plen)
		r = h2conn_feed(sd->c, prefix, plen);
	if (r >= 0)
		r = h2conn_feed(sd->c, in, len);
	do {
		int d = h2conn_drain(sd->c, out + total, 100, &got);

		/* a session nghttp2 gave up on (no preface) has nothing to say */
		assert_true(d == 0 || (d == r && got == 0));
		total += got;
	} while (got);
	*goaway = find_goaway(out, total);
	snprintf(err, errlen, "%s", h2conn_error(sd->c));
	/* dead and flushed */
	if (r < 0) {
		assert_false(h2conn_want_io(sd->c));
		assert_int_equal(h2conn_feed(sd->c, in, len), r);
		assert_int_equal(h2conn_submit_response(sd->c, 1, 200, NULL, 0, false), -EPIPE);
	}
	side_free(sd);
	return r;
}

static void malformed_connections(void **state)
{
	static const char text[] = "hello, this is not HTTP/2 at all";
	/* WINDOW_UPDATE on stream 0 with increment 0 (RFC 9113 section 6.9) */
	static const uint8_t wu0[] = {0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	/* DATA on stream 1, which was never opened */
	static const uint8_t idle_data[] = {0, 0, 1, 0, 0, 0, 0, 0, 1, 'x'};
	uint8_t pre[sizeof(preface) - 1 + sizeof(empty_settings)];
	char err[320];
	long code;

	memcpy(pre, preface, sizeof(preface) - 1);
	memcpy(pre + sizeof(preface) - 1, empty_settings, sizeof(empty_settings));

	/* garbage after the preface and SETTINGS */
	assert_int_equal(
	    feed_server(pre, sizeof(pre), text, sizeof(text) - 1, &code, err, sizeof(err)),
	    -EPROTO);
	assert_int_equal(code, NGHTTP2_FRAME_SIZE_ERROR);
	assert_non_null(strstr(err, "connection error FRAME_SIZE_ERROR"));

	/* garbage where SETTINGS must come */
	assert_int_equal(feed_server(preface, sizeof(preface) - 1, text, sizeof(text) - 1, &code,
				     err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(code, NGHTTP2_PROTOCOL_ERROR);
	assert_non_null(strstr(err, "SETTINGS"));

	/* no preface at all: an HTTP/1.1 client */
	assert_int_equal(
	    feed_server(NULL, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27, &code, err, sizeof(err)),
	    -EPROTO);
	assert_non_null(strstr(err, "magic"));

	assert_int_equal(feed_server(pre, sizeof(pre), wu0, sizeof(wu0), &code, err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(code, NGHTTP2_PROTOCOL_ERROR);

	assert_int_equal(
	    feed_server(pre, sizeof(pre), idle_data, sizeof(idle_data), &code, err, sizeof(err)),
	    -EPROTO);
	assert_int_equal(code, NGHTTP2_PROTOCOL_ERROR);
	assert_true(strlen(err) > 20);

	/* and a healthy start is not an error */
	assert_int_equal(feed_server(pre, sizeof(pre), empty_settings, 0, &code, err, sizeof(err)),
			 0);
	assert_int_equal(code, -1);
	assert_string_equal(err, "");
}

/* The client role refuses a server that does not speak HTTP/2. */
static void client_role_garbage(void **state)
{
	struct side *sd = side_new();
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint8_t out[4096];
	size_t got;
	char err[64];
	int32_t id;

	sd->c = h2conn_new(H2_CLIENT, &client_cb, sd, err, sizeof(err));
	id = h2conn_submit_request(sd->c, "GET", "https", "h", "/", NULL, 0, false);
	assert_int_equal(h2conn_drain(sd->c, out, sizeof(out), &got), 0);
	assert_true(got > 24);
	assert_memory_equal(out, preface, 24); /* the client preface goes first */
	assert_int_equal(h2conn_feed(sd->c, (const uint8_t *)resp, sizeof(resp) - 1), -EPROTO);
	assert_true(strlen(h2conn_error(sd->c)) > 0);
	assert_int_equal(h2conn_drain(sd->c, out, sizeof(out), &got), 0);
	assert_int_equal(find_goaway(out, got), NGHTTP2_PROTOCOL_ERROR);
	assert_false(h2conn_want_io(sd->c));
	/* no per-stream event: the caller closes everything on a dead connection */
	assert_null(rs_find(sd, id));
	side_free(sd);
}

/* ---- what we submit is checked ---- */

static void submit_checks(void **state)
{
	struct pair *p = pair_new(16384);
	struct http_field upper = fld("Content-Type", "x"), conn = fld("connection", "close"),
			  te = fld("te", "trailers"), crlf = fld("x-a", "a\r\nb: c"),
			  tegz = fld("te", "gzip");
	static struct http_field many[H2_MAX_FIELDS + 1];
	static char big[H2_MAX_HEAD];
	static char huge[H2_SEND_CAP + 1];
	struct http_field bigf = {"x-big", big, 5, sizeof(big) - 100};
	int32_t id;

	for (size_t i = 0; i < H2_MAX_FIELDS + 1; i++)
		many[i] = fld("x-m", "1");
	memset(big, 'b', sizeof(big));
	assert_int_equal(
	    h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", &upper, 1, false), -EINVAL);
	assert_non_null(strstr(h2conn_error(p->cli.c), "Content-Type"));
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", &conn, 1, false),
			 -EINVAL);
	assert_non_null(strstr(h2conn_error(p->cli.c), "connection-specific"));
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", &tegz, 1, false),
			 -EINVAL);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", &crlf, 1, false),
			 -EINVAL);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", many,
					       H2_MAX_FIELDS + 1, false),
			 -E2BIG);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", &bigf, 1, false),
			 -E2BIG);
	assert_int_equal(h2conn_submit_request(p->cli.c, "G T", "https", "h", "/", NULL, 0, false),
			 -EINVAL);
	assert_int_equal(
	    h2conn_submit_request(p->cli.c, "CONNECT", "https", "h", "/", NULL, 0, false), -EINVAL);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "ht tp", "h", "/", NULL, 0, false),
			 -EINVAL);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "", "/", NULL, 0, false),
			 -EINVAL);
	assert_int_equal(h2conn_submit_request(p->cli.c, "GET", "https", "h", "x", NULL, 0, false),
			 -EINVAL);
	assert_int_equal(
	    h2conn_submit_request(p->cli.c, "GET", "https", "h", "/a b", NULL, 0, false), -EINVAL);
	assert_int_equal(h2conn_submit_request(p->srv.c, "GET", "https", "h", "/", NULL, 0, false),
			 -EINVAL);
	assert_int_equal(h2conn_submit_response(p->cli.c, 1, 200, NULL, 0, false), -EINVAL);

	id = h2conn_submit_request(p->cli.c, "OPTIONS", "https", "h", "*", &te, 1, true);
	assert_int_equal(id, 1);
	assert_int_equal(h2conn_send_data(p->cli.c, id, huge, sizeof(huge), false), -EMSGSIZE);
	assert_int_equal(h2conn_send_room(p->cli.c, id), H2_SEND_CAP);
	assert_int_equal(h2conn_send_data(p->cli.c, id, huge, H2_SEND_CAP, false), 0);
	assert_int_equal(h2conn_send_room(p->cli.c, id), 0);
	assert_int_equal(h2conn_send_data(p->cli.c, id, "x", 1, false), -EAGAIN);
	assert_int_equal(h2conn_send_data(p->cli.c, 3, "x", 1, false), -ENOENT);
	pump(p);
	assert_int_equal(rs_find(&p->srv, id)->len, H2_STREAM_WINDOW); /* one full window */
	assert_int_equal(h2conn_send_room(p->cli.c, id), H2_STREAM_WINDOW);
	assert_int_equal(h2conn_send_data(p->cli.c, id, NULL, 0, true), 0);
	assert_int_equal(h2conn_send_room(p->cli.c, id), 0);
	pump(p);
	assert_int_equal(rs_find(&p->srv, id)->ends, 1);
	assert_string_equal(rs_find(&p->srv, id)->path, "*");

	assert_int_equal(h2conn_submit_response(p->srv.c, id, 101, NULL, 0, false), -EINVAL);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 600, NULL, 0, false), -EINVAL);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 200, &upper, 1, false), -EINVAL);
	assert_int_equal(h2conn_submit_response(p->srv.c, 99, 200, NULL, 0, false), -ENOENT);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, 200, NULL, 0, false), 0);
	pump(p);
	assert_int_equal(rs_find(&p->cli, id)->status, 200);
	assert_int_equal(h2conn_window_consumed(p->cli.c, 77, 10), 0); /* unknown: nothing */
	pair_free(p);
}

/* ---- h1 <-> h2 header translation ---- */

static void assert_h1_field(const struct h1_header *f, const char *name, const char *value)
{
	if (f->name.len != strlen(name) || memcmp(f->name.p, name, f->name.len) != 0 ||
	    f->value.len != strlen(value) || memcmp(f->value.p, value, f->value.len) != 0)
		fail_msg("field %.*s: %.*s != %s: %s", (int)f->name.len, f->name.p,
			 (int)f->value.len, f->value.p, name, value);
}

static struct h2_head req_head(const char *authority, const struct http_field *f, size_t n)
{
	return (struct h2_head){.method = "POST",
				.method_len = 4,
				.scheme = "https",
				.scheme_len = 5,
				.authority = authority,
				.authority_len = authority ? strlen(authority) : 0,
				.path = "/v1/messages",
				.path_len = 12,
				.fields = f,
				.nfields = n};
}

static void h2_request_to_h1(void **state)
{
	struct http_field f[] = {
	    fld("content-type", "application/json"),
	    fld("cookie", "a=1"),
	    fld("host", "API.anthropic.com"),
	    fld("te", "trailers"),
	    fld("x-api-key", "sk-ant-test"),
	    fld("cookie", "b=2"),
	    fld("cookie", "c=3"),
	    fld("content-length", "2"),
	};
	struct h2_head h = req_head("api.anthropic.com", f, 8);
	struct h1_header out[16];
	static struct h1_head parsed;
	char scratch[64], err[128], wire[1024];
	struct h1_write_opts verbatim = {.framing = H1_FRAMING_VERBATIM, .strip_hop_by_hop = true};
	int n;

	n = h2conv_request_to_h1(&h, out, 16, scratch, sizeof(scratch), err, sizeof(err));
	assert_int_equal(n, 5);
	assert_h1_field(&out[0], "Host", "api.anthropic.com");
	assert_h1_field(&out[1], "content-type", "application/json");
	assert_h1_field(&out[2], "cookie", "a=1; b=2; c=3");
	assert_h1_field(&out[3], "x-api-key", "sk-ant-test");
	assert_h1_field(&out[4], "content-length", "2");
	/* what h1 writes from it, h1 parses back */
	n = h1_write_request_head(wire, sizeof(wire), (struct h1_span){h.method, h.method_len},
				  (struct h1_span){h.path, h.path_len}, out, (size_t)n, &verbatim);
	assert_true(n > 0);
	assert_int_equal(h1_parse_head(wire, (size_t)n, H1_REQUEST, &parsed, err, sizeof(err)), n);
	assert_int_equal(parsed.content_length, 2);
	assert_int_equal(parsed.host.len, 17);

	/* one cookie: no scratch needed */
	h.nfields = 2;
	assert_int_equal(h2conv_request_to_h1(&h, out, 16, NULL, 0, err, sizeof(err)), 3);
	assert_h1_field(&out[2], "cookie", "a=1");

	/* no :authority: the host field becomes Host */
	h = req_head(NULL, f, 3);
	assert_int_equal(
	    h2conv_request_to_h1(&h, out, 16, scratch, sizeof(scratch), err, sizeof(err)), 3);
	assert_h1_field(&out[0], "Host", "API.anthropic.com");
	h = req_head(NULL, f, 2);
	assert_int_equal(
	    h2conv_request_to_h1(&h, out, 16, scratch, sizeof(scratch), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no :authority and no host");

	/* a host that contradicts :authority */
	h = req_head("evil.example", f, 3);
	assert_int_equal(
	    h2conv_request_to_h1(&h, out, 16, scratch, sizeof(scratch), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "host field differs from :authority");

	/* caps */
	h = req_head("h", f, 8);
	h.fields = f;
	{
		struct http_field g[8];

		memcpy(g, f, sizeof(g));
		g[2] = fld("x-h", "1"); /* no host conflict */
		h.fields = g;
		assert_int_equal(
		    h2conv_request_to_h1(&h, out, 3, scratch, sizeof(scratch), err, sizeof(err)),
		    -E2BIG);
		assert_int_equal(h2conv_request_to_h1(&h, out, 16, scratch, 12, err, sizeof(err)),
				 -E2BIG);
		assert_int_equal(h2conv_request_to_h1(&h, out, 16, scratch, 13, err, sizeof(err)),
				 6);
	}
	h = req_head("h", NULL, 0);
	h.method = "CONNECT";
	h.method_len = 7;
	assert_int_equal(
	    h2conv_request_to_h1(&h, out, 16, scratch, sizeof(scratch), err, sizeof(err)), -EINVAL);
}

/* An HTTP/1.1 response head becomes h2 fields, which then really cross an h2 connection. */
static void h1_response_to_h2(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Connection: keep-alive, X-Hop\r\n"
				   "Keep-Alive: timeout=5\r\n"
				   "X-Hop: secret-of-this-hop\r\n"
				   "Upgrade: h2c\r\n"
				   "Proxy-Connection: keep-alive\r\n"
				   "connection: X-Other\r\n"
				   "x-other: 1\r\n"
				   "X-Request-ID: req_abc\r\n"
				   "Set-Cookie: a=1\r\n"
				   "Set-Cookie: b=2\r\n"
				   "Cache-Control: no-cache\r\n"
				   "\r\n";
	static struct h1_head h;
	struct http_field out[H1_MAX_HEADERS];
	char scratch[256], err[128];
	struct pair *p = pair_new(16384);
	struct rs *r;
	int n, id;

	assert_int_equal(h1_parse_head(resp, sizeof(resp) - 1, H1_RESPONSE, &h, err, sizeof(err)),
			 sizeof(resp) - 1);
	n = h2conv_response_from_h1(&h, out, H1_MAX_HEADERS, scratch, sizeof(scratch), err,
				    sizeof(err));
	assert_int_equal(n, 5);
	assert_int_equal(out[0].name_len, 12);
	assert_memory_equal(out[0].name, "content-type", 12);
	assert_memory_equal(out[1].name, "x-request-id", 12);
	assert_memory_equal(out[2].name, "set-cookie", 10);
	assert_memory_equal(out[3].value, "b=2", 3);
	assert_memory_equal(out[4].name, "cache-control", 13);
	assert_int_equal(
	    h2conv_response_from_h1(&h, out, 4, scratch, sizeof(scratch), err, sizeof(err)),
	    -E2BIG);
	assert_int_equal(h2conv_response_from_h1(&h, out, 8, scratch, 40, err, sizeof(err)),
			 -E2BIG);

	id = h2conn_submit_request(p->cli.c, "GET", "https", "h", "/", NULL, 0, false);
	pump(p);
	assert_int_equal(h2conn_submit_response(p->srv.c, id, h.status, out, (size_t)n, false), 0);
	pump(p);
	r = rs_find(&p->cli, id);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->nfields, 5);
	assert_string_equal(r->names[0], "content-type");
	assert_string_equal(r->values[0], "text/event-stream");
	assert_string_equal(r->names[3], "set-cookie");
	assert_string_equal(r->values[3], "b=2");
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(request_and_response_round_trip),
	    cmocka_unit_test(bodiless_request_and_response),
	    cmocka_unit_test(fifty_concurrent_streams),
	    cmocka_unit_test(large_body_backpressure),
	    cmocka_unit_test(sse_events_arrive_one_by_one),
	    cmocka_unit_test(stream_reset_propagates),
	    cmocka_unit_test(early_response_stops_request_body),
	    cmocka_unit_test(closed_streams_return_connection_credit),
	    cmocka_unit_test(graceful_goaway),
	    cmocka_unit_test(invalid_request_headers_reset_stream),
	    cmocka_unit_test(oversized_request_head_gets_431),
	    cmocka_unit_test(response_side_checks),
	    cmocka_unit_test(peer_goaway_refuses_streams),
	    cmocka_unit_test(advertised_settings),
	    cmocka_unit_test(malformed_connections),
	    cmocka_unit_test(client_role_garbage),
	    cmocka_unit_test(submit_checks),
	    cmocka_unit_test(h2_request_to_h1),
	    cmocka_unit_test(h1_response_to_h2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_h2conn: libFuzzer driver for the HTTP/2 endpoint (and the h2 -> h1 request translation).
 * Input: byte 0 picks the role (bit 0: 0 server, 1 client), byte 1 seeds how the rest is split
 * into transport reads; the rest is what the peer sends (for the server role, after the client
 * connection preface, which the driver sends first). The driver behaves like the proxy: it
 * answers requests, echoes bodies, returns credit, resets streams now and then. Beyond "no
 * crash, no leak" it checks: h2conn_feed() consumes everything or fails for good, h2conn_drain()
 * never writes past its cap and leaves nothing pending, the output stays within a fixed multiple
 * of the input (no amplification), and a translated request head is one h1 writes and parses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/h1.c"
#include "../../userspace/h2conn.c"
#include "../../userspace/h2conv.c"

#define FUZZ_OUT_CHUNK 4096

/* What the driver saw of a stream, to check the order of events. */
enum fuzz_st {
	FUZZ_NONE = 0,
	FUZZ_HEAD, /* head reported, body may follow */
	FUZZ_END,  /* *_end reported: only a stream_reset may follow */
	FUZZ_GONE, /* stream_reset reported: nothing may follow */
};

#define FUZZ_SLOTS 512

struct fuzz_app {
	struct h2conn *c;
	uint32_t rng;
	size_t echoed; /* body bytes we queued in answer */
	int32_t ids[FUZZ_SLOTS];
	enum fuzz_st st[FUZZ_SLOTS];
};

/* The state slot of <id> (open addressing), or NULL when the table is full. */
static enum fuzz_st *fuzz_slot(struct fuzz_app *a, int32_t id)
{
	for (size_t i = 0, h = (size_t)id * 2654435761u % FUZZ_SLOTS; i < FUZZ_SLOTS;
	     i++, h = (h + 1) % FUZZ_SLOTS) {
		if (a->ids[h] == id)
			return &a->st[h];
		if (a->ids[h] == 0) {
			a->ids[h] = id;
			return &a->st[h];
		}
	}
	return NULL;
}

/* An event that is only valid in state <from> arrives for <id>: check, then move to <to>. */
static void fuzz_event(struct fuzz_app *a, int32_t id, enum fuzz_st from, enum fuzz_st to)
{
	enum fuzz_st *st = fuzz_slot(a, id);

	if (id <= 0)
		abort();
	if (!st)
		return;
	if (*st != from)
		abort();
	*st = to;
}

static uint32_t fuzz_next(uint32_t *st)
{
	*st = *st * 1103515245u + 12345u;
	return *st >> 8;
}

/* The request as the proxy would send it to an HTTP/1.1 upstream. */
static void fuzz_translate(const struct h2_head *h)
{
	static struct h1_header out[H2_MAX_FIELDS + 1];
	static char scratch[H2_MAX_HEAD], wire[2 * H2_MAX_HEAD];
	static struct h1_head parsed;
	struct h1_write_opts opts = {.framing = H1_FRAMING_CHUNKED, .strip_hop_by_hop = true};
	char err[256];
	int n, w, p;

	n = h2conv_request_to_h1(h, out, sizeof(out) / sizeof(out[0]), scratch, sizeof(scratch),
				 err, sizeof(err));
	if (n == -EINVAL || n == -E2BIG)
		return;
	if (n < 1 || out[0].name.len != 4 || (size_t)n > h->nfields + 1)
		abort();
	for (int i = 1; i < n; i++)
		if (h2v_hop_by_hop(out[i].name.p, out[i].name.len) ||
		    h2v_is(out[i].name.p, out[i].name.len, "host"))
			abort();
	w = h1_write_request_head(wire, sizeof(wire), (struct h1_span){h->method, h->method_len},
				  (struct h1_span){h->path, h->path_len}, out, (size_t)n, &opts);
	if (w == -EINVAL)
		return; /* h2 allows some authorities or targets h1 is stricter about */
	if (w <= 0)
		abort();
	p = h1_parse_head(wire, (size_t)w, H1_REQUEST, &parsed, err, sizeof(err));
	if (p != w && !(p == -E2BIG && w > H1_MAX_HEAD) &&
	    !(p == -EBADMSG && strstr(err, "Host")) /* Host is checked more closely on parse */)
		abort();
}

static void fuzz_request_head(void *ctx, int32_t id, const struct h2_head *h)
{
	struct fuzz_app *a = ctx;
	struct http_field f = {"content-type", "text/event-stream", 12, 17};
	uint32_t r = fuzz_next(&a->rng);

	if (!h->method || h->method_len == 0 || h->method[h->method_len] != '\0')
		abort();
	fuzz_event(a, id, FUZZ_NONE, FUZZ_HEAD);
	if (h2conn_set_stream_user(a->c, id, a) != 0 || h2conn_stream_user(a->c, id) != a)
		abort();
	for (size_t i = 0; i < h->nfields; i++)
		if (h->fields[i].name_len == 0 || h->fields[i].name[h->fields[i].name_len] != '\0')
			abort();
	fuzz_translate(h);
	if (r % 5 == 0) {
		h2conn_reset_stream(a->c, id, NGHTTP2_REFUSED_STREAM);
		return;
	}
	if (h2conn_submit_response(a->c, id, 200, &f, 1, r % 3 != 0) == 0 && r % 3 != 0 &&
	    h2conn_send_data(a->c, id, "data: hi\n\n", 10, r % 2 == 0) == 0)
		a->echoed += 10;
}

static void fuzz_data(void *ctx, int32_t id, const char *data, size_t len)
{
	struct fuzz_app *a = ctx;
	uint32_t r = fuzz_next(&a->rng);

	if (len == 0)
		abort();
	fuzz_event(a, id, FUZZ_HEAD, FUZZ_HEAD);
	/* Echo what fits, give the credit back when "the other side took it". */
	if (h2conn_send_room(a->c, id) >= len && h2conn_send_data(a->c, id, data, len, false) == 0)
		a->echoed += len;
	if (r % 4 != 0)
		h2conn_window_consumed(a->c, id, r % 2 ? len : len / 2);
	if (r % 29 == 0)
		h2conn_reset_stream(a->c, id, NGHTTP2_CANCEL);
}

static void fuzz_end(void *ctx, int32_t id)
{
	struct fuzz_app *a = ctx;

	fuzz_event(a, id, FUZZ_HEAD, FUZZ_END);
	h2conn_send_data(a->c, id, NULL, 0, true);
	if (fuzz_next(&a->rng) % 31 == 0)
		h2conn_goaway(a->c);
}

static void fuzz_reset(void *ctx, int32_t id, uint32_t code)
{
	struct fuzz_app *a = ctx;
	enum fuzz_st *st = fuzz_slot(a, id);

	if (st && *st == FUZZ_GONE)
		abort();
	if (st)
		*st = FUZZ_GONE;
	/* the stream is gone: nothing can be done with it any more */
	if (h2conn_send_data(a->c, id, "x", 1, false) != -ENOENT &&
	    h2conn_send_data(a->c, id, "x", 1, false) != -EPIPE)
		abort();
}

static void fuzz_response_head(void *ctx, int32_t id, const struct h2_head *h)
{
	struct fuzz_app *a = ctx;

	if (h->status < 200 || h->status > 599 || h->method)
		abort();
	fuzz_event(a, id, FUZZ_NONE, FUZZ_HEAD);
	if (fuzz_next(&a->rng) % 7 == 0)
		h2conn_reset_stream(a->c, id, NGHTTP2_CANCEL);
}

static void fuzz_sent(void *ctx, int32_t id, size_t len)
{
	if (len == 0)
		abort();
}

static void fuzz_goaway(void *ctx, uint32_t code, int32_t last)
{
	struct fuzz_app *a = ctx;

	/* a client can no longer open streams */
	if (a->c->role == H2_CLIENT &&
	    h2conn_submit_request(a->c, "GET", "https", "h", "/", NULL, 0, false) != -EPIPE)
		abort();
}

static const struct h2conn_callbacks fuzz_cb = {
    .request_head = fuzz_request_head,
    .request_data = fuzz_data,
    .request_end = fuzz_end,
    .response_head = fuzz_response_head,
    .response_data = fuzz_data,
    .response_end = fuzz_end,
    .stream_reset = fuzz_reset,
    .data_sent = fuzz_sent,
    .goaway = fuzz_goaway,
};

/* Drain everything; returns the bytes produced. */
static size_t fuzz_drain(struct h2conn *c)
{
	static uint8_t out[FUZZ_OUT_CHUNK + 64];
	size_t total = 0, w;
	uint32_t cap = 1;

	for (;;) {
		/* a canary past the cap */
		memset(out + cap, 0xa5, 64);
		if (h2conn_drain(c, out, cap, &w) < 0) {
			if (w != 0 || h2conn_want_io(c))
				abort();
			return total;
		}
		if (w > cap)
			abort();
		for (size_t i = 0; i < 64; i++)
			if (out[cap + i] != 0xa5)
				abort();
		total += w;
		if (w < cap) {
			if (h2conn_pending(c) != 0)
				abort();
			return total;
		}
		cap = cap * 2 + 1 > FUZZ_OUT_CHUNK ? FUZZ_OUT_CHUNK : cap * 2 + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct fuzz_app a = {0};
	enum h2_role role;
	size_t off = 0, out = 0;
	bool dead = false;
	uint32_t seed;
	char err[128];

	if (size < 2 || size > (1 << 20))
		return 0;
	role = (data[0] & 1) ? H2_CLIENT : H2_SERVER;
	seed = data[1];
	a.rng = data[1] * 2654435761u;
	a.c = h2conn_new(role, &fuzz_cb, &a, err, sizeof(err));
	if (!a.c)
		abort();
	if (role == H2_SERVER) {
		if (h2conn_feed(a.c, (const uint8_t *)magic, 24) != 24)
			abort();
	} else {
		struct http_field f = {"content-type", "application/json", 12, 16};

		if (h2conn_submit_request(a.c, "POST", "https", "api.openai.com", "/v1/responses",
					  &f, 1, true) != 1 ||
		    h2conn_send_data(a.c, 1, "{}", 2, true) != 0 ||
		    h2conn_submit_request(a.c, "GET", "https", "api.openai.com", "/v1/models", NULL,
					  0, false) != 3 ||
		    h2conn_submit_request(a.c, "POST", "https", "api.openai.com", "/v1/x", NULL, 0,
					  true) != 5)
			abort();
	}
	out += fuzz_drain(a.c);
	data += 2;
	size -= 2;
	while (off < size) {
		size_t k = 1 + fuzz_next(&seed) % 2048;
		ssize_t r;

		if (k > size - off)
			k = size - off;
		r = h2conn_feed(a.c, data + off, k);
		if (dead && r >= 0)
			abort(); /* a dead connection stays dead */
		if (r >= 0 && (size_t)r != k)
			abort();
		if (r < 0) {
			if (r != -EPROTO && r != -ENOMEM)
				abort();
			if (h2conn_error(a.c)[0] == '\0')
				abort();
			dead = true;
		}
		off += k;
		out += fuzz_drain(a.c);
	}
	/* SETTINGS/PING acks, RST_STREAM, WINDOW_UPDATE, our answers: each bounded by the frame
	 * (9 bytes at least) that caused it, plus what we chose to echo. */
	if (out > 65536 + 8 * size + 2 * a.echoed)
		abort();
	if (dead && h2conn_want_io(a.c))
		abort();
	h2conn_free(a.c);
	return 0;
}

/* test_wsframe: the WebSocket frame reader (wsframe.c): whole messages out of frames split
 * anywhere, masked or not, with 7-, 16- and 64-bit lengths; fragments joined around control
 * frames; a message over the cap skipped whole; compressed messages flagged; nothing read after
 * a close frame; and each kind of broken framing refused and named. */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsframe.h"

/* frame - one frame into <out>: FIN, RSV1, opcode, length in the shortest form (or the 64-bit
 * one when <len64>), an optional mask. Returns its size. */
static size_t frame(unsigned char *out, bool fin, bool rsv1, int op, const char *payload, size_t n,
		    const unsigned char *mask, bool len64)
{
	size_t i = 0;

	out[i++] = (unsigned char)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op);
	if (n < 126 && !len64) {
		out[i++] = (unsigned char)((mask ? 0x80 : 0) | n);
	} else if (n < 65536 && !len64) {
		out[i++] = (unsigned char)((mask ? 0x80 : 0) | 126);
		out[i++] = (unsigned char)(n >> 8);
		out[i++] = (unsigned char)n;
	} else {
		out[i++] = (unsigned char)((mask ? 0x80 : 0) | 127);
		for (int s = 56; s >= 0; s -= 8)
			out[i++] = (unsigned char)((uint64_t)n >> s);
	}
	if (mask) {
		memcpy(out + i, mask, 4);
		i += 4;
	}
	for (size_t k = 0; k < n; k++)
		out[i + k] = (unsigned char)payload[k] ^ (mask ? mask[k & 3] : 0);
	return i + n;
}

struct seen {
	int n;
	int op[8];
	bool compressed[8];
	char text[8][128];
	size_t len[8];
};

static void on_msg(void *ctx, int opcode, const char *p, size_t len, bool compressed)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	s->op[s->n] = opcode;
	s->compressed[s->n] = compressed;
	s->len[s->n] = len;
	snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", (int)(len < 127 ? len : 127), p);
	s->n++;
}

/* feed - <n> bytes one at a time, then whole, into fresh readers: the same messages. */
static void feed_both_ways(const unsigned char *b, size_t n, size_t cap, struct seen *out,
			   int *rc_out, struct wsframe *keep)
{
	struct seen one = {0}, whole = {0};
	struct wsframe w;
	int rc = 0;

	wsframe_init(&w, cap);
	for (size_t i = 0; i < n; i++)
		rc = wsframe_feed(&w, (const char *)b + i, 1, on_msg, &one);
	wsframe_free(&w);
	wsframe_init(keep, cap);
	*rc_out = wsframe_feed(keep, (const char *)b, n, on_msg, &whole);
	assert_int_equal(rc, *rc_out);
	assert_int_equal(one.n, whole.n);
	for (int i = 0; i < one.n; i++) {
		assert_int_equal(one.op[i], whole.op[i]);
		assert_int_equal(one.len[i], whole.len[i]);
		assert_string_equal(one.text[i], whole.text[i]);
	}
	*out = whole;
}

static void messages(void **state)
{
	static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	unsigned char *b = malloc(200000);
	char *big = malloc(70000);
	struct seen s;
	struct wsframe w;
	size_t n = 0;
	int rc;

	memset(big, 'z', 70000);
	n += frame(b + n, true, false, 1, "Hello", 5, NULL, false);
	n += frame(b + n, true, false, 1, "masked", 6, mask, false);
	/* fragmented, a ping and a pong in between */
	n += frame(b + n, false, false, 1, "frag", 4, mask, false);
	n += frame(b + n, true, false, 9, "ping", 4, mask, false);
	n += frame(b + n, false, false, 0, "ment", 4, mask, false);
	n += frame(b + n, true, false, 10, "", 0, NULL, false);
	n += frame(b + n, true, false, 0, "ed", 2, mask, false);
	n += frame(b + n, true, false, 2, big, 300, NULL, false);   /* 16-bit length */
	n += frame(b + n, true, false, 2, big, 70000, NULL, false); /* 64-bit length */
	n += frame(b + n, true, false, 1, "7 in 64", 7, NULL, true);
	n += frame(b + n, true, true, 1, "\xf2\x48", 2, NULL, false); /* permessage-deflate */
	n += frame(b + n, true, false, 8, "\x03\xe8", 2, mask, false);
	n += frame(b + n, true, false, 1, "after close", 11, NULL, false);
	feed_both_ways(b, n, 100000, &s, &rc, &w);
	assert_int_equal(rc, 0);
	assert_int_equal(w.state, WSF_CLOSED);
	assert_int_equal(s.n, 7);
	assert_string_equal(s.text[0], "Hello");
	assert_string_equal(s.text[1], "masked");
	assert_string_equal(s.text[2], "fragmented");
	assert_int_equal(s.op[3], 2);
	assert_int_equal(s.len[3], 300);
	assert_int_equal(s.len[4], 70000);
	assert_string_equal(s.text[5], "7 in 64");
	assert_true(s.compressed[6] && !s.compressed[0]);
	assert_int_equal(w.messages, 7);
	assert_int_equal(w.compressed, 1);
	wsframe_free(&w);

	/* over the cap: that message is skipped whole, the next one read */
	n = frame(b, false, false, 1, big, 40, NULL, false);
	n += frame(b + n, true, false, 0, big, 40, NULL, false);
	n += frame(b + n, true, false, 1, "fits", 4, NULL, false);
	feed_both_ways(b, n, 64, &s, &rc, &w);
	assert_int_equal(rc, 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.text[0], "fits");
	assert_int_equal(w.skipped, 1);
	wsframe_free(&w);
	free(big);
	free(b);
}

static void broken(void **state)
{
	static const struct {
		const char *what;
		unsigned char bytes[16];
		size_t n;
	} cases[] = {
	    {"reserved opcode", {0x83, 0x00}, 2},
	    {"RSV2 or RSV3 set", {0xa1, 0x00}, 2},
	    {"continuation without a message", {0x80, 0x01, 'x'}, 3},
	    {"new message inside a fragmented one", {0x01, 0x01, 'a', 0x81, 0x01, 'b'}, 6},
	    {"fragmented, long or compressed control frame", {0x09, 0x00}, 2},
	    {"fragmented, long or compressed control frame", {0x89, 0x7e, 0x00, 0x7e}, 4},
	    {"RSV1 on a continuation frame", {0x01, 0x01, 'a', 0xc0, 0x01, 'b'}, 6},
	    {"64-bit length with its top bit set", {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen s = {0};
		struct wsframe w;

		wsframe_init(&w, 1024);
		assert_int_equal(
		    wsframe_feed(&w, (const char *)cases[i].bytes, cases[i].n, on_msg, &s), -1);
		assert_int_equal(w.state, WSF_BROKEN);
		assert_string_equal(w.why, cases[i].what);
		/* and stays so */
		assert_int_equal(wsframe_feed(&w, "\x81\x01x", 3, on_msg, &s), -1);
		assert_int_equal(s.n, 0);
		wsframe_free(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(messages),
	    cmocka_unit_test(broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

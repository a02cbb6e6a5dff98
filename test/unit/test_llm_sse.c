/* test_llm_sse: unit tests for the incremental SSE framing: line ends (LF, CRLF, CR, a CRLF split
 * across pieces), field rules (comments, multi-line data, no colon, one space dropped, ignored
 * fields), dispatch rules (no data: no event), the BOM, the size cap (skip, count, recover),
 * pending state, and identical events at every split point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_sse.h"

#define LIT(s) s, sizeof(s) - 1

struct ev_log {
	char buf[8192];
	size_t len;
	int n;
};

static void log_cb(void *ctx, const struct llm_sse_event *ev)
{
	struct ev_log *l = ctx;
	int w;

	assert_int_equal(strlen(ev->type), ev->type_len);
	if (ev->skipped) {
		assert_null(ev->data);
		w = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "[%s]SKIP(%zu)\n", ev->type,
			     ev->data_len);
	} else {
		assert_non_null(ev->data);
		assert_int_equal(ev->data[ev->data_len], '\0');
		w = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "[%s]%.*s\n", ev->type,
			     (int)ev->data_len, ev->data);
	}
	assert_true(w > 0 && (size_t)w < sizeof(l->buf) - l->len);
	l->len += (size_t)w;
	l->n++;
}

/* Parse <in> fed in pieces of <piece> bytes (0: whole) with data cap <cap>. */
static void parse(const char *in, size_t len, size_t piece, size_t cap, struct ev_log *l,
		  struct llm_sse *out_state)
{
	struct llm_sse s;

	memset(l, 0, sizeof(*l));
	llm_sse_init(&s, cap);
	if (piece == 0) {
		llm_sse_feed(&s, in, len, log_cb, l);
	} else {
		for (size_t off = 0; off < len; off += piece)
			llm_sse_feed(&s, in + off, len - off < piece ? len - off : piece, log_cb,
				     l);
	}
	if (out_state)
		*out_state = s;
	else
		llm_sse_free(&s);
}

static void expect(const char *in, size_t len, size_t cap, const char *want)
{
	struct ev_log l;

	parse(in, len, 0, cap, &l, NULL);
	if (strcmp(l.buf, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", l.buf, want);
}

static void test_basic_events(void **state)
{
	expect(LIT("event: message_start\ndata: {\"a\":1}\n\n"
		   "data: {\"b\":2}\n\n"),
	       1024, "[message_start]{\"a\":1}\n[]{\"b\":2}\n");
}

static void test_line_ends_agree(void **state)
{
	static const char *const forms[] = {
	    "event: x\ndata: 1\ndata: 2\n\ndata: 3\n\n",
	    "event: x\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n",
	    "event: x\rdata: 1\rdata: 2\r\rdata: 3\r\r",
	    "event: x\r\ndata: 1\ndata: 2\r\rdata: 3\n\r\n",
	};

	for (size_t i = 0; i < 4; i++)
		expect(forms[i], strlen(forms[i]), 1024, "[x]1\n2\n[]3\n");
}

static void test_crlf_split_is_one_line_end(void **state)
{
	struct ev_log l;
	struct llm_sse s;

	memset(&l, 0, sizeof(l));
	llm_sse_init(&s, 1024);
	llm_sse_feed(&s, LIT("data: a\r"), log_cb, &l);
	llm_sse_feed(&s, LIT("\ndata: b\r"), log_cb, &l);
	llm_sse_feed(&s, LIT("\n"), log_cb, &l);
	assert_int_equal(l.n, 0);
	llm_sse_feed(&s, LIT("\r"), log_cb, &l);
	assert_int_equal(l.n, 1);
	/* the LF after that CR is the same blank line, not a second one */
	llm_sse_feed(&s, LIT("\ndata: c\n\n"), log_cb, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.buf, "[]a\nb\n[]c\n");
	llm_sse_free(&s);
}

static void test_field_rules(void **state)
{
	/* no space, two spaces (one kept), a bare "data" line, an empty data line */
	expect(LIT("data:x\ndata:  y\ndata\ndata:\n\n"), 1024, "[]x\n y\n\n\n");
	/* comments, id, retry, unknown and over-long field names are ignored */
	expect(LIT(": keep-alive\nid: 7\nretry: 100\nfoo: bar\ndatadatadata: z\ndata: ok\n\n"),
	       1024, "[]ok\n");
	/* a colon in the value is data */
	expect(LIT("data: a: b\n\n"), 1024, "[]a: b\n");
	/* the last event name wins, and resets after dispatch */
	expect(LIT("event: a\nevent: b\ndata: 1\n\ndata: 2\n\n"), 1024, "[b]1\n[]2\n");
	/* field names are case-sensitive */
	expect(LIT("Data: 1\nEVENT: x\ndata: 2\n\n"), 1024, "[]2\n");
}

static void test_no_data_no_event(void **state)
{
	/* an event block without data is not dispatched and its name does not leak on */
	expect(LIT("event: ping\n\n\n\ndata: 1\n\n"), 1024, "[]1\n");
	/* an empty data value still dispatches */
	expect(LIT("event: e\ndata:\n\n"), 1024, "[e]\n");
}

static void test_long_event_name_cut(void **state)
{
	char in[256], want[128];

	snprintf(in, sizeof(in), "event: %0100d\ndata: 1\n\n", 0);
	snprintf(want, sizeof(want), "[%0*d]1\n", LLM_SSE_TYPE_MAX, 0);
	expect(in, strlen(in), 1024, want);
}

static void test_bom(void **state)
{
	struct ev_log l;

	expect(LIT("\xEF\xBB\xBF"
		   "data: a\n\n"),
	       1024, "[]a\n");
	/* a BOM fed one byte at a time is still a BOM */
	parse(LIT("\xEF\xBB\xBF"
		  "data: a\n\n"),
	      1, 1024, &l, NULL);
	assert_string_equal(l.buf, "[]a\n");
	/* only at the start: later it is part of a field name */
	expect(LIT("data: a\n\n\xEF\xBB\xBF"
		   "data: b\n\n"),
	       1024, "[]a\n");
	/* a partial BOM is ordinary input: here part of the field name, so no event */
	parse(LIT("\xEF\xBB"
		  "data: a\n\ndata: b\n\n"),
	      1, 1024, &l, NULL);
	assert_string_equal(l.buf, "[]b\n");
	/* and a partial BOM followed by a line end is a line of its own */
	expect(LIT("\xEF\ndata: c\n\n"), 1024, "[]c\n");
}

static void test_oversized_skipped_and_counted(void **state)
{
	struct ev_log l;
	struct llm_sse s;

	/* cap 16: 16 data bytes fit, 17 do not; joined lines count their LF */
	parse(LIT("data: 0123456789abcdef\n\n"
		  "data: 0123456789abcdefg\n\n"
		  "event: big\ndata: 01234567\ndata: 01234567\n\n"
		  "data: after\n\n"),
	      0, 16, &l, &s);
	assert_string_equal(l.buf, "[]0123456789abcdef\n"
				   "[]SKIP(17)\n"
				   "[big]SKIP(17)\n"
				   "[]after\n");
	assert_int_equal(s.events, 4);
	assert_int_equal(s.skipped_events, 2);
	llm_sse_free(&s);
}

static void test_pending(void **state)
{
	struct ev_log l;
	struct llm_sse s;

	memset(&l, 0, sizeof(l));
	llm_sse_init(&s, 1024);
	assert_false(llm_sse_pending(&s));
	llm_sse_feed(&s, LIT("data: x"), log_cb, &l);
	assert_true(llm_sse_pending(&s));
	llm_sse_feed(&s, LIT("\n"), log_cb, &l);
	assert_true(llm_sse_pending(&s));
	llm_sse_feed(&s, LIT("\n"), log_cb, &l);
	assert_false(llm_sse_pending(&s));
	assert_int_equal(l.n, 1);
	llm_sse_feed(&s, LIT(": comment\n"), log_cb, &l);
	assert_false(llm_sse_pending(&s));
	llm_sse_free(&s);
}

static void size_cb(void *ctx, const struct llm_sse_event *ev)
{
	size_t *got = ctx;

	*got = ev->data_len;
	if (!ev->skipped)
		for (size_t i = 0; i < ev->data_len; i++)
			assert_int_equal(ev->data[i], 'z');
}

/* A large event fed in pieces arrives intact at the cap, is skipped one byte over it, and its
 * buffer is released afterwards. */
static void test_large_events(void **state)
{
	size_t n = 200000, got = 0;
	char *in = malloc(n + 16);
	struct llm_sse s;

	assert_non_null(in);
	memcpy(in, "data: ", 6);
	memset(in + 6, 'z', n);
	memcpy(in + 6 + n, "\n\n", 2);
	for (int round = 0; round < 2; round++) {
		llm_sse_init(&s, round == 0 ? n : n - 1);
		for (size_t off = 0; off < n + 8; off += 4096)
			llm_sse_feed(&s, in + off, n + 8 - off < 4096 ? n + 8 - off : 4096, size_cb,
				     &got);
		assert_int_equal(got, n);
		assert_int_equal(s.events, 1);
		assert_int_equal(s.skipped_events, round);
		assert_null(s.data); /* released after a large event */
		llm_sse_free(&s);
	}
	free(in);
}

static void test_every_split_same(void **state)
{
	static const char in[] =
	    "\xEF\xBB\xBF: comment\r\n"
	    "event: message_start\r\n"
	    "data: {\"type\":\"message_start\"}\r\n\r\n"
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	    "data: line1\rdata: line2\r\r"
	    "id: 3\nretry: 10\ndata: 0123456789012345678901234567890123456789\n\n"
	    "data\n\n"
	    "event: tail\ndata: [DONE]\n\n"
	    "data: unterminated";
	struct ev_log whole, part;
	struct llm_sse s1, s2;

	parse(LIT(in), 0, 32, &whole, &s1);
	assert_true(llm_sse_pending(&s1));
	for (size_t at = 1; at < sizeof(in) - 1; at++) {
		memset(&part, 0, sizeof(part));
		llm_sse_init(&s2, 32);
		llm_sse_feed(&s2, in, at, log_cb, &part);
		llm_sse_feed(&s2, in + at, sizeof(in) - 1 - at, log_cb, &part);
		assert_string_equal(part.buf, whole.buf);
		assert_int_equal(s2.events, s1.events);
		assert_int_equal(s2.skipped_events, s1.skipped_events);
		assert_true(llm_sse_pending(&s2));
		llm_sse_free(&s2);
	}
	for (size_t piece = 1; piece < 9; piece++) {
		parse(LIT(in), piece, 32, &part, NULL);
		assert_string_equal(part.buf, whole.buf);
	}
	assert_string_equal(whole.buf, "[message_start]{\"type\":\"message_start\"}\n"
				       "[ping]{\"type\": \"ping\"}\n"
				       "[]line1\nline2\n"
				       "[]SKIP(40)\n"
				       "[]\n"
				       "[tail][DONE]\n");
	llm_sse_free(&s1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_events),
	    cmocka_unit_test(test_line_ends_agree),
	    cmocka_unit_test(test_crlf_split_is_one_line_end),
	    cmocka_unit_test(test_field_rules),
	    cmocka_unit_test(test_no_data_no_event),
	    cmocka_unit_test(test_long_event_name_cut),
	    cmocka_unit_test(test_bom),
	    cmocka_unit_test(test_oversized_skipped_and_counted),
	    cmocka_unit_test(test_pending),
	    cmocka_unit_test(test_large_events),
	    cmocka_unit_test(test_every_split_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
